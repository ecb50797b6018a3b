package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/devices/transport"
	"blockprof/model"
)

var (
	spacesOnce sync.Once
	spaces     *model.Spaces
	spacesErr  error
)

func testSpaces(t testing.TB) *model.Spaces {
	t.Helper()
	spacesOnce.Do(func() {
		data, err := os.ReadFile("../../config.toml")
		if err != nil {
			spacesErr = err
			return
		}
		spaces, spacesErr = model.ParseSpaces(data, "config.toml")
	})
	if spacesErr != nil {
		t.Fatal(spacesErr)
	}
	return spaces
}

// smallNet is the smallest ofa-mbv3 network at 160, renamed arch (the fake
// agent acts on the name).
func smallNet(t testing.TB, arch string) *model.Network {
	t.Helper()
	sp, err := testSpaces(t).Get("ofa-mbv3")
	if err != nil {
		t.Fatal(err)
	}
	net, err := sp.Network(sp.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	if arch != "" {
		net.Arch = arch
	}
	return net
}

func fakeScript(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("testdata/fake_agent.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeDevice is an agent device running testdata/fake_agent.sh MODE ARGS
// locally.
func fakeDevice(t testing.TB, mode string, edit func(*devices.Config), args ...string) *Device {
	t.Helper()
	cfg := devices.Config{Name: "fake", Kind: "agent", Command: append([]string{"sh", fakeScript(t), mode}, args...),
		Warmup: 2, Repeat: 3, Timeout: "20s"}
	if edit != nil {
		edit(&cfg)
	}
	d, err := New(cfg, transport.NewLocal(), devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestMeasureFake(t *testing.T) {
	d := fakeDevice(t, "ok", nil)
	ctx := context.Background()
	if got := d.Info(); got.Runtime != "agent" || got.Provenance != devices.Measured || !got.Local || got.Batch != 1 || got.Precision != "fp32" {
		t.Errorf("info before the hello: %+v", got)
	}
	for i := 0; i < 2; i++ {
		m, err := d.Measure(ctx, smallNet(t, ""))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(m.SamplesMs, []float64{1.5, 1.25, 1.75}) || m.Warmup != 2 || m.Mode != "cuda-graph" {
			t.Errorf("measurement %+v", m)
		}
	}
	if d.Starts() != 1 {
		t.Errorf("agent started %d times for two measurements, want once", d.Starts())
	}
	info := d.Info()
	if info.Runtime != "fake" || info.Version != "9.9" || info.Hardware != "Fake GPU, CUDA 12.4" || info.Threads != 3 ||
		info.Host != "fakehost" || !strings.Contains(info.Mode, "cuda-graph, fp32, batch 1 (fake_agent.sh 0.1)") {
		t.Errorf("info after the hello: %+v", info)
	}
	c, err := d.Count(ctx, smallNet(t, ""))
	if err != nil || c != (Count{MACs: 1000, Params: 200, Layers: 4}) {
		t.Errorf("Count = %+v, %v", c, err)
	}
}

func TestRequestCarriesSettings(t *testing.T) {
	d := fakeDevice(t, "ok", func(c *devices.Config) {
		c.Batch, c.Warmup, c.Repeat, c.MaxRepeat, c.TargetSpread = 8, 5, 20, 40, 0.02
		c.Precision, c.Mode, c.Threads = "fp16", "eager", 4
	})
	want := Request{Batch: 8, Warmup: 5, Repeat: 20, MaxRepeat: 40, TargetSpread: 0.02, Precision: "fp16", Mode: "eager", Target: "cuda", Threads: 4}
	if got := d.Request(); got != want {
		t.Errorf("request settings\n got %+v\nwant %+v", got, want)
	}
	if m := d.Info().Mode; m != "cuda-eager, fp16, batch 8" {
		t.Errorf("mode label %q", m)
	}
	cpu := fakeDevice(t, "ok", func(c *devices.Config) { c.Target = "cpu" })
	if r := cpu.Request(); r.Mode != "eager" || r.Target != "cpu" {
		t.Errorf("cpu defaults %+v", r)
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []struct {
		cfg  devices.Config
		want string
	}{
		{devices.Config{Name: "x", Kind: "ort"}, "not agent"},
		{devices.Config{Name: "x", Target: "tpu"}, "target"},
		{devices.Config{Name: "x", Mode: "jit"}, "mode"},
		{devices.Config{Name: "x", Target: "cpu", Mode: "graph"}, "graph needs target cuda"},
		{devices.Config{Name: "x", Precision: "int8"}, "precision"},
		{devices.Config{Name: "x", Target: "cpu", Precision: "fp16"}, "fp16 needs"},
		{devices.Config{Name: "x", Batch: -1}, "batch"},
		{devices.Config{Name: "x", Threads: -1}, "threads"},
		{devices.Config{Name: "x", Timeout: "soon"}, "timeout"},
		{devices.Config{Name: "x", Command: []string{"python3", "{script}"}}, "{script}"},
	} {
		_, err := New(c.cfg, transport.NewLocal(), nil, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "x") {
			t.Errorf("New(%+v) = %v, want an error about %q naming the device", c.cfg, err, c.want)
		}
	}
	// Braces that are not placeholders pass.
	if _, err := New(devices.Config{Name: "x", Command: []string{"agent", `--json={"a": 1}`, "{agent}"}}, transport.NewLocal(), nil, Options{}); err != nil {
		t.Error(err)
	}
}

func TestErrorReplyKeepsAgent(t *testing.T) {
	d := fakeDevice(t, "ok", nil)
	ctx := context.Background()
	_, err := d.Measure(ctx, smallNet(t, "error"))
	if err == nil || !strings.Contains(err.Error(), "CUDA out of memory") || errors.Is(err, devices.ErrTransient) {
		t.Fatalf("error reply: %v, want a device error quoting the agent", err)
	}
	if _, err := d.Measure(ctx, smallNet(t, "")); err != nil {
		t.Fatal(err)
	}
	if d.Starts() != 1 {
		t.Errorf("an error reply restarted the agent (%d starts)", d.Starts())
	}
}

func TestGarbledReplies(t *testing.T) {
	for _, c := range []struct{ arch, raw string }{
		{"garbled", "Segmentation fault (core dumped) {{{"},
		{"wrongid", "101"},
		{"noisy", "warning: something"},
	} {
		t.Run(c.arch, func(t *testing.T) {
			d := fakeDevice(t, "ok", nil)
			ctx := context.Background()
			_, err := d.Measure(ctx, smallNet(t, c.arch))
			var re *ReplyError
			if !errors.As(err, &re) || errors.Is(err, devices.ErrTransient) {
				t.Fatalf("%s: %v, want a non-transient *ReplyError", c.arch, err)
			}
			if !strings.Contains(err.Error(), c.raw) || !strings.Contains(err.Error(), c.arch) {
				t.Errorf("error %q does not keep the raw reply %q and the arch", err, c.raw)
			}
			// The stream is out of step: the next measurement starts a new agent.
			if _, err := d.Measure(ctx, smallNet(t, "")); err != nil {
				t.Fatal(err)
			}
			if d.Starts() != 2 {
				t.Errorf("%d starts, want 2", d.Starts())
			}
		})
	}
}

func TestCrashIsTransient(t *testing.T) {
	d := fakeDevice(t, "ok", nil)
	ctx := context.Background()
	_, err := d.Measure(ctx, smallNet(t, "crash"))
	if !errors.Is(err, devices.ErrTransient) {
		t.Fatalf("crash: %v, want devices.ErrTransient", err)
	}
	if !strings.Contains(err.Error(), "illegal memory access") || !strings.Contains(err.Error(), "status 3") {
		t.Errorf("crash error %q does not show the agent's stderr and status", err)
	}
	if _, err := d.Measure(ctx, smallNet(t, "")); err != nil {
		t.Fatalf("after a crash: %v", err)
	}
	if d.Starts() != 2 {
		t.Errorf("%d starts, want 2", d.Starts())
	}
}

func TestTimeout(t *testing.T) {
	// 1.5 s: long enough for a fresh agent's start and answer on a loaded
	// CI machine under -race, far below the slow arch's 60 s.
	d := fakeDevice(t, "ok", func(c *devices.Config) { c.Timeout = "1500ms" })
	ctx := context.Background()
	if _, err := d.Measure(ctx, smallNet(t, "")); err != nil { // start the agent
		t.Fatal(err)
	}
	// The slow arch never answers: only the device timeout ends it (the
	// bound only keeps a broken timeout from hanging the test).
	done := make(chan error, 1)
	go func() {
		_, err := d.Measure(ctx, smallNet(t, "slow"))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the 1.5 s device timeout did not end the measurement")
	}
	if err == nil || errors.Is(err, devices.ErrTransient) || !strings.Contains(err.Error(), "device timeout") ||
		!errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow: %v, want a device timeout", err)
	}
	if _, err := d.Measure(ctx, smallNet(t, "")); err != nil {
		t.Fatalf("after a timeout: %v", err)
	}
	if d.Starts() != 2 {
		t.Errorf("%d starts, want 2 (the hung agent is replaced)", d.Starts())
	}
}

func TestCancelAndClose(t *testing.T) {
	d := fakeDevice(t, "ok", nil)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(200 * time.Millisecond); cancel() }()
	_, err := d.Measure(ctx, smallNet(t, "slow"))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := d.Measure(context.Background(), smallNet(t, "slow"))
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := d.Close(); err != nil {
		t.Error(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("Measure succeeded after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the measurement in flight")
	}
	if _, err := d.Measure(context.Background(), smallNet(t, "")); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Measure after Close: %v", err)
	}
}

func TestHelloProblems(t *testing.T) {
	for _, c := range []struct{ mode, want string }{
		{"nohello", "Loading model..."},
		{"badproto", "protocol 99"},
		{"helloerror", "No module named 'torch'"},
		{"exit", "can't open file"},
		{"silent", "device timeout"},
	} {
		t.Run(c.mode, func(t *testing.T) {
			d := fakeDevice(t, c.mode, func(cfg *devices.Config) { cfg.Timeout = "400ms" })
			_, err := d.Check(context.Background())
			if err == nil || !strings.Contains(err.Error(), c.want) || errors.Is(err, devices.ErrTransient) {
				t.Errorf("Check: %v, want a non-transient error mentioning %q", err, c.want)
			}
			if _, err := d.Measure(context.Background(), smallNet(t, "")); err == nil {
				t.Error("Measure succeeded")
			}
		})
	}
}

func TestCheck(t *testing.T) {
	d := fakeDevice(t, "ok", nil)
	info, err := d.Check(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.Hardware != "Fake GPU, CUDA 12.4" || info.Runtime != "fake" {
		t.Errorf("Check info %+v", info)
	}
	// A hello without the configured target fails the check.
	d = fakeDevice(t, "ok", func(c *devices.Config) {
		c.Command = []string{"sh", "-c", `echo '{"hello":"blockprof-agent","protocol":1,"targets":["cpu"]}'; sleep 30`}
	})
	if _, err := d.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot time on cuda") {
		t.Errorf("Check without cuda: %v", err)
	}
}

func TestScriptCopiedOnce(t *testing.T) {
	// {agent} is the embedded script copied into the run directory; here
	// a shell stands in for python and checks it is there.
	d := fakeDevice(t, "", func(c *devices.Config) {
		c.Command = []string{"sh", "-c", `cmp -s "$0" "$1" && exec sh "$2" ok`, "{agent}", "{dir}/" + ScriptName, fakeScript(t)}
	})
	ctx := context.Background()
	if _, err := d.Measure(ctx, smallNet(t, "")); err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	script := d.script
	d.mu.Unlock()
	data, err := os.ReadFile(script)
	if err != nil || string(data) != string(Script) {
		t.Fatalf("script at %s: %v", script, err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(script); !os.IsNotExist(err) {
		t.Errorf("the run directory survived Close: %v", err)
	}
}

// TestHostileAgentOutput: an agent whose hello, replies and stderr carry
// terminal escapes gives an Info and errors that are safe to print.
func TestHostileAgentOutput(t *testing.T) {
	hello := strings.ReplaceAll(hostileHello, `"targets":["cuda","\u001bc"]`, `"targets":["cuda"]`)
	tests := []struct {
		name, script string
	}{
		{"error reply", `read line; printf '%s\n' '{"id":1,"error":"OOM \u001b]0;pwned\u0007\u001b[2J"}'; sleep 30`},
		{"crash with stderr", `read line; printf 'Traceback \033]0;pwned\007\033[2J\302\233\377' >&2; exit 3`},
		{"garbled reply", `read line; printf '\033[2Jnot json\n'; sleep 30`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := fakeDevice(t, "", func(c *devices.Config) {
				c.Command = []string{"sh", "-c", `printf '%s\n' "$0"; ` + tc.script, hello}
			})
			info, err := d.Check(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{info.Runtime, info.Version, info.Host, info.Hardware, info.Mode} {
				if !safetext.Safe(f) || strings.Contains(f, "\n") {
					t.Errorf("Info keeps %q", f)
				}
			}
			_, err = d.Measure(context.Background(), smallNet(t, ""))
			if err == nil {
				t.Fatal("Measure succeeded")
			}
			if !safetext.Safe(err.Error()) || !strings.Contains(err.Error(), `\x1b`) {
				t.Errorf("Measure error is not escaped: %q", err)
			}
		})
	}
}
