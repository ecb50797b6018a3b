package backends

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/replay"
	"blockprof/model"
)

func testSpaces(t *testing.T) *model.Spaces {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func TestOpen(t *testing.T) {
	ss := testSpaces(t)
	// Dir is "..": the backends' own testdata is reached by relative paths.
	opts := Options{Lock: devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")), Dir: "..", Spaces: ss}
	tests := []struct {
		name    string
		cfg     devices.Config
		opts    Options
		kind    string
		prov    devices.Provenance
		label   string
		wantErr string
	}{
		{"replay", devices.Config{Name: "r", Kind: "replay", File: "replay/testdata/lab-mixed.jsonl", Key: "cpu-b1-fp32"}, opts,
			"replay", devices.Replayed, "replayed (Lab CPU, recorded)", ""},
		{"lut", devices.Config{Name: "l", Kind: "lut", Path: "lut/testdata", Label: "Note10"}, opts, "lut", devices.Table, "table (Note10)", ""},
		{"sim", devices.Config{Name: "s", Kind: "sim", Sim: devices.SimConfig{Preset: "npu"}}, opts, "sim", devices.Simulated, "simulated", ""},
		{"relative to the wrong dir", devices.Config{Name: "r", Kind: "replay", File: "replay/testdata/lab-mixed.jsonl", Key: "k"},
			Options{Dir: t.TempDir(), Spaces: ss}, "", "", "", "no such file"},
		{"replay without spaces", devices.Config{Name: "r", Kind: "replay", File: "x", Key: "k"}, Options{}, "", "", "", "needs the configured spaces"},
		{"lut without path", devices.Config{Name: "l", Kind: "lut"}, opts, "", "", "", "needs path"},
		{"bad sim", devices.Config{Name: "s", Kind: "sim", Sim: devices.SimConfig{Preset: "gpu9"}}, opts, "", "", "", "preset \"gpu9\""},
		{"agent", devices.Config{Name: "a", Kind: "agent"}, opts, "agent", devices.Measured, "measured", ""},
		{"bad agent", devices.Config{Name: "a", Kind: "agent", Target: "cpu", Mode: "graph"}, opts, "", "", "", "device a: mode graph needs target cuda"},
		{"command", devices.Config{Name: "c", Kind: "command", Parser: "trtexec", Argv: []string{"trtexec", "--onnx={model}"}}, opts,
			"command", devices.Measured, "measured (trtexec)", ""},
		{"command without argv", devices.Config{Name: "c", Kind: "command"}, opts, "", "", "", "device c: no argv"},
		{"no kind", devices.Config{Name: "n"}, opts, "", "", "", "device n: no kind (want one of ort, agent"},
		{"unknown kind", devices.Config{Name: "u", Kind: "tpu"}, opts, "", "", "", "device u: unknown kind \"tpu\""},
		{"ort without library", devices.Config{Name: "o", Kind: "ort", Library: "no/such/libonnxruntime.so"}, opts, "", "", "", "device o:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Open(context.Background(), tt.cfg, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			info := d.Info()
			if d.Name() != tt.cfg.Name || info.Kind != tt.kind || info.Provenance != tt.prov || info.Label != tt.label {
				t.Errorf("info %+v", info)
			}
			if info.Provenance != devices.Measured && info.Local {
				t.Errorf("%s claims to time on this machine", tt.kind)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, devices.Config{Name: "s", Kind: "sim"}, opts); err == nil {
		t.Error("cancelled context: no error")
	}
}

// TestOpenMeasures: each kind that opens here measures a network of its
// space (lut: width 1.2 at 224; replay: a recorded arch).
func TestOpenMeasures(t *testing.T) {
	ss := testSpaces(t)
	opts := Options{Dir: "..", Spaces: ss}
	w12, _ := ss.Get("ofa-mbv3")
	w10, _ := ss.Get("ofa-mbv3-w1.0")
	archs, err := replay.Archs("../replay/testdata/lab-mixed.jsonl", "gpu-b1-fp32-graph", ss)
	if err != nil {
		t.Fatal(err)
	}
	recorded := archs[0]
	tests := []struct {
		cfg  devices.Config
		sp   *model.Space
		arch model.Arch
	}{
		{devices.Config{Name: "r", Kind: "replay", File: "replay/testdata/lab-mixed.jsonl", Key: "gpu-b1-fp32-graph"}, w10, recorded},
		{devices.Config{Name: "l", Kind: "lut", Path: "lut/testdata"}, w12, w12.MaxArch(224)},
		{devices.Config{Name: "s", Kind: "sim"}, w12, w12.MinArch(160)},
	}
	for _, tt := range tests {
		d, err := Open(context.Background(), tt.cfg, opts)
		if err != nil {
			t.Fatal(err)
		}
		n, err := tt.sp.Network(tt.arch)
		if err != nil {
			t.Fatal(err)
		}
		m, err := d.Measure(context.Background(), n)
		if err != nil || len(m.SamplesMs) == 0 || m.SamplesMs[0] <= 0 {
			t.Errorf("%s: %+v %v", tt.cfg.Kind, m, err)
		}
	}
}

func TestResolveAndDirOf(t *testing.T) {
	abs := filepath.Join(string(filepath.Separator), "data", "x.jsonl")
	tests := []struct {
		dir, path, want string
	}{
		{"", "../shared/data/x.jsonl", "../shared/data/x.jsonl"},
		{"/etc/blockprof", "../shared/x.jsonl", "/etc/shared/x.jsonl"},
		{"conf", "tables", "conf/tables"},
		{"conf", abs, abs},
		{"conf", "", ""},
	}
	for _, tt := range tests {
		if got := (Options{Dir: tt.dir}).Resolve(tt.path); got != filepath.FromSlash(tt.want) {
			t.Errorf("Dir %q Resolve(%q) = %q, want %q", tt.dir, tt.path, got, tt.want)
		}
	}
	for in, want := range map[string]string{"": "", "config.toml": ".", "/etc/bp/c.toml": "/etc/bp", "a/b.toml": "a"} {
		if got := DirOf(in); got != want {
			t.Errorf("DirOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLabelAndSettings(t *testing.T) {
	tests := []struct {
		cfg             devices.Config
		label, settings string
	}{
		{devices.Config{Kind: "replay", File: "a b.jsonl", Key: "k"}, "replayed", `file="a b.jsonl" key=k`},
		{devices.Config{Kind: "replay", Label: "lab"}, "replayed (lab)", ""},
		{devices.Config{Kind: "lut", Path: "t"}, "table", "path=t"},
		{devices.Config{Kind: "lut", Label: "Note10"}, "table (Note10)", ""},
		{devices.Config{Kind: "sim", Sim: devices.SimConfig{Preset: "npu", GMACs: 5, KernelFactor: map[string]float64{"7": 3, "5": 1.5}}},
			"simulated", "preset=npu gmacs=5 kernel_factor.5=1.5 kernel_factor.7=3"},
		{devices.Config{Kind: "ort", Threads: 2}, "measured", "threads=2 warmup=10 repeat=50..200 spread≤0.05"},
		{devices.Config{Kind: "command", Transport: "ssh", Host: "gpu1", Parser: "trtexec", Argv: []string{"trtexec", "--onnx={model}"}}, "measured (trtexec)",
			`transport=ssh host=gpu1 parser=trtexec argv=["trtexec" "--onnx={model}"] warmup=10 repeat=50..200 spread≤0.05`},
	}
	for _, tt := range tests {
		if got := Label(tt.cfg); got != tt.label {
			t.Errorf("%s: label %q, want %q", tt.cfg.Kind, got, tt.label)
		}
		if got := Settings(tt.cfg); got != tt.settings {
			t.Errorf("%s: settings %q, want %q", tt.cfg.Kind, got, tt.settings)
		}
	}
}
