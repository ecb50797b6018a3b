package session

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/devices/ort"
	"blockprof/engine/config"
	"blockprof/engine/stats"
	"blockprof/model"
)

// Bench opens the configured devices for work that needs no store: one
// measurement (`measure`), a check (`devices --check`), the block-wise
// response (`blockwise`). A Session opens its devices through one too. Every
// device it opens shares its host lock, so local devices never time at
// once; Close closes them.
type Bench struct {
	cfg  *config.Config
	dir  string
	lock *devices.HostLock
	open Opener
	now  func() time.Time

	mu     sync.Mutex
	opened map[string]devices.Device
}

// NewBench prepares to open cfg's devices with open (nil: backends.Open).
func NewBench(cfg *config.Config, open Opener) *Bench {
	b := &Bench{cfg: cfg, lock: devices.NewHostLock(), open: open, now: time.Now, opened: map[string]devices.Device{}}
	if b.open == nil {
		b.open = backends.Open
	}
	if cfg.File != config.EmbeddedName {
		b.dir = backends.DirOf(cfg.File)
	}
	return b
}

// Options are what every device is opened with: the bench's host lock,
// paths relative to the config file.
func (b *Bench) Options() backends.Options {
	return backends.Options{Lock: b.lock, Dir: b.dir, Spaces: b.cfg.Spaces}
}

// Device opens (once) and returns a configured device ("" for the first
// configured one).
func (b *Bench) Device(ctx context.Context, name string) (devices.Device, devices.Config, error) {
	var dc devices.Config
	var err error
	switch {
	case name != "":
		if dc, err = b.cfg.Device(name); err != nil {
			return nil, dc, err
		}
	case len(b.cfg.Devices) > 0:
		dc = b.cfg.Devices[0]
	default:
		return nil, dc, fmt.Errorf("%s configures no device: add a [[devices]] table", b.cfg.File)
	}
	b.mu.Lock()
	d, ok := b.opened[dc.Name]
	b.mu.Unlock()
	if ok {
		return d, dc, nil
	}
	d, err = b.open(ctx, dc, b.Options())
	if err != nil {
		return nil, dc, err // the backends name the device
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.opened[dc.Name]; ok { // opened meanwhile
		_ = d.Close()
		return old, dc, nil
	}
	b.opened[dc.Name] = d
	return d, dc, nil
}

// Close closes every device the bench opened.
func (b *Bench) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var errs []error
	for name, d := range b.opened {
		if err := d.Close(); err != nil {
			errs = append(errs, fmt.Errorf("device %s: %w", name, err))
		}
	}
	b.opened = map[string]devices.Device{}
	return errors.Join(errs...)
}

// Measured is one measurement of one arch, with what the device said of
// itself.
type Measured struct {
	Device string
	Info   devices.Info
	Arch   model.Arch
	Net    *model.Network
	devices.Measurement
	// Wall is the whole measurement: warm-up, timed runs, the device's
	// own overhead.
	Wall time.Duration
}

// Measure times one arch of sp on the device within its timeout. A device
// that reports no provenance is an error: its numbers could be anything.
func (b *Bench) Measure(ctx context.Context, device string, sp *model.Space, a model.Arch) (Measured, error) {
	d, dc, err := b.Device(ctx, device)
	if err != nil {
		return Measured{}, fmt.Errorf("device %s: %w", dc.Name, err)
	}
	timeout, err := dc.MeasureTimeout()
	if err != nil {
		return Measured{}, err
	}
	// The network is expanded before the device starts timing.
	net, err := sp.Network(a)
	if err != nil {
		return Measured{}, err
	}
	info := d.Info()
	if info.Provenance == "" {
		return Measured{}, fmt.Errorf("device %s reported no provenance (kind %s): its backend must say whether its numbers are measured, replayed, table or simulated", dc.Name, dc.Kind)
	}
	mctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := b.now()
	m, err := d.Measure(mctx, net)
	wall := b.now().Sub(t0)
	if err != nil {
		if errors.Is(mctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return Measured{}, fmt.Errorf("device %s: no result within the %v timeout (raise `timeout` in its [[devices]] table): %w", dc.Name, timeout, err)
		}
		return Measured{}, fmt.Errorf("device %s: %w", dc.Name, err)
	}
	if len(m.SamplesMs) == 0 {
		return Measured{}, fmt.Errorf("device %s returned no samples for %s", dc.Name, a)
	}
	if v := stats.Median(m.SamplesMs); v != v {
		return Measured{}, fmt.Errorf("device %s returned no usable samples for %s", dc.Name, a)
	}
	return Measured{Device: d.Name(), Info: info, Arch: a, Net: net, Measurement: m, Wall: wall}, nil
}

// Check is what `devices --check` found for one device.
type Check struct {
	OK    bool
	Info  *devices.Info
	Error string
	// Measured is the plan space's smallest arch measured once, for
	// devices without their own check.
	Measured *Measured
}

// Check opens a device and runs its own check (devices.Checker), or
// measures the plan space's smallest arch once, within the device's
// timeout. Failures are reported in the result, not returned.
func (b *Bench) Check(ctx context.Context, device string) Check {
	fail := func(err error) Check { return Check{Error: err.Error()} }
	dc, err := b.cfg.Device(device)
	if err != nil {
		return fail(err)
	}
	timeout, err := dc.MeasureTimeout()
	if err != nil {
		return fail(err)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	d, _, err := b.Device(cctx, device)
	if err != nil {
		return fail(err)
	}
	if c, ok := d.(devices.Checker); ok {
		info, err := c.Check(cctx)
		if err != nil {
			return fail(err)
		}
		return Check{OK: true, Info: &info}
	}
	info := d.Info()
	res := Check{Info: &info}
	sp, err := b.cfg.Spaces.Get(b.cfg.Plan.Space)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	r := b.cfg.Plan.Resolution
	if r == 0 {
		r = sp.Resolution
	}
	m, err := b.Measure(ctx, device, sp, sp.MinArch(r))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.OK, res.Measured = true, &m
	info = d.Info() // what the measurement found out (a command device's helper)
	return res
}

// DeviceLabel is the label a configured device's numbers will carry, and
// DeviceSettings its settings in one line, without opening it.
func DeviceLabel(c devices.Config) string    { return backends.Label(c) }
func DeviceSettings(c devices.Config) string { return backends.Settings(c) }

// ProbeArch is the speed probe network the ort device times beside each
// arch (devices.Protocol.ProbeEvery).
const ProbeArch = ort.ProbeArch
