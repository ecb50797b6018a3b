// Package sim is an analytic device for what-if studies and deterministic
// tests. Each layer of a network is split into its operations (convs, the
// squeeze-and-excite, pools, adds); an operation costs
// max(MACs / throughput, bytes moved / bandwidth), a K×K conv times the
// kernel factor of K; a layer adds a fixed overhead. Optional penalties model
// an NPU: slow kernel sizes, and resolution templates (an input is padded up
// to the next multiple of the template, and a padded network costs
// PadFactor times more, so R224 beats R208 on a 224-template NPU). Optional
// seeded log-normal noise makes samples vary like a real device's. Its
// numbers are always labelled "simulated".
package sim

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"

	"blockprof/devices"
	"blockprof/model"
)

// Params are the simulator's resolved parameters.
type Params struct {
	// GMACs: compute throughput in 10^9 MAC/s; GBps: memory bandwidth in
	// GB/s; OverheadUs: fixed cost per network layer in µs.
	GMACs, GBps, OverheadUs float64
	// KernelFactor multiplies the time of K×K convolutions (K ≥ 3) by K.
	KernelFactor map[int]float64
	// Template (0: none) and PadFactor (≥ 0; 1 adds nothing but the
	// padded size).
	Template  int
	PadFactor float64
	// Noise is the log-normal sigma of each sample (0: deterministic).
	Noise float64
	Seed  uint64
	// Bytes per tensor element.
	Bytes int
	// Runs is the number of samples per measurement.
	Runs int
}

// Default is used for fields neither the preset nor the config set: a
// plain roofline without overhead or penalties.
var Default = Params{GMACs: 100, GBps: 20, PadFactor: 1, Bytes: 4, Seed: 1}

// Presets are the named parameter sets of [devices.sim] preset = "...".
//
// npu: a Kirin-9000-like NPU (the paper's Da Vinci 2.0): fast 1×1 and
// depthwise 3×3/5×5, kernel 7 three times slower (no built-in
// optimisation), a 224 input template (other resolutions are padded up and
// pay 18%, as the paper's R208/R192 vs R224 table shows), a high per-layer
// overhead and fp16 tensors.
//
// cpu: one mobile CPU core: compute bound, little overhead, no penalties.
func Presets() map[string]Params {
	return map[string]Params{
		"npu": {GMACs: 400, GBps: 12, OverheadUs: 60, KernelFactor: map[int]float64{7: 3}, Template: 224, PadFactor: 1.18, Bytes: 2, Seed: 1},
		"cpu": {GMACs: 12, GBps: 8, OverheadUs: 15, PadFactor: 1, Bytes: 4, Seed: 1},
	}
}

// Resolve merges cfg over its preset over Default and checks the result.
// A zero field of cfg means "not set" and keeps the preset's value (to drop
// a preset's penalty, write the parameters out without the preset). runs is
// the number of samples per measurement (the config's repeat; 0 gives 1
// without noise and 10 with).
func Resolve(cfg devices.SimConfig, runs int) (Params, error) {
	if err := cfg.Validate(); err != nil {
		return Params{}, fmt.Errorf("sim: %w (see [devices.sim] in the commented config.toml)", err)
	}
	if runs < 0 || runs > devices.MaxRepeat {
		return Params{}, fmt.Errorf("sim: repeat: %d outside 0..%d (samples per measurement; 0: 1, or 10 with noise)", runs, devices.MaxRepeat)
	}
	p := Default
	if cfg.Preset != "" {
		pre, ok := Presets()[cfg.Preset]
		if !ok {
			return Params{}, fmt.Errorf("sim: preset %q: want one of %s", cfg.Preset, strings.Join(slices.Sorted(maps.Keys(Presets())), ", "))
		}
		p = pre
	}
	p.KernelFactor = maps.Clone(p.KernelFactor)
	if p.KernelFactor == nil {
		p.KernelFactor = map[int]float64{}
	}
	set := func(dst *float64, v float64) {
		if v != 0 {
			*dst = v
		}
	}
	set(&p.GMACs, cfg.GMACs)
	set(&p.GBps, cfg.GBps)
	set(&p.OverheadUs, cfg.OverheadUs)
	set(&p.PadFactor, cfg.PadFactor)
	set(&p.Noise, cfg.Noise)
	if cfg.Template != 0 {
		p.Template = cfg.Template
	}
	if cfg.Seed != 0 {
		p.Seed = cfg.Seed
	}
	if cfg.Bytes != 0 {
		p.Bytes = cfg.Bytes
	}
	for ks, f := range cfg.KernelFactor {
		k, err := strconv.Atoi(ks)
		if err != nil || k < 1 {
			return Params{}, fmt.Errorf("sim: kernel_factor key %q: want a kernel size like 7", ks)
		}
		p.KernelFactor[k] = f
	}
	p.Runs = runs
	if p.Runs <= 0 {
		p.Runs = 1
		if p.Noise > 0 {
			p.Runs = 10
		}
	}
	return p, p.Validate()
}

// Validate checks the parameters.
func (p Params) Validate() error {
	bad := func(what string) error {
		return fmt.Errorf("sim: %s (see [devices.sim] in the commented config.toml)", what)
	}
	switch {
	case !(p.GMACs > 0 && p.GMACs <= devices.MaxSimGMACs):
		return bad(fmt.Sprintf("gmacs = %v: want a throughput in 10^9 MAC/s, above 0 and at most %g", p.GMACs, devices.MaxSimGMACs))
	case !(p.GBps > 0 && p.GBps <= devices.MaxSimGBps):
		return bad(fmt.Sprintf("gbps = %v: want a bandwidth in GB/s, above 0 and at most %g", p.GBps, devices.MaxSimGBps))
	case !(p.OverheadUs >= 0 && p.OverheadUs <= devices.MaxSimOverheadUs):
		return bad(fmt.Sprintf("overhead_us = %v: want 0 to %g", p.OverheadUs, devices.MaxSimOverheadUs))
	case p.Template < 0 || p.Template > devices.MaxSimTemplate:
		return bad(fmt.Sprintf("template = %d: want 0 (none) or a resolution like 224, at most %d", p.Template, devices.MaxSimTemplate))
	case !(p.PadFactor > 0 && p.PadFactor <= devices.MaxSimFactor):
		return bad(fmt.Sprintf("pad_factor = %v: want above 0 and at most %g", p.PadFactor, devices.MaxSimFactor))
	case !(p.Noise >= 0 && p.Noise <= 1):
		return bad(fmt.Sprintf("noise = %v: want 0 ≤ noise ≤ 1 (a log-normal sigma)", p.Noise))
	case p.Bytes < 1 || p.Bytes > devices.MaxSimBytes:
		return bad(fmt.Sprintf("bytes = %d: want bytes per element, 1 to %d", p.Bytes, devices.MaxSimBytes))
	case p.Runs < 1 || p.Runs > devices.MaxRepeat:
		return bad(fmt.Sprintf("runs = %d: want 1 to %d (the device's repeat)", p.Runs, devices.MaxRepeat))
	}
	for k, f := range p.KernelFactor {
		if !(f > 0 && f <= devices.MaxSimFactor) {
			return bad(fmt.Sprintf("kernel_factor %d = %v: want above 0 and at most %g", k, f, devices.MaxSimFactor))
		}
	}
	return nil
}

// String summarises the parameters for Info.Hardware.
func (p Params) String() string {
	s := fmt.Sprintf("%g GMAC/s, %g GB/s, %g µs/layer", p.GMACs, p.GBps, p.OverheadUs)
	for _, k := range slices.Sorted(maps.Keys(p.KernelFactor)) {
		s += fmt.Sprintf(", k%d ×%g", k, p.KernelFactor[k])
	}
	if p.Template > 0 {
		s += fmt.Sprintf(", template %d (padded ×%g)", p.Template, p.PadFactor)
	}
	if p.Noise > 0 {
		s += fmt.Sprintf(", noise %g", p.Noise)
	}
	return s
}

// Padded is the resolution the simulator runs r at: r rounded up to a
// multiple of the template (r itself without one).
func (p Params) Padded(r int) int {
	if p.Template <= 0 || r <= 0 {
		return r
	}
	return (r + p.Template - 1) / p.Template * p.Template
}

// op is one operation: its MACs, the elements it moves and its kernel size
// (1 for everything that is not a K×K conv).
type op struct {
	macs, elems int64
	k           int
}

// LayerCost is one layer's simulated time.
type LayerCost struct {
	Layer string  `json:"layer"`
	Ms    float64 `json:"ms"`
	MACs  int64   `json:"macs"`
	Bytes int64   `json:"bytes"`
	// Bound says which term dominated most of the layer's time: "compute"
	// or "memory" (overhead aside).
	Bound string `json:"bound"`
}

// Layers simulates each layer of net without noise or the pad factor, at
// the padded resolution.
func (p Params) Layers(net *model.Network) []LayerCost {
	r := p.Padded(net.Resolution)
	h, w := r, r
	if len(net.Layers) > 0 && net.Resolution > 0 {
		// Keep non-square inputs' aspect (the networks here are square).
		h = net.Layers[0].InH * r / net.Resolution
		w = net.Layers[0].InW * r / net.Resolution
	}
	out := make([]LayerCost, 0, len(net.Layers))
	for _, l := range net.Layers {
		oh, ow := spatial(l, h, w)
		ops := layerOps(l, int64(h), int64(w), int64(oh), int64(ow))
		lc := LayerCost{Layer: l.Name}
		var compute, memory float64
		for _, o := range ops {
			c := float64(o.macs) / (p.GMACs * 1e6)
			m := float64(o.elems*int64(p.Bytes)) / (p.GBps * 1e6)
			t := max(c, m)
			if f, ok := p.KernelFactor[o.k]; ok && o.k > 1 {
				t *= f
			}
			if c >= m {
				compute += t
			} else {
				memory += t
			}
			lc.Ms += t
			lc.MACs += o.macs
			lc.Bytes += o.elems * int64(p.Bytes)
		}
		lc.Ms += p.OverheadUs / 1000
		lc.Bound = "memory"
		if compute >= memory {
			lc.Bound = "compute"
		}
		out = append(out, lc)
		h, w = oh, ow
	}
	return out
}

// Latency is the noise-free simulated latency of net in ms.
func (p Params) Latency(net *model.Network) float64 {
	t := 0.0
	for _, lc := range p.Layers(net) {
		t += lc.Ms
	}
	if p.Padded(net.Resolution) != net.Resolution {
		t *= p.PadFactor
	}
	return t
}

// spatial is a layer's output size for an h×w input, by the layer's own
// rule (padding K/2, so (h-1)/stride+1; global pooling to 1×1).
func spatial(l model.Layer, h, w int) (int, int) {
	switch l.Kind {
	case model.LayerGAP:
		return 1, 1
	case model.LayerLinear:
		return 1, 1
	}
	s := max(l.Stride, 1)
	return (h-1)/s + 1, (w-1)/s + 1
}

// layerOps splits a layer into operations with their MACs and moved
// elements (read + written, weights included). Unpadded, the MACs add up to
// the layer's own count.
func layerOps(l model.Layer, h, w, oh, ow int64) []op {
	in, out, mid, k := int64(l.In), int64(l.Out), int64(l.Mid), l.K
	hw, ohw := h*w, oh*ow
	switch l.Kind {
	case model.LayerConv:
		g := int64(max(l.Groups, 1))
		wts := out * (in / g) * int64(k*k)
		ops := []op{{macs: wts * ohw, elems: in*hw + out*ohw + wts, k: k}}
		if l.Residual {
			ops = append(ops, op{elems: 3 * out * ohw, k: 1})
		}
		return ops
	case model.LayerMBConv:
		var ops []op
		if l.Expand {
			ops = append(ops, op{macs: in * mid * hw, elems: in*hw + mid*hw + in*mid, k: 1})
		}
		ops = append(ops, op{macs: mid * int64(k*k) * ohw, elems: mid*hw + mid*ohw + mid*int64(k*k), k: k})
		if se := int64(l.SE); se > 0 {
			ops = append(ops, op{macs: 2 * mid * se, elems: 3*mid*ohw + 2*mid*se, k: 1})
		}
		ops = append(ops, op{macs: mid * out * ohw, elems: mid*ohw + out*ohw + mid*out, k: 1})
		if l.Residual {
			ops = append(ops, op{elems: 3 * out * ohw, k: 1})
		}
		return ops
	case model.LayerBottleneck:
		ops := []op{
			{macs: in * mid * hw, elems: in*hw + mid*hw + in*mid, k: 1},
			{macs: mid * mid * 9 * ohw, elems: mid*hw + mid*ohw + mid*mid*9, k: 3},
			{macs: mid * out * ohw, elems: mid*ohw + out*ohw + mid*out, k: 1},
		}
		if l.Downsample {
			ops = append(ops, op{elems: in*hw + in*ohw, k: 1}, op{macs: in * out * ohw, elems: in*ohw + out*ohw + in*out, k: 1})
		}
		return append(ops, op{elems: 3 * out * ohw, k: 1})
	case model.LayerMaxPool:
		return []op{{elems: in*hw + in*ohw, k: 1}}
	case model.LayerGAP:
		return []op{{elems: in*hw + in, k: 1}}
	case model.LayerLinear:
		// In is the flattened input; scale it with a padded input's area.
		flat := in
		if l.InH*l.InW > 0 {
			flat = in / int64(l.InH*l.InW) * hw
		}
		return []op{{macs: flat * out, elems: flat + out + flat*out, k: 1}}
	}
	return nil
}

// Device is the analytic device.
type Device struct {
	name   string
	params Params
	info   devices.Info

	mu    sync.Mutex
	count map[string]uint64 // measurements so far per arch, for the noise
}

// Label makes a configured label honest: always "simulated", with the
// configured text in brackets.
func Label(l string) string {
	if l == "" || l == string(devices.Simulated) {
		return string(devices.Simulated)
	}
	if strings.HasPrefix(l, string(devices.Simulated)+" (") {
		return l
	}
	return "simulated (" + l + ")"
}

// Open makes a sim device from cfg (kind "sim", its [devices.sim] table,
// repeat as the samples per measurement, label).
func Open(cfg devices.Config) (*Device, error) {
	p, err := Resolve(cfg.Sim, cfg.Repeat)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	return New(cfg.Name, cfg.Label, p)
}

// New makes a sim device with resolved parameters.
func New(name, label string, p Params) (*Device, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("device %s: %w", name, err)
	}
	hw := p.String()
	return &Device{name: name, params: p, count: map[string]uint64{}, info: devices.Info{
		Name: name, Kind: "sim", Runtime: "analytic model", Hardware: hw, Batch: 1,
		Precision: fmt.Sprintf("%d-byte", p.Bytes), Mode: "simulated",
		Provenance: devices.Simulated, Label: Label(label),
	}}, nil
}

// Name is the configured name.
func (d *Device) Name() string { return d.name }

// Info describes the simulator.
func (d *Device) Info() devices.Info { return d.info }

// Params are the resolved parameters.
func (d *Device) Params() Params { return d.params }

// Measure simulates net: Runs samples of the latency, each times a
// log-normal noise factor when Noise > 0. The noise is drawn from the seed,
// the arch and how many times this device has measured it before, so a run
// is reproducible whatever order the archs come in.
func (d *Device) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	if err := ctx.Err(); err != nil {
		return devices.Measurement{}, err
	}
	if len(net.Layers) == 0 {
		return devices.Measurement{}, fmt.Errorf("sim %s: network %s has no layers", d.name, net.Arch)
	}
	t := d.params.Latency(net)
	m := devices.Measurement{SamplesMs: make([]float64, d.params.Runs), Mode: "simulated"}
	if d.params.Noise == 0 {
		for i := range m.SamplesMs {
			m.SamplesMs[i] = t
		}
		return m, nil
	}
	d.mu.Lock()
	n := d.count[net.Arch]
	d.count[net.Arch] = n + 1
	d.mu.Unlock()
	h := fnv.New64a()
	h.Write([]byte(net.Arch))
	rng := rand.New(rand.NewPCG(d.params.Seed, h.Sum64()^(n*0x9e3779b97f4a7c15)))
	for i := range m.SamplesMs {
		m.SamplesMs[i] = t * math.Exp(d.params.Noise*rng.NormFloat64())
	}
	return m, nil
}

// Close does nothing.
func (d *Device) Close() error { return nil }
