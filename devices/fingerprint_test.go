package devices

import (
	"slices"
	"strings"
	"testing"
)

func TestFingerprint(t *testing.T) {
	ortInfo := Info{Name: "cpu", Kind: "ort", Host: "box-1", Runtime: "onnxruntime", Version: "1.22.0", Hardware: "AMD EPYC 7B13",
		Threads: 1, Precision: "fp32", Batch: 1, Mode: "ort-cpu, optimization all, 1 thread", Provenance: Measured, Label: "measured", Local: true}
	tests := []struct {
		name string
		cfg  Config
		info Info
		want string
	}{
		{"ort", Config{Name: "cpu", Kind: "ort", Threads: 1, Optimization: "all", Repeat: 50, ProbeEvery: 10}, ortInfo,
			`kind=ort runtime=onnxruntime/1.22.0 hardware="AMD EPYC 7B13" threads=1 opt=all precision=fp32 batch=1`},
		{"kind from info", Config{Name: "cpu"}, Info{Kind: "sim", Runtime: "analytic model", Batch: 1},
			`kind=sim runtime="analytic model" batch=1`},
		{"runtime without version", Config{Kind: "agent", Transport: "ssh", Host: "gpu-box", User: "me", Port: 2222, Target: "cuda", Mode: "graph", Precision: "fp16"},
			Info{Kind: "agent", Host: "ssh:me@gpu-box", Runtime: "agent", Precision: "fp16", Batch: 1, Mode: "cuda-graph, fp16, batch 1"},
			`kind=agent runtime=agent host=gpu-box target=cuda precision=fp16 mode=graph batch=1`},
		{"command argv keeps placeholders", Config{Kind: "command", Transport: "adb", Serial: "R58M1234", Threads: 4, Parser: "benchmark_model",
			Argv: []string{"/data/local/tmp/benchmark_model", "--graph={model}", "--num_threads={threads}"}},
			Info{Kind: "command", Runtime: "benchmark_model", Threads: 4, Batch: 1},
			`kind=command runtime=benchmark_model serial=R58M1234 threads=4 batch=1 argv=[/data/local/tmp/benchmark_model "--graph={model}" "--num_threads={threads}"] parser=benchmark_model`},
		{"configured values when the device reports none", Config{Kind: "command", Threads: 2, Batch: 8, Precision: "int8", Argv: []string{"sh", "-c", "run it"}, Parser: "regex", Regex: `median = (\S+)`, Unit: "us"},
			Info{Kind: "command"},
			`kind=command threads=2 precision=int8 batch=8 argv=[sh -c "run it"] parser=regex regex="median = (\\S+)" unit=us`},
		{"replay", Config{Kind: "replay", File: "../shared/data/h100-ofa-mbv3-w1.0.jsonl", Key: "gpu-b1-fp32-graph", Label: "H100"},
			Info{Kind: "replay", Runtime: "torch", Version: "2.5.1", Hardware: "NVIDIA H100 80GB HBM3", Precision: "fp32", Batch: 1, Mode: "graph"},
			`kind=replay runtime=torch/2.5.1 hardware="NVIDIA H100 80GB HBM3" precision=fp32 batch=1 file=../shared/data/h100-ofa-mbv3-w1.0.jsonl key=gpu-b1-fp32-graph`},
		{"lut", Config{Kind: "lut", Path: "tables", Label: "Note10"},
			Info{Kind: "lut", Runtime: "OFA latency lookup tables", Hardware: "tables for R160 in tables", Batch: 1, Mode: "lookup-table"},
			`kind=lut runtime="OFA latency lookup tables" hardware="tables for R160 in tables" batch=1 path=tables`},
		{"sim", Config{Kind: "sim", Sim: SimConfig{Preset: "npu", Seed: 7}},
			Info{Kind: "sim", Runtime: "analytic model", Hardware: "950 GMAC/s, 30 GB/s", Precision: "4-byte", Batch: 1, Mode: "simulated"},
			`kind=sim runtime="analytic model" hardware="950 GMAC/s, 30 GB/s" precision=4-byte batch=1 preset=npu seed=7`},
		{"empty", Config{}, Info{}, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Fingerprint(tt.cfg, tt.info)
			if got != tt.want {
				t.Errorf("Fingerprint =\n  %s\nwant\n  %s", got, tt.want)
			}
			if again := Fingerprint(tt.cfg, tt.info); again != got {
				t.Errorf("not deterministic: %q then %q", got, again)
			}
		})
	}
}

// TestFingerprintChanges: every setting that changes the latency changes
// the fingerprint; names, labels, transport credentials and the
// measurement protocol do not.
func TestFingerprintChanges(t *testing.T) {
	baseCfg := Config{Name: "cpu", Kind: "ort", Threads: 1, Optimization: "all", Warmup: 2, Repeat: 50, MaxRepeat: 100, TargetSpread: 0.05,
		Timeout: "1m", Transport: "ssh", Host: "box", User: "me", Port: 22, Identity: "id_ed25519", Target: "cpu", Mode: "eager",
		Command: []string{"python3", "{agent}"}, Argv: []string{"tool", "{model}"}, Parser: "trtexec", File: "f.jsonl", Key: "k", Path: "p",
		Sim: SimConfig{Preset: "npu", Seed: 1, GMACs: 5}}
	baseInfo := Info{Name: "cpu", Kind: "ort", Host: "box-1", Runtime: "onnxruntime", Version: "1.22.0", Hardware: "cpu A",
		Threads: 1, Precision: "fp32", Batch: 1, Mode: "ort-cpu", Provenance: Measured, Label: "measured", Local: true}
	base := Fingerprint(baseCfg, baseInfo)
	f := false
	tests := []struct {
		name    string
		edit    func(*Config, *Info)
		changes bool
	}{
		{"name", func(c *Config, i *Info) { c.Name, i.Name = "cpu2", "cpu2" }, false},
		{"label", func(c *Config, i *Info) { c.Label, i.Label = "mine", "measured (mine)" }, false},
		{"profile", func(c *Config, _ *Info) { c.Profile = &f }, false},
		{"timeout", func(c *Config, _ *Info) { c.Timeout = "5m" }, false},
		{"warmup", func(c *Config, _ *Info) { c.Warmup = 10 }, false},
		{"repeat", func(c *Config, _ *Info) { c.Repeat, c.MaxRepeat = 200, 400 }, false},
		{"target spread", func(c *Config, _ *Info) { c.TargetSpread = 0.01 }, false},
		{"probe every", func(c *Config, _ *Info) { c.ProbeEvery = 10 }, false},
		{"ssh user, port, identity", func(c *Config, _ *Info) { c.User, c.Port, c.Identity = "you", 2222, "id_rsa" }, false},
		{"library path", func(c *Config, _ *Info) { c.Library = "/opt/ort/lib.so" }, false},
		{"info host and mode", func(_ *Config, i *Info) { i.Host, i.Mode = "box-2", "ort-cpu, probe every 10 runs" }, false},
		{"provenance and local", func(_ *Config, i *Info) { i.Provenance, i.Local = Simulated, false }, false},
		{"sim throughput (its resolved parameters are the hardware)", func(c *Config, _ *Info) { c.Sim.GMACs = 6 }, false},

		{"kind", func(c *Config, _ *Info) { c.Kind = "sim" }, true},
		{"runtime", func(_ *Config, i *Info) { i.Runtime = "tflite" }, true},
		{"runtime version", func(_ *Config, i *Info) { i.Version = "1.23.0" }, true},
		{"hardware", func(_ *Config, i *Info) { i.Hardware = "cpu B" }, true},
		{"threads", func(c *Config, i *Info) { c.Threads, i.Threads = 2, 2 }, true},
		{"optimization", func(c *Config, _ *Info) { c.Optimization = "basic" }, true},
		{"precision", func(_ *Config, i *Info) { i.Precision = "fp16" }, true},
		{"int8", func(c *Config, i *Info) { c.Precision, i.Precision = "int8", "int8" }, true},
		{"format", func(c *Config, _ *Info) { c.Format = "tflite" }, true},
		{"format spelled out", func(c *Config, i *Info) { c.Format, i.Format = "onnx", "onnx" }, true},
		{"a reported format alone (inferred from the parser, which counts)", func(_ *Config, i *Info) { i.Format = "tflite" }, false},
		{"batch", func(_ *Config, i *Info) { i.Batch = 8 }, true},
		{"host", func(c *Config, _ *Info) { c.Host = "box2" }, true},
		{"serial", func(c *Config, _ *Info) { c.Serial = "R58" }, true},
		{"target", func(c *Config, _ *Info) { c.Target = "cuda" }, true},
		{"mode", func(c *Config, _ *Info) { c.Mode = "graph" }, true},
		{"agent command", func(c *Config, _ *Info) { c.Command = []string{"python3.12", "{agent}"} }, true},
		{"argv", func(c *Config, _ *Info) { c.Argv = append(slices.Clone(c.Argv), "--fp16") }, true},
		{"parser", func(c *Config, _ *Info) { c.Parser = "regex" }, true},
		{"regex", func(c *Config, _ *Info) { c.Regex = `(\d+) ms` }, true},
		{"unit", func(c *Config, _ *Info) { c.Unit = "us" }, true},
		{"replay file", func(c *Config, _ *Info) { c.File = "g.jsonl" }, true},
		{"replay key", func(c *Config, _ *Info) { c.Key = "k2" }, true},
		{"lut path", func(c *Config, _ *Info) { c.Path = "q" }, true},
		{"sim preset", func(c *Config, _ *Info) { c.Sim.Preset = "cpu" }, true},
		{"sim seed", func(c *Config, _ *Info) { c.Sim.Seed = 2 }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, i := baseCfg, baseInfo
			c.Command, c.Argv = slices.Clone(c.Command), slices.Clone(c.Argv)
			tt.edit(&c, &i)
			got := Fingerprint(c, i)
			if (got != base) != tt.changes {
				t.Errorf("changes = %v, want %v:\n  before %s\n  after  %s", got != base, tt.changes, base, got)
			}
		})
	}
}

func TestProvenanceOfKind(t *testing.T) {
	want := map[string]Provenance{"ort": Measured, "agent": Measured, "command": Measured, "replay": Replayed, "lut": Table, "sim": Simulated}
	for _, k := range Kinds() {
		p, ok := ProvenanceOfKind(k)
		if !ok || p != want[k] {
			t.Errorf("ProvenanceOfKind(%q) = %q, %v; want %q", k, p, ok, want[k])
		}
	}
	if len(want) != len(Kinds()) {
		t.Errorf("Kinds() = %v, the test knows %d kinds", Kinds(), len(want))
	}
	for _, k := range []string{"", "tpu", "SIM"} {
		if p, ok := ProvenanceOfKind(k); ok || p != "" {
			t.Errorf("ProvenanceOfKind(%q) = %q, %v; want none", k, p, ok)
		}
	}
}

// TestFingerprintCommandPrecision: a command device reports fp32 by
// default, which leaves its fingerprint as before the setting existed; a
// configured precision counts.
func TestFingerprintCommandPrecision(t *testing.T) {
	cfg := Config{Name: "phone", Kind: "command", Argv: []string{"benchmark_model", "--graph={model}"}, Parser: "benchmark_model"}
	old := Fingerprint(cfg, Info{Kind: "command", Runtime: "benchmark_model"})
	if got := Fingerprint(cfg, Info{Kind: "command", Runtime: "benchmark_model", Precision: "fp32", Format: "tflite"}); got != old {
		t.Errorf("default precision changed the fingerprint:\n%s\n%s", old, got)
	}
	cfg.Precision = "int8"
	got := Fingerprint(cfg, Info{Kind: "command", Runtime: "benchmark_model", Precision: "int8", Format: "tflite"})
	if got == old || !strings.Contains(got, "precision=int8") {
		t.Errorf("configured int8: %s", got)
	}
}
