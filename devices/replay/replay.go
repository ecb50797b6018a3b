package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/model"
)

// Meta is the machine description recorded beside a file
// (../shared/data/h100-meta.json).
type Meta struct {
	GPU        string `json:"gpu"`
	Torch      string `json:"torch"`
	CPU        string `json:"cpu"`
	CPUThreads int    `json:"cpu_threads"`
	Cores      int    `json:"cores"`
	// File is where it was read.
	File string `json:"-"`
}

// FindMeta looks beside the recording at path for PREFIX-meta.json, where
// PREFIX is the file's base name cut at a '-' (longest first): for
// h100-ofa-mbv3-w1.0.jsonl it tries h100-ofa-mbv3-w1.0-meta.json, …,
// h100-meta.json. It returns nil and no error when there is none.
func FindMeta(path string) (*Meta, error) {
	dir, base := filepath.Split(path)
	base = strings.TrimSuffix(base, filepath.Ext(base))
	for p := base; p != ""; {
		file := filepath.Join(dir, p+"-meta.json")
		data, err := os.ReadFile(file)
		if err == nil {
			var m Meta
			if err := json.Unmarshal(data, &m); err != nil {
				return nil, fmt.Errorf("%s: %v (want {\"gpu\":...,\"torch\":...,\"cpu\":...,\"cpu_threads\":N})", file, err)
			}
			m.File = file
			return &m, nil
		}
		i := strings.LastIndexByte(p, '-')
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return nil, nil
}

// keyInfo reads the conventions of the shared data's keys
// ("gpu-b1-fp32-graph", "cpu-b1-fp32"): the target, batch, precision and
// mode. Unknown tokens are ignored.
func keyInfo(key string) (cpu bool, batch int, precision, mode string) {
	for _, tok := range strings.Split(key, "-") {
		switch {
		case tok == "cpu":
			cpu = true
		case tok == "graph":
			mode = "cuda-graph"
		case tok == "eager":
			mode = "eager"
		case strings.HasPrefix(tok, "fp") || strings.HasPrefix(tok, "int") || tok == "bf16":
			precision = tok
		case len(tok) > 1 && tok[0] == 'b':
			if n, err := strconv.Atoi(tok[1:]); err == nil && n > 0 {
				batch = n
			}
		}
	}
	return
}

// Device replays one latency key of a recording.
type Device struct {
	name string
	key  string
	rec  *Recording
	info devices.Info
}

// Open loads the recording at path (already resolved against the config's
// directory) for cfg (kind "replay"; cfg.Key names the latency_ms entry).
func Open(cfg devices.Config, path string, spaces *model.Spaces) (*Device, error) {
	if path == "" {
		return nil, fmt.Errorf("device %s: kind replay needs file = \"recording.jsonl\" (see ../shared/data/README.md)", cfg.Name)
	}
	if cfg.Key == "" {
		return nil, fmt.Errorf("device %s: kind replay needs key = \"...\", a latency_ms entry of %s (e.g. gpu-b1-fp32-graph)", cfg.Name, path)
	}
	rec, err := Load(path, spaces)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	meta, err := FindMeta(path)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	return New(cfg, rec, meta)
}

// New makes a device of an already loaded recording; meta may be nil.
func New(cfg devices.Config, rec *Recording, meta *Meta) (*Device, error) {
	if !slices.Contains(rec.Keys(), cfg.Key) {
		return nil, fmt.Errorf("device %s: %s has no latency_ms.%s in any record (keys there: %s)", cfg.Name, rec.File, cfg.Key, strings.Join(rec.Keys(), ", "))
	}
	cpu, batch, precision, mode := keyInfo(cfg.Key)
	info := devices.Info{Name: cfg.Name, Kind: "replay", Batch: batch, Precision: precision, Mode: mode, Provenance: devices.Replayed}
	hw := ""
	if meta != nil {
		// The recording machine's descriptions, safe to print (safetext).
		info.Runtime, info.Version = "torch", safetext.Line(meta.Torch)
		hw = safetext.Line(meta.GPU)
		if cpu {
			hw, info.Threads = safetext.Line(meta.CPU), meta.CPUThreads
		}
	}
	info.Hardware = hw
	switch {
	case cfg.Label != "":
		info.Label = Label(cfg.Label)
	case hw != "":
		info.Label = "replayed (" + hw + ", recorded)"
	default:
		info.Label = "replayed (" + filepath.Base(rec.File) + ")"
	}
	return &Device{name: cfg.Name, key: cfg.Key, rec: rec, info: info}, nil
}

// Label makes a configured label honest: it always starts with "replayed".
func Label(l string) string {
	if strings.HasPrefix(l, string(devices.Replayed)) {
		return l
	}
	return "replayed (" + l + ")"
}

// Name is the configured name.
func (d *Device) Name() string { return d.name }

// Info describes the recording.
func (d *Device) Info() devices.Info { return d.info }

// Recording is the loaded file.
func (d *Device) Recording() *Recording { return d.rec }

// Archs lists the archs recorded with this device's key, in file order.
func (d *Device) Archs() []model.Arch { return d.rec.Archs(d.key) }

// Plan lists the archs of sp recorded with this device's key, in file
// order, each with the whole-unit fix of its "fixed" entry (nil for a
// uniform arch): the only archs this device can measure. A recording with
// none of them is an error.
func (d *Device) Plan(sp *model.Space) ([]model.PlanItem, error) {
	var out []model.PlanItem
	for _, r := range d.rec.Records {
		if _, ok := r.LatencyMs[d.key]; !ok || r.Arch.Space != sp.Name {
			continue
		}
		var fixed []float64
		if len(r.Fixed) > 0 {
			if err := json.Unmarshal(r.Fixed, &fixed); err != nil {
				return nil, fmt.Errorf("replay %s: %s:%d: fixed %s: %v (want null, [unit, k, e] or [unit, e])", d.name, d.rec.File, r.Line, r.Fixed, err)
			}
		}
		fix, err := sp.UnitFix(r.Arch, fixed)
		if err != nil {
			return nil, fmt.Errorf("replay %s: %s:%d: %w", d.name, d.rec.File, r.Line, err)
		}
		out = append(out, model.PlanItem{Arch: r.Arch, Fix: fix})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("replay %s: %s holds no arch of space %s with latency_ms.%s: profile the recording's space (--space), or use another file",
			d.name, d.rec.File, sp.Name, d.key)
	}
	return out, nil
}

// Check reports the recording's description; the file was read at Open.
func (d *Device) Check(ctx context.Context) (devices.Info, error) {
	if err := ctx.Err(); err != nil {
		return devices.Info{}, err
	}
	return d.info, nil
}

// Measure returns the recorded median, min and max of net.Arch as summary
// samples. An arch not in the file, or recorded without this key, is an
// error; so is a network whose MACs differ from the recorded ones (the
// configured space is not the recording's).
func (d *Device) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	if err := ctx.Err(); err != nil {
		return devices.Measurement{}, err
	}
	r, ok := d.rec.Lookup(net.Arch)
	if !ok {
		return devices.Measurement{}, fmt.Errorf("replay %s: arch %s is not in %s (%d archs recorded; replay only measures those)",
			d.name, net.Arch, d.rec.File, len(d.rec.Records))
	}
	s, ok := r.LatencyMs[d.key]
	if !ok {
		return devices.Measurement{}, fmt.Errorf("replay %s: %s:%d records arch %s without latency_ms.%s", d.name, d.rec.File, r.Line, net.Arch, d.key)
	}
	if r.MACs > 0 {
		if m := net.MACs(); m != r.MACs {
			return devices.Measurement{}, fmt.Errorf("replay %s: %s:%d records %d MACs for %s but the configured space gives %d: the space definition differs from the recording's",
				d.name, d.rec.File, r.Line, r.MACs, net.Arch, m)
		}
	}
	mode := d.info.Mode
	if mode == "" {
		mode = d.key
	}
	return devices.Measurement{
		SamplesMs: []float64{s.Median, s.Min, s.Max},
		Mode:      mode,
		Summary:   true,
		Raw:       fmt.Sprintf("%s:%d latency_ms.%s median=%g min=%g max=%g n=%d", d.rec.File, r.Line, d.key, s.Median, s.Min, s.Max, s.N),
	}, nil
}

// Close does nothing: the recording is in memory.
func (d *Device) Close() error { return nil }
