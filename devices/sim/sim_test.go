package sim

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/model"
	"blockprof/model/modeltest"
)

func testSpaces(t testing.TB) *model.Spaces {
	t.Helper()
	return modeltest.Spaces(t)
}

func net(t *testing.T, sp *model.Space, a model.Arch) *model.Network {
	t.Helper()
	n, err := sp.Network(a)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// uniform puts block b at every layer, at depth d in every unit.
func uniform(sp *model.Space, r int, b model.Block) model.Arch {
	a := model.Arch{Space: sp.Name, Resolution: r}
	for _, u := range sp.Units {
		ls := make([]model.Block, u.MaxDepth())
		for i := range ls {
			ls[i] = b
		}
		a.Units = append(a.Units, ls)
	}
	return a
}

func mustResolve(t *testing.T, c devices.SimConfig, runs int) Params {
	t.Helper()
	p, err := Resolve(c, runs)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpsMatchNetworkMACs: without padding, the simulator's operations
// count exactly the network's MACs in every space.
func TestOpsMatchNetworkMACs(t *testing.T) {
	ss := testSpaces(t)
	p := mustResolve(t, devices.SimConfig{}, 0)
	for _, name := range ss.Names() {
		sp, _ := ss.Get(name)
		rng := model.NewRand(7)
		for i := 0; i < 10; i++ {
			n := net(t, sp, sp.Sample(rng, sp.Resolutions[i%len(sp.Resolutions)]))
			var macs int64
			for _, lc := range p.Layers(n) {
				macs += lc.MACs
				if lc.Ms <= 0 || (lc.Bound != "compute" && lc.Bound != "memory") {
					t.Fatalf("%s %s: %+v", n.Arch, lc.Layer, lc)
				}
			}
			if macs != n.MACs() {
				t.Fatalf("%s: ops count %d MACs, network %d", n.Arch, macs, n.MACs())
			}
		}
	}
}

func TestDeterminism(t *testing.T) {
	ss := testSpaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	rng := model.NewRand(1)
	var nets []*model.Network
	for i := 0; i < 6; i++ {
		nets = append(nets, net(t, sp, sp.Sample(rng, 224)))
	}
	open := func(c devices.SimConfig, repeat int) *Device {
		d, err := Open(devices.Config{Name: "s", Kind: "sim", Repeat: repeat, Sim: c})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	measure := func(d *Device, n *model.Network) []float64 {
		m, err := d.Measure(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		return m.SamplesMs
	}

	t.Run("no noise", func(t *testing.T) {
		d := open(devices.SimConfig{Preset: "npu"}, 0)
		for _, n := range nets {
			s := measure(d, n)
			if len(s) != 1 || s[0] != d.Params().Latency(n) || s[0] <= 0 {
				t.Fatalf("%v", s)
			}
			if again := measure(d, n); !slices.Equal(again, s) {
				t.Fatalf("re-measure %v vs %v", again, s)
			}
		}
	})
	t.Run("noise is reproducible in any order", func(t *testing.T) {
		a, b := open(devices.SimConfig{Noise: 0.1, Seed: 5}, 0), open(devices.SimConfig{Noise: 0.1, Seed: 5}, 0)
		fwd := map[string][]float64{}
		for _, n := range nets {
			fwd[n.Arch] = measure(a, n)
		}
		for i := len(nets) - 1; i >= 0; i-- {
			if got := measure(b, nets[i]); !slices.Equal(got, fwd[nets[i].Arch]) {
				t.Fatalf("order changed the samples of %s", nets[i].Arch)
			}
		}
		s := fwd[nets[0].Arch]
		if len(s) != 10 {
			t.Fatalf("%d samples, want 10 by default with noise", len(s))
		}
		base := a.Params().Latency(nets[0])
		distinct := map[float64]bool{}
		for _, x := range s {
			distinct[x] = true
			if x <= 0 || math.Abs(math.Log(x/base)) > 0.6 { // 6 sigma
				t.Fatalf("sample %v far from %v", x, base)
			}
		}
		if len(distinct) < 9 {
			t.Fatalf("noisy samples repeat: %v", s)
		}
		if again := measure(a, nets[0]); slices.Equal(again, s) {
			t.Error("a re-measurement repeated the same noise")
		}
		c := open(devices.SimConfig{Noise: 0.1, Seed: 6}, 3)
		if got := measure(c, nets[0]); len(got) != 3 || got[0] == s[0] {
			t.Errorf("seed 6 with repeat 3: %v", got)
		}
	})
}

// TestKernelPenalty: a kernel-7 factor makes an all-k7 network slower
// relative to an all-k5 one than without it, and leaves k5 alone.
func TestKernelPenalty(t *testing.T) {
	ss := testSpaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	k7 := net(t, sp, uniform(sp, 224, model.Block{K: 7, E: 4}))
	k5 := net(t, sp, uniform(sp, 224, model.Block{K: 5, E: 4}))
	plain := mustResolve(t, devices.SimConfig{}, 0)
	npu := mustResolve(t, devices.SimConfig{KernelFactor: map[string]float64{"7": 3}}, 0)
	if plain.Latency(k5) != npu.Latency(k5) {
		t.Errorf("k5 network changed: %v vs %v", plain.Latency(k5), npu.Latency(k5))
	}
	rPlain, rNPU := plain.Latency(k7)/plain.Latency(k5), npu.Latency(k7)/npu.Latency(k5)
	if !(rNPU > rPlain && npu.Latency(k7) > plain.Latency(k7)) {
		t.Errorf("k7/k5: %.3f with the penalty, %.3f without", rNPU, rPlain)
	}
	pre := mustResolve(t, devices.SimConfig{Preset: "npu"}, 0)
	if pre.Latency(k7) < 1.3*pre.Latency(k5) {
		t.Errorf("npu preset: k7 %.2f ms vs k5 %.2f ms: kernel 7 should be distinctly unfriendly", pre.Latency(k7), pre.Latency(k5))
	}
}

// TestTemplatePenalty: with a 224 template R224 beats R208 and R192 (as on
// the paper's NPU); without one, larger inputs cost more.
func TestTemplatePenalty(t *testing.T) {
	ss := testSpaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	arch := func(r int) *model.Network {
		a := sp.Sample(model.NewRand(9), r)
		return net(t, sp, a)
	}
	tests := []struct {
		name    string
		cfg     devices.SimConfig
		fasterR int // faster than the other two
	}{
		{"template 224", devices.SimConfig{Template: 224, PadFactor: 1.18}, 224},
		{"npu preset", devices.SimConfig{Preset: "npu"}, 224},
		{"no template", devices.SimConfig{}, 192},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustResolve(t, tt.cfg, 0)
			lat := map[int]float64{}
			for _, r := range []int{192, 208, 224} {
				lat[r] = p.Latency(arch(r))
			}
			for r, l := range lat {
				if r != tt.fasterR && !(lat[tt.fasterR] < l) {
					t.Errorf("R%d %.3f ms not faster than R%d %.3f ms", tt.fasterR, lat[tt.fasterR], r, l)
				}
			}
		})
	}
	p := mustResolve(t, devices.SimConfig{Template: 224}, 0)
	for r, want := range map[int]int{160: 224, 224: 224, 225: 448} {
		if got := p.Padded(r); got != want {
			t.Errorf("Padded(%d) = %d, want %d", r, got, want)
		}
	}
}

// TestRoofline: a memory-bound simulator scales with the bandwidth, a
// compute-bound one with the throughput.
func TestRoofline(t *testing.T) {
	ss := testSpaces(t)
	sp, _ := ss.Get("ofa-resnet50")
	n := net(t, sp, sp.MaxArch(224))
	mem := mustResolve(t, devices.SimConfig{GMACs: devices.MaxSimGMACs, GBps: 1, OverheadUs: 0}, 0)
	mem2 := mustResolve(t, devices.SimConfig{GMACs: devices.MaxSimGMACs, GBps: 2, OverheadUs: 0}, 0)
	if r := mem.Latency(n) / mem2.Latency(n); math.Abs(r-2) > 1e-9 {
		t.Errorf("memory bound: doubling bandwidth gives ×%v", r)
	}
	cmp := mustResolve(t, devices.SimConfig{GMACs: 1, GBps: devices.MaxSimGBps, OverheadUs: 0}, 0)
	if got, want := cmp.Latency(n), float64(n.MACs())/1e6; math.Abs(got-want) > 1e-6*want {
		t.Errorf("compute bound: %v ms, want MACs/throughput %v ms", got, want)
	}
	for _, lc := range cmp.Layers(n) {
		if lc.MACs > 0 && lc.Bound != "compute" {
			t.Fatalf("%s bound %s", lc.Layer, lc.Bound)
		}
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		cfg     devices.SimConfig
		runs    int
		check   func(Params) bool
		wantErr string
	}{
		{"defaults", devices.SimConfig{}, 0, func(p Params) bool { return p.GMACs == Default.GMACs && p.Runs == 1 && p.Bytes == 4 }, ""},
		{"preset overridden", devices.SimConfig{Preset: "npu", GMACs: 5, KernelFactor: map[string]float64{"5": 2}}, 4,
			func(p Params) bool {
				return p.GMACs == 5 && p.Template == 224 && p.KernelFactor[7] == 3 && p.KernelFactor[5] == 2 && p.Runs == 4
			}, ""},
		{"preset unchanged", devices.SimConfig{Preset: "npu", KernelFactor: map[string]float64{"7": 1}}, 0,
			func(p Params) bool { return Presets()["npu"].KernelFactor[7] == 3 }, ""},
		{"noise runs", devices.SimConfig{Noise: 0.05}, 0, func(p Params) bool { return p.Runs == 10 }, ""},
		{"unknown preset", devices.SimConfig{Preset: "tpu"}, 0, nil, "preset \"tpu\": want one of cpu, npu"},
		{"bad kernel key", devices.SimConfig{KernelFactor: map[string]float64{"seven": 3}}, 0, nil, "sim.kernel_factor: key \"seven\""},
		{"bad factor", devices.SimConfig{KernelFactor: map[string]float64{"7": -1}}, 0, nil, "sim.kernel_factor: 7 = -1 outside (0, 1000]"},
		{"negative gmacs", devices.SimConfig{GMACs: -1}, 0, nil, "sim.gmacs: -1 outside"},
		{"nan gbps", devices.SimConfig{GBps: math.NaN()}, 0, nil, "sim.gbps: NaN outside"},
		{"noise", devices.SimConfig{Noise: 2}, 0, nil, "sim.noise: 2 outside [0, 1]"},
		{"template", devices.SimConfig{Template: -224}, 0, nil, "sim.template: -224 outside 0..1024"},
		{"bytes", devices.SimConfig{Bytes: 16}, 0, nil, "sim.bytes: 16 outside 0..8"},
		{"overhead", devices.SimConfig{OverheadUs: -3}, 0, nil, "sim.overhead_us: -3 outside"},
		{"pad", devices.SimConfig{PadFactor: -1}, 0, nil, "sim.pad_factor: -1 outside"},
		// Absurd values (issue 13): refused, never taken or defaulted.
		{"huge gmacs", devices.SimConfig{GMACs: 1e308}, 0, nil, "sim.gmacs: 1e+308 outside [0, 1e+07]"},
		{"infinite gbps", devices.SimConfig{GBps: math.Inf(1)}, 0, nil, "sim.gbps: +Inf outside"},
		{"huge template", devices.SimConfig{Template: 100000}, 0, nil, "sim.template: 100000 outside 0..1024"},
		{"even kernel key", devices.SimConfig{KernelFactor: map[string]float64{"8": 2}}, 0, nil, "sim.kernel_factor: key \"8\": want an odd kernel size"},
		{"infinite factor", devices.SimConfig{KernelFactor: map[string]float64{"7": math.Inf(1)}}, 0, nil, "sim.kernel_factor: 7 = +Inf outside"},
		{"negative runs", devices.SimConfig{}, -5, nil, "repeat: -5 outside 0..100000"},
		{"huge runs", devices.SimConfig{}, 2_000_000_000, nil, "repeat: 2000000000 outside 0..100000"},
		{"runs at the bound", devices.SimConfig{}, devices.MaxRepeat, func(p Params) bool { return p.Runs == devices.MaxRepeat }, ""},
		{"numbers at their bounds", devices.SimConfig{GMACs: devices.MaxSimGMACs, GBps: devices.MaxSimGBps, OverheadUs: devices.MaxSimOverheadUs, Template: devices.MaxSimTemplate, PadFactor: devices.MaxSimFactor, Noise: 1, Bytes: devices.MaxSimBytes}, 0,
			func(p Params) bool {
				return p.GMACs == devices.MaxSimGMACs && p.Template == devices.MaxSimTemplate && p.Runs == 10
			}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Resolve(tt.cfg, tt.runs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(p) {
				t.Errorf("params %+v", p)
			}
		})
	}
}

func TestDeviceInfo(t *testing.T) {
	d, err := Open(devices.Config{Name: "sim-npu", Kind: "sim", Sim: devices.SimConfig{Preset: "npu"}})
	if err != nil {
		t.Fatal(err)
	}
	info := d.Info()
	if info.Label != "simulated" || info.Provenance != devices.Simulated || info.Kind != "sim" || info.Local {
		t.Errorf("info %+v", info)
	}
	if !strings.Contains(info.Hardware, "k7 ×3") || !strings.Contains(info.Hardware, "template 224") {
		t.Errorf("hardware %q does not describe the penalties", info.Hardware)
	}
	for in, want := range map[string]string{"": "simulated", "Kirin NPU": "simulated (Kirin NPU)", "simulated (x)": "simulated (x)", "measured": "simulated (measured)"} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
	if _, err := Open(devices.Config{Name: "bad", Sim: devices.SimConfig{GMACs: -1}}); err == nil || !strings.Contains(err.Error(), "device bad") {
		t.Errorf("bad config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Measure(ctx, &model.Network{Arch: "x", Layers: []model.Layer{{Kind: model.LayerGAP}}}); err == nil {
		t.Error("cancelled context: no error")
	}
	if _, err := d.Measure(context.Background(), &model.Network{Arch: "x"}); err == nil {
		t.Error("empty network: no error")
	}
}
