//go:build cgo

package ort

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"blockprof/devices"
	"blockprof/model"
	"blockprof/model/export"
	"blockprof/model/onnx"
	"blockprof/model/onnx/quantize"
)

// Mode is the Measurement.Mode of the ort device.
const Mode = "ort-cpu"

// weightSeed seeds the exported weights; they do not change the latency.
const weightSeed = 1

// Device is the "ort" device: it exports each network to ONNX (model/onnx)
// and times it on this machine's CPU with ONNX Runtime, following the
// measurement protocol of package devices. Its numbers are measured.
type Device struct {
	name     string
	rt       *Runtime
	opts     Options
	protocol devices.Protocol
	timeout  time.Duration
	lock     *devices.HostLock
	info     devices.Info
	// model is what each network is written as: ONNX in the device's
	// precision (int8: QDQ, calibrated on random inputs, 7-bit weights
	// where quantize.ReduceRangeAdvised says this CPU needs them).
	model export.Request
	// tmpDir holds the device's work directory (os.TempDir(), so
	// $TMPDIR); work is made on first use (workMu) and removed by Close.
	tmpDir string
	// memDir, if set, is a directory in memory (a tmpfs: memoryDir) the
	// work directory goes to first. Sessions run on the weight file's
	// pages as ONNX Runtime maps them; with the file on a disk's file
	// system the timed runs spiked more often and the probe-corrected
	// repeatability fell to 0.72-0.83, from a tmpfs it was 0.73-0.95
	// (median 0.91, as with plain models). Why is not known
	// (docs/benchmarks.md, ninth pass).
	memDir string
	workMu sync.Mutex
	work   *workDir
	// prelay says, per space, whether models are written pre-laid in
	// ONNX Runtime's NCHWc form (prelayer).
	prelay prelayer
	// checks remembers the pre-layout checks that passed on this machine
	// (the user's cache directory), so that a later run skips them.
	checks passedChecks

	// probeMu guards the probe session, made on first use and kept for the
	// device's life (one session, so its own layout is a constant factor).
	probeMu sync.Mutex
	probe   *Session

	// cores says whether the next arch is prepared while one is timed
	// (planCores); prep is the preparation in flight or done, if any.
	cores  corePlan
	prepMu sync.Mutex
	prep   *prepared
}

// prepared is a session made ahead of its Measure on the prepare cores.
type prepared struct {
	arch   string
	cancel context.CancelFunc
	done   chan struct{} // closed when sess and err are set
	sess   *Session
	err    error
}

// New opens the ort device that cfg describes: it finds and loads the
// library (cfg.Library, $ONNXRUNTIME_LIB, then the cache copy of
// scripts/setup-ort.sh) and checks the settings. lock is the process's host
// lock, shared with every other local device (nil: no serialisation).
func New(cfg devices.Config, lock *devices.HostLock) (*Device, error) {
	if cfg.Kind != "" && cfg.Kind != "ort" {
		return nil, fmt.Errorf("device %s: kind %q is not ort", cfg.Name, cfg.Kind)
	}
	opts := Options{IntraOpThreads: cfg.Threads, InterOpThreads: 1, Optimization: cfg.Optimization, Batch: cfg.Batch, SharedArena: true}
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	if opts.Optimization == "" {
		opts.Optimization = "all"
	}
	opts.Batch = int(opts.batch())
	_, protocol, timeout, err := cfg.Timing()
	if err != nil {
		return nil, err
	}
	if cfg.Format != "" && cfg.Format != "onnx" {
		return nil, fmt.Errorf("device %s: format: %q: an ort device times ONNX models (remove the key or set it to \"onnx\")", cfg.Name, cfg.Format)
	}
	precision := cfg.Precision
	if precision == "" {
		precision = "fp32"
	}
	req := export.Request{Format: "onnx", Precision: precision, Seed: weightSeed, Batch: opts.Batch}
	req.ReduceRange = precision == "int8" && quantize.ReduceRangeAdvised()
	path, err := FindLibrary(cfg.Library)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	rt, err := Load(path)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	host, _ := os.Hostname()
	d := &Device{name: cfg.Name, rt: rt, opts: opts, protocol: protocol, timeout: timeout, lock: lock, model: req, tmpDir: os.TempDir(), memDir: memoryDir()}
	if precision == "fp32" && opts.Optimization == "all" {
		d.prelay.block = nchwcBlock()
	}
	d.checks = defaultPassedChecks()
	if cores, err := usableCores(); err == nil {
		d.cores = planCores(cores, opts.IntraOpThreads)
	} else {
		d.cores = corePlan{timing: -1}
	}
	d.info = devices.Info{
		Name:       cfg.Name,
		Kind:       "ort",
		Host:       host,
		Runtime:    "onnxruntime",
		Version:    rt.Version(),
		Hardware:   cpuModel(),
		Threads:    opts.IntraOpThreads,
		Precision:  precision,
		Format:     "onnx",
		Batch:      opts.Batch,
		Mode:       fmt.Sprintf("%s, %s, optimization %s, %s%s", Mode, precisionLabel(req), opts.Optimization, threadsLabel(opts.IntraOpThreads), probeLabel(protocol.ProbeEvery)),
		Provenance: devices.Measured,
		Label:      string(devices.Measured),
		Local:      true,
	}
	return d, nil
}

// precisionLabel says how the model is written, e.g. "int8 QDQ (7-bit
// weights)".
func precisionLabel(r export.Request) string {
	switch {
	case r.Precision == "int8" && r.ReduceRange:
		return "int8 QDQ (7-bit weights: reduce_range, this CPU has no VNNI)"
	case r.Precision == "int8":
		return "int8 QDQ"
	}
	return r.Precision
}

func probeLabel(every int) string {
	if every == 0 {
		return ""
	}
	return fmt.Sprintf(", probe every %d runs", every)
}

func threadsLabel(n int) string {
	if n == 0 {
		return "default intra-op threads"
	}
	if n == 1 {
		return "1 thread"
	}
	return fmt.Sprintf("%d threads", n)
}

// Name is the device's configured name.
func (d *Device) Name() string { return d.name }

// Info describes the device: ONNX Runtime's version, the CPU, the settings.
func (d *Device) Info() devices.Info { return d.info }

// Check reports what the device found (the library was loaded by New)
// and, for fp32 models (the ones written to files), that the work
// directory can be made.
func (d *Device) Check(ctx context.Context) (devices.Info, error) {
	if err := ctx.Err(); err != nil {
		return devices.Info{}, err
	}
	if d.model.Precision == "fp32" {
		if _, err := d.workDir(); err != nil {
			return devices.Info{}, fmt.Errorf("device %s: %w", d.name, err)
		}
	}
	return d.info, nil
}

// Measure exports net, loads it in ONNX Runtime and times it with the
// device's protocol. The host lock is held from the export to the last run
// so that no other local device times while this one uses the cores (and
// released at the deadline; the error then wraps devices.ErrStalledHost);
// only Session.Run is inside the timed window. The measurement is bounded
// by the device's timeout and returns promptly when ctx ends.
func (d *Device) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, d.timeout, errTimeout)
	defer cancel()
	held, err := d.lock.Hold(ctx)
	if err != nil {
		return devices.Measurement{}, d.ctxErr(ctx, net, "waiting for the host lock", err)
	}
	defer held.Release()
	m, err := d.measure(ctx, net)
	return m, held.Stalled(err)
}

func (d *Device) measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	t0 := time.Now()
	sess, err := d.take(ctx, net)
	if sess == nil && err == nil {
		sess, err = d.open(ctx, net)
	}
	prepare := time.Since(t0)
	if err != nil {
		if ctx.Err() != nil {
			return devices.Measurement{}, d.ctxErr(ctx, net, "after the export", err)
		}
		return devices.Measurement{}, fmt.Errorf("device %s: %s: %w", d.name, net.Arch, err)
	}
	defer sess.Close()
	var probe func() error
	if d.protocol.ProbeEvery > 0 {
		d.probeMu.Lock()
		defer d.probeMu.Unlock()
		if d.probe == nil {
			if d.probe, err = d.newProbe(); err != nil {
				return devices.Measurement{}, fmt.Errorf("device %s: %w", d.name, err)
			}
		}
		probe = func() error { return d.probe.Run(ctx) }
	}
	if d.cores.pipelined() {
		// The next arch may be prepared on the other cores meanwhile.
		unpin, err := pin([]int{d.cores.timing})
		if err != nil {
			return devices.Measurement{}, fmt.Errorf("device %s: %w", d.name, err)
		}
		defer unpin()
	}
	// What the sessions before this one freed is reused while it is built
	// (malloc_glibc.go); the rest goes back to the system before it runs.
	d.rt.heap.beforeRuns()
	m, err := d.protocol.Time(ctx, nil, func() error { return sess.Run(ctx) }, probe)
	if err != nil {
		if ctx.Err() != nil {
			return devices.Measurement{}, d.ctxErr(ctx, net, "while timing", err)
		}
		return devices.Measurement{}, fmt.Errorf("device %s: %s: %w", d.name, net.Arch, err)
	}
	m.Mode = Mode
	m.PrepareMs = float64(prepare) / float64(time.Millisecond)
	if d.model.Precision != "fp32" {
		m.Mode += " " + d.model.Precision
	}
	return m, nil
}

// open exports net and loads it in a session. An fp32 model is written to
// a file of the device's work directory with its weights as windows of the
// directory's weight file (onnx.WriteExternal), and ONNX Runtime reads the
// one and maps the other, so neither is in this process's memory while
// ONNX Runtime builds the session (docs/benchmarks.md, issue 14). ctx is
// checked between the two.
func (d *Device) open(ctx context.Context, net *model.Network) (*Session, error) {
	if p := d.model.Precision; p != "" && p != "fp32" {
		// fp16 and int8 are converted from the fp32 graph in memory
		// (model/export), so they are loaded from there.
		data, err := export.ONNX(ctx, net, d.model)
		if err != nil {
			return nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return d.rt.NewSession(data, d.opts)
	}
	work, err := d.workDir()
	if err != nil {
		return nil, err
	}
	// Batch normalisation comes folded into the convs, as ONNX Runtime
	// folds it from level basic on (TestFoldBNIsWhatORTRuns): the same
	// graph is timed, and ONNX Runtime makes one copy of the weights less.
	// At level all the graph comes in the NCHWc form ONNX Runtime would
	// rewrite it into (prelayer, TestPrelaidIsWhatORTRuns): again the same
	// graph, built in half the time without the rewrite's weight copies.
	eo := onnx.Options{Seed: d.model.Seed, Batch: d.opts.Batch, FoldBN: d.opts.Optimization != "disable"}
	if d.prelay.use(ctx, net, func() error { return work.samePrelaid(ctx, d.rt, net, eo, d.opts, d.checks, d.prelay.block) }) {
		eo.Rewrite = prelayOrPlain(d.prelay.block)
	}
	return work.load(ctx, d.rt, net, eo, d.opts)
}

// Prelaid reports the spaces whose models the device has decided to write
// pre-laid in NCHWc (nil) or plain (why), and whether it pre-lays at all
// with its settings on this CPU.
func (d *Device) Prelaid() (on bool, spaces map[string]error) {
	return d.prelay.block > 0, d.prelay.state()
}

// load writes net with export options eo to a model file of w, its
// weights as windows of w's weight file (onnx.WriteExternal), and loads
// it in a session of rt with so; ctx is checked between the two.
func (w *workDir) load(ctx context.Context, rt *Runtime, net *model.Network, eo onnx.Options, so Options) (*Session, error) {
	f, done, err := w.modelFile()
	if err != nil {
		return nil, err
	}
	defer done()
	m, err := onnx.WriteExternal(f, net, eo, w.weights)
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		// Writing the model or growing the weight file failed.
		return nil, fmt.Errorf("%w (in %s: set TMPDIR to a writable directory with room for it)", err, w.path)
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return rt.NewSessionFile(f.Name(), m.Inputs, m.Outputs, so)
}

// workDir returns the device's work directory, making it on first use.
func (d *Device) workDir() (*workDir, error) {
	d.workMu.Lock()
	defer d.workMu.Unlock()
	if d.work == nil {
		var w *workDir
		if d.memDir != "" {
			if w, _ = newWorkDir(d.memDir, d.model.Seed); w != nil {
				// What a crash left in $TMPDIR goes too.
				removeStaleWorkDirs(d.tmpDir)
			}
		}
		if w == nil {
			var err error
			if w, err = newWorkDir(d.tmpDir, d.model.Seed); err != nil {
				return nil, err
			}
		}
		d.work = w
	}
	return d.work, nil
}

// Prepare starts exporting net and creating its session on the prepare
// cores, for the Measure of the same arch that follows; it returns at
// once. On a serial core plan (fewer than pipelineCores usable cores, or
// more than one intra-op thread) it does nothing. A preparation not yet
// taken is discarded.
func (d *Device) Prepare(ctx context.Context, net *model.Network) {
	if !d.cores.pipelined() {
		return
	}
	d.prepMu.Lock()
	defer d.prepMu.Unlock()
	d.dropLocked()
	ctx, cancel := context.WithCancel(ctx)
	p := &prepared{arch: net.Arch, cancel: cancel, done: make(chan struct{})}
	d.prep = p
	go func() {
		defer close(p.done)
		unpin, err := pin(d.cores.prepare)
		if err != nil {
			p.err = err
			return
		}
		defer unpin()
		p.sess, p.err = d.open(ctx, net)
	}()
}

// take returns the session prepared for net's arch, waiting for it, or
// nil and no error when none was prepared.
func (d *Device) take(ctx context.Context, net *model.Network) (*Session, error) {
	d.prepMu.Lock()
	p := d.prep
	if p == nil || p.arch != net.Arch {
		d.prepMu.Unlock()
		return nil, nil
	}
	d.prep = nil
	d.prepMu.Unlock()
	select {
	case <-p.done:
	case <-ctx.Done():
		p.cancel()
		<-p.done // open returns soon after its context ends
		if p.sess != nil {
			p.sess.Close()
		}
		return nil, ctx.Err()
	}
	p.cancel()
	return p.sess, p.err
}

// dropLocked discards the preparation in flight or not taken; d.prepMu is
// held.
func (d *Device) dropLocked() {
	p := d.prep
	if p == nil {
		return
	}
	d.prep = nil
	p.cancel()
	<-p.done
	if p.sess != nil {
		p.sess.Close()
	}
}

// errTimeout is the cause of a context ended by the device timeout.
var errTimeout = errors.New("device timeout")

// ctxErr explains a measurement that ctx ended; the result wraps err.
func (d *Device) ctxErr(ctx context.Context, net *model.Network, when string, err error) error {
	if errors.Is(context.Cause(ctx), errTimeout) {
		return fmt.Errorf("device %s: %s: no result within the device timeout %v (%s; raise `timeout` in its [[devices]] entry): %w",
			d.name, net.Arch, d.timeout, when, err)
	}
	return fmt.Errorf("device %s: %s: stopped %s: %w", d.name, net.Arch, when, err)
}

// newProbe loads the probe network (ProbeNetwork) in a session.
func (d *Device) newProbe() (*Session, error) {
	net, err := ProbeNetwork()
	if err != nil {
		return nil, err
	}
	s, err := d.open(context.Background(), net)
	if err != nil {
		return nil, fmt.Errorf("probe network: %w", err)
	}
	// Its warm-up, once: the session lives as long as the device.
	for range probeWarmup {
		if err := s.Run(context.Background()); err != nil {
			s.Close()
			return nil, fmt.Errorf("probe network: warm-up: %w", err)
		}
	}
	return s, nil
}

// probeWarmup is the number of untimed runs of a new probe session.
const probeWarmup = 2

// Close releases the probe session and removes the work directory; other
// sessions live for one measurement and the runtime for the process.
func (d *Device) Close() error {
	d.prepMu.Lock()
	d.dropLocked()
	d.prepMu.Unlock()
	var errs []error
	d.probeMu.Lock()
	if d.probe != nil {
		errs = append(errs, d.probe.Close())
		d.probe = nil
	}
	d.probeMu.Unlock()
	d.workMu.Lock()
	if d.work != nil {
		errs = append(errs, d.work.Close())
		d.work = nil
	}
	d.workMu.Unlock()
	return errors.Join(errs...)
}

// cpuModel is the CPU's model name and logical core count (best effort).
func cpuModel() string {
	cores := fmt.Sprintf("%d logical cores", runtime.NumCPU())
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH + ", " + cores
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v) + ", " + cores
		}
	}
	return runtime.GOARCH + ", " + cores
}

var (
	_ devices.Device   = (*Device)(nil)
	_ devices.Checker  = (*Device)(nil)
	_ devices.Preparer = (*Device)(nil)
)
