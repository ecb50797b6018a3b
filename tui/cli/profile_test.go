package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/devices/safetext"
	"blockprof/engine"
	"blockprof/engine/store"
	"blockprof/model"
)

// fakeDevice stands in for backends.Open's devices: latency from MACs.
type fakeDevice struct {
	name string
	fail error
	hook func(n int)
	// ms, when set, is the device's latency of a network (default MACs/1e8).
	ms    func(net *model.Network) float64
	mu    sync.Mutex
	calls int
}

func (f *fakeDevice) Name() string { return f.name }
func (f *fakeDevice) Info() devices.Info {
	return devices.Info{Name: f.name, Kind: "sim", Provenance: devices.Simulated, Label: "simulated"}
}
func (f *fakeDevice) Close() error { return nil }
func (f *fakeDevice) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if f.hook != nil {
		f.hook(n)
	}
	if err := ctx.Err(); err != nil {
		return devices.Measurement{}, err
	}
	if f.fail != nil {
		return devices.Measurement{}, f.fail
	}
	ms := float64(net.MACs()) / 1e8
	if f.ms != nil {
		ms = f.ms(net)
	}
	return devices.Measurement{SamplesMs: []float64{ms, ms * 1.02, ms * 0.99, ms * 1.01}, Warmup: 3, Mode: "fake"}, nil
}

// testConfig is the spaces of the repository's config.toml with this
// test's own devices and plan (so that edits to the shipped defaults do
// not change the tests).
func testConfig(t *testing.T) (embedded []byte, path string) {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	skip := false
	for _, line := range strings.Split(string(data), "\n") {
		if h := strings.TrimSpace(line); strings.HasPrefix(h, "[") {
			skip = h == "[plan]" || h == "[[devices]]"
		}
		if !skip {
			keep = append(keep, line)
		}
	}
	keep = append(keep, `
[[devices]]
name = "cpu"
kind = "sim"

[[devices]]
name = "sim2"
kind = "sim"

[[devices]]
name = "off"
kind = "sim"
profile = false

[plan]
space = "ofa-mbv3-w1.0"
resolution = 160
uniform = 150
reference_every = 25
`)
	path = filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return data, path
}

type fakes struct {
	mu   sync.Mutex
	devs map[string]*fakeDevice
	// setup adjusts a device when it is opened.
	setup func(*fakeDevice)
}

func (f *fakes) open(_ context.Context, cfg devices.Config, _ backends.Options) (devices.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.devs == nil {
		f.devs = map[string]*fakeDevice{}
	}
	d := &fakeDevice{name: cfg.Name}
	if f.setup != nil {
		f.setup(d)
	}
	f.devs[cfg.Name] = d
	return d, nil
}

func testEnv(ctx context.Context, embedded []byte) (*Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errw bytes.Buffer
	return &Env{Ctx: ctx, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errw, Embedded: embedded, Version: "test"}, &out, &errw
}

func TestProfileMeasuresAndResumes(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	args := []string{"--config", cfgPath, "--store", db, "--plan", "uniform=5,fixed=0"}

	f := &fakes{}
	env, out, errw := testEnv(context.Background(), embedded)
	if err := profile(env, args, f.open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	// Devices with profile = true only: cpu and sim2.
	if len(f.devs) != 2 || f.devs["cpu"] == nil || f.devs["sim2"] == nil {
		t.Errorf("opened %v", f.devs)
	}
	for _, want := range []string{"device", "cpu", "sim2", "done", "5/5"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"run 1: ofa-mbv3-w1.0 at 160 px, 5 archs", "timed 2 archs", "estimated duration", "cpu  5/5  100%"} {
		if !strings.Contains(errw.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errw)
		}
	}
	// The reference arch is measured too (reference_every = 25 in config.toml).
	if c := f.devs["cpu"].calls; c != 6 {
		t.Errorf("cpu measured %d times, want 5 plan archs + 1 reference", c)
	}

	// Again, with --devices and --json: everything is already measured.
	f2 := &fakes{}
	env, out, errw = testEnv(context.Background(), embedded)
	if err := profile(env, append(args, "--devices", "sim2", "--json"), f2.open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	if f2.devs["sim2"].calls != 0 || len(f2.devs) != 1 {
		t.Errorf("re-run measured %d times", f2.devs["sim2"].calls)
	}
	var sum struct {
		Run     int64
		Devices []struct {
			Device   string
			Resumed  int
			Measured int
			State    string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		t.Fatalf("summary JSON: %v\n%s", err, out)
	}
	if sum.Run != 2 || len(sum.Devices) != 1 || sum.Devices[0].Resumed != 5 || sum.Devices[0].Measured != 0 || sum.Devices[0].State != "done" {
		t.Errorf("summary %+v", sum)
	}
	if !strings.Contains(errw.String(), "sim2: nothing left to measure") {
		t.Errorf("stderr:\n%s", errw)
	}

	st, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, dev := range []string{"cpu", "sim2"} {
		if n, _ := st.Count(context.Background(), store.Query{Device: dev, Kind: store.KindPlan}); n != 5 {
			t.Errorf("%s: %d plan measurements stored, want 5", dev, n)
		}
	}
}

func TestProfileInterruptedThenResumed(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	args := []string{"--config", cfgPath, "--store", db, "--plan", "uniform=8", "--devices", "sim2"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &fakes{setup: func(d *fakeDevice) {
		d.hook = func(n int) {
			if n == 6 { // 2 estimate archs, the reference, 2 more plan archs, then Ctrl-C
				cancel()
			}
		}
	}}
	env, _, errw := testEnv(ctx, embedded)
	err := profile(env, args, f.open)
	if err == nil || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("interrupted profile: err = %v\n%s", err, errw)
	}
	f2 := &fakes{}
	env, out, errw := testEnv(context.Background(), embedded)
	if err := profile(env, args, f2.open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	// 4 plan archs were stored; the re-run measures the other 4 and the reference.
	if c := f2.devs["sim2"].calls; c != 5 {
		t.Errorf("re-run measured %d times, want 4 + reference\n%s", c, errw)
	}
	if !strings.Contains(out.String(), "8/8") {
		t.Errorf("summary:\n%s", out)
	}
}

func TestProfileFailingDevice(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	f := &fakes{setup: func(d *fakeDevice) {
		if d.name == "cpu" {
			d.fail = errors.New("library not found")
		}
	}}
	env, out, errw := testEnv(context.Background(), embedded)
	err := profile(env, []string{"--config", cfgPath, "--store", db, "--plan", "uniform=6"}, f.open)
	if err == nil || !strings.Contains(err.Error(), "cpu (") || !strings.Contains(err.Error(), "library not found") {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(out.String(), "failed") || !strings.Contains(out.String(), "6/6") {
		t.Errorf("summary:\n%s\nstderr:\n%s", out, errw)
	}
}

func TestProfileDeviceThatDoesNotOpen(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	f := &fakes{}
	open := func(ctx context.Context, cfg devices.Config, o backends.Options) (devices.Device, error) {
		if o.Lock == nil || o.Spaces == nil || o.Dir != filepath.Dir(cfgPath) {
			t.Errorf("backends options %+v", o)
		}
		if cfg.Name == "cpu" {
			return nil, errors.New("no ONNX Runtime library")
		}
		return f.open(ctx, cfg, o)
	}
	env, out, errw := testEnv(context.Background(), embedded)
	err := profile(env, []string{"--config", cfgPath, "--store", db, "--plan", "uniform=3"}, open)
	if err == nil || !strings.Contains(err.Error(), "cpu (could not open: no ONNX Runtime library)") {
		t.Errorf("err = %v", err)
	}
	if !strings.Contains(out.String(), "sim2") || strings.Contains(out.String(), "cpu") || !strings.Contains(errw.String(), "skipped") {
		t.Errorf("summary:\n%s\nstderr:\n%s", out, errw)
	}
}

func TestProfileFlagErrors(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--devices", "gpu"}, `no device named "gpu"`},
		{[]string{"--plan", "uniform=x"}, "uniform"},
		{[]string{"--plan", "uniform=0,fixed=0"}, "plan is empty"},
		{[]string{"--space", "nope"}, "unknown space"},
		{[]string{"--plan", "resolution=100"}, "resolution 100"},
		{[]string{"stray"}, "unexpected argument"},
	} {
		env, _, _ := testEnv(context.Background(), embedded)
		err := profile(env, append([]string{"--config", cfgPath, "--store", db}, tc.args...), (&fakes{}).open)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestParsePlan(t *testing.T) {
	base := model.PlanSpec{Uniform: 120, PerLocation: 0, Resolution: 160, Seed: 1}
	for _, tc := range []struct {
		in   string
		want model.PlanSpec
		err  bool
	}{
		{"", base, false},
		{"uniform=200,fixed=5", model.PlanSpec{Uniform: 200, PerLocation: 5, Resolution: 160, Seed: 1}, false},
		{" per_location = 3 , seed=9 ", model.PlanSpec{Uniform: 120, PerLocation: 3, Resolution: 160, Seed: 9}, false},
		{"resolution=224,", model.PlanSpec{Uniform: 120, Resolution: 224, Seed: 1}, false},
		{"uniform", base, true},
		{"uniform=-1", base, true},
		{"uniform=1e3", base, true},
		{"depth=3", base, true},
		{"seed=-2", base, true},
	} {
		got, err := ParsePlan(tc.in, base)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParsePlan(%q) = %+v, %v; want %+v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func FuzzParsePlan(f *testing.F) {
	for _, s := range []string{"", "uniform=200,fixed=5", "seed=18446744073709551615", "resolution=224,,", "fixed==1", "uniform=99999999999"} {
		f.Add(s)
	}
	base := model.PlanSpec{Uniform: 1, Resolution: 160}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePlan(s, base)
		if err != nil {
			if p != base {
				t.Fatalf("ParsePlan(%q) failed but changed the plan: %+v", s, p)
			}
			return
		}
		if p.Uniform < 0 || p.PerLocation < 0 || p.Resolution < 0 || p.Uniform > 10_000_000 || p.PerLocation > 10_000_000 {
			t.Fatalf("ParsePlan(%q) = %+v", s, p)
		}
	})
}

func TestProgressLineAndSummary(t *testing.T) {
	var sb strings.Builder
	for _, p := range []engine.Progress{
		{Device: "cpu", Total: 120, State: engine.StateConnecting},
		{Device: "cpu", Done: 37, Total: 120, Resumed: 10, State: engine.StateMeasuring, Rate: 2.1, ETA: 40 * time.Second,
			LastMs: 12.345, LastSpread: 0.031, Drift: 0.008, DriftKnown: true},
		{Device: "phone", Done: 3, Total: 120, Errors: 3, Failed: true, State: engine.StateFailed, LastErr: "adb: device offline"},
		{Device: "gpu", Done: 120, Total: 120, State: engine.StatePaused, Rate: 31.5, LastMs: 0.812, LastSpread: 0.012},
	} {
		sb.WriteString(progressLine(p) + "\n")
	}
	sb.WriteString("\n")
	writeSummary(&sb, engine.Summary{Run: 3, Devices: []engine.DeviceSummary{
		{Device: "cpu", State: engine.StateDone, Total: 120, Resumed: 20, Measured: 100, MedianMs: 8.412, Wall: 83 * time.Second,
			Timed: 65 * time.Second, Overhead: 83.0/65 - 1, Drift: 0.004, DriftKnown: true, Prepare: 7 * time.Second, Probe: 4 * time.Second},
		{Device: "phone", State: engine.StateFailed, Failed: true, Total: 120, Errors: 3, LastErr: "adb: device offline", Wall: 1500 * time.Millisecond},
		// Devices without a timed window: their samples' sum is no window.
		{Device: "note10", State: engine.StateDone, Total: 120, Measured: 120, MedianMs: 41.2, Wall: 2 * time.Second,
			Timed: 4944 * time.Millisecond, Overhead: 2.0/4.944 - 1},
		{Device: "h100-graph", State: engine.StateDone, Total: 105, Measured: 105, MedianMs: 0.724, Wall: 246 * time.Millisecond,
			Timed: 227 * time.Millisecond, Overhead: 246.0/227 - 1},
		{Device: "cpu-int8", State: engine.StateDone, Total: 120, Measured: 120, MedianMs: 6.93, Wall: 70 * time.Second,
			Timed: 52 * time.Second, Overhead: 70.0/52 - 1},
	}}, map[string]string{"note10": noWindow(devices.Info{Kind: "lut", Provenance: devices.Table}),
		"h100-graph": noWindow(devices.Info{Kind: "replay", Provenance: devices.Replayed})},
		map[string]string{"cpu": "fp32", "cpu-int8": "int8"})
	golden.RequireEqual(t, sb.String())
}

// TestNoWindow names, per device kind, why overhead means nothing; the
// devices that time a window get none.
func TestNoWindow(t *testing.T) {
	tests := []struct {
		info devices.Info
		want string // "" or a part of the reason
	}{
		{devices.Info{Kind: "ort", Provenance: devices.Measured}, ""},
		{devices.Info{Kind: "agent", Provenance: devices.Measured}, ""},
		{devices.Info{Kind: "command", Provenance: devices.Measured}, "command device: the tool times its own runs"},
		{devices.Info{Kind: "replay", Provenance: devices.Replayed}, "replay device: recorded numbers, no timed window"},
		{devices.Info{Kind: "lut", Provenance: devices.Table}, "table device: summed from lookup tables"},
		{devices.Info{Kind: "sim", Provenance: devices.Simulated}, "sim device: computed by a model"},
		{devices.Info{Kind: "other", Provenance: devices.Predicted}, "predicted device: no timed window"},
		{devices.Info{Kind: "other"}, ""},
	}
	for _, tc := range tests {
		got := noWindow(tc.info)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s/%s: %q, want %q", tc.info.Kind, tc.info.Provenance, got, tc.want)
		}
	}
}

func TestMeasureJSON(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	f := &fakes{}
	env, out, errw := testEnv(context.Background(), embedded)
	sp := "ofa-mbv3:224:e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3"
	if err := measure(env, []string{"--config", cfgPath, "--arch", sp, "--device", "sim2", "--json"}, f.open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	var got map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"device", "arch", "samples_ms", "median_ms", "spread", "warmup", "mode", "provenance", "macs"} {
		if _, ok := got[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	if got["device"] != "sim2" || got["arch"] != sp || got["space"] != "ofa-mbv3" || len(got["samples_ms"].([]any)) != 4 ||
		got["warmup"] != 3.0 || got["provenance"] != "simulated" {
		t.Errorf("measure output %s", out)
	}
	med := got["median_ms"].(float64)
	if want := store.Summarize([]float64{1, 1.02, 0.99, 1.01}).Median * got["macs"].(float64) / 1e8; med < want*0.999 || med > want*1.001 {
		t.Errorf("median %v, want %v", med, want)
	}
}

func TestMeasureOFAJSONAndText(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	f := &fakes{}
	// The first device (cpu), the space from --space.
	env, out, errw := testEnv(context.Background(), embedded)
	ofa := `{"ks":[3,3,3,3,5,5,5,5,7,7,7,7,3,3,3,3,3,3,3,3],"e":[3,3,3,3,4,4,4,4,6,6,6,6,3,3,3,3,3,3,3,3],"d":[2,2,2,2,2],"r":160}`
	if err := measure(env, []string{"--config", cfgPath, "--space", "ofa-mbv3-w1.0", "--arch", ofa}, f.open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	if f.devs["cpu"] == nil || !strings.Contains(out.String(), "cpu: ofa-mbv3-w1.0:160:e3k3,e3k3/e4k5,e4k5/e6k7,e6k7/e3k3,e3k3/e3k3,e3k3") ||
		!strings.Contains(out.String(), "4 samples after 3 warm-up runs, mode fake, simulated") {
		t.Errorf("text output:\n%s", out)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--arch is required"},
		{[]string{"--arch", "ofa-mbv3:224:zz"}, "--arch"},
		{[]string{"--arch", "ofa-mbv3:224:e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3", "--device", "tpu"}, `no device named "tpu"`},
	} {
		env, _, _ := testEnv(context.Background(), embedded)
		if err := measure(env, append([]string{"--config", cfgPath}, tc.args...), f.open); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestProfileEscapesDeviceErrors: device errors carrying terminal escapes
// (an OSC title, a clear screen, the C1 CSI, NUL, invalid UTF-8) are
// printed and returned escaped, whichever device produced them.
func TestProfileEscapesDeviceErrors(t *testing.T) {
	const hostile = "boom \x1b]0;pwned\x07\x1b[2J\u009b\x00\xff\nsecond line"
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	f := &fakes{setup: func(d *fakeDevice) {
		if d.name == "cpu" {
			d.fail = errors.New(hostile)
		}
	}}
	open := func(ctx context.Context, cfg devices.Config, o backends.Options) (devices.Device, error) {
		if cfg.Name == "sim2" {
			return nil, errors.New("cannot open: " + hostile)
		}
		return f.open(ctx, cfg, o)
	}
	env, out, errw := testEnv(context.Background(), embedded)
	err := profile(env, []string{"--config", cfgPath, "--store", db, "--plan", "uniform=3"}, open)
	if err == nil {
		t.Fatal("no error for the failing devices")
	}
	for what, text := range map[string]string{"stdout": out.String(), "stderr": errw.String(), "error": err.Error()} {
		if !safetext.Safe(text) {
			t.Errorf("%s holds terminal controls: %q", what, text)
		}
	}
	if !strings.Contains(errw.String(), `boom \x1b]0;pwned\x07\x1b[2J\u009b\x00\xff`) || !strings.Contains(err.Error(), `\x1b]0;pwned`) {
		t.Errorf("the errors are not shown escaped:\nstderr:\n%s\nerror: %v", errw, err)
	}
}
