package command

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/devices/transport"
	"blockprof/devices/transport/sshtest"
	"blockprof/model"
	"blockprof/model/export"
)

func testSpace(t testing.TB) *model.Space {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ss.Get("ofa-mbv3")
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func network(t testing.TB, sp *model.Space, a model.Arch) *model.Network {
	t.Helper()
	n, err := sp.Network(a)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func fakeTool(t testing.TB) string {
	t.Helper()
	p, err := filepath.Abs("testdata/fake_trtexec.sh")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeConfig runs the fake trtexec with the given extra arguments.
func fakeConfig(t testing.TB, extra ...string) devices.Config {
	return devices.Config{Name: "fake-trt", Kind: "command", Parser: "trtexec", Threads: 2, Batch: 1, Timeout: "30s",
		Argv: append([]string{"sh", fakeTool(t), "--onnx={model}", "--threads={threads}", "--batch={batch}"}, extra...)}
}

func newDevice(t testing.TB, cfg devices.Config, tr transport.Transport) *Device {
	t.Helper()
	d, err := New(cfg, tr, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// checkMeasure measures archs and checks each latency is the one the fake
// tool derives from the exported model's size: the tool read this
// network's export.
func checkMeasure(t *testing.T, d *Device, sp *model.Space, archs ...model.Arch) {
	t.Helper()
	ctx := context.Background()
	for _, a := range archs {
		net := network(t, sp, a)
		m, err := d.Measure(ctx, net)
		if err != nil {
			t.Fatal(err)
		}
		data, err := export.ONNX(context.Background(), net, export.Request{Format: "onnx", Seed: weightSeed, Batch: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := float64(len(data)) / 1e6
		if got := median(m.SamplesMs); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: median %v ms, want %v (the size of its export)", a, got, want)
		}
		if !m.Summary || len(m.SamplesMs) != 3 || m.Warmup != 412 || !strings.HasPrefix(m.Mode, "trtexec (GPU Compute Time)") || !strings.Contains(m.Raw, "GPU Compute Time") {
			t.Errorf("%s: measurement %+v", a, m)
		}
	}
}

func TestMeasureLocal(t *testing.T) {
	sp := testSpace(t)
	logDir := t.TempDir()
	canary := t.TempDir()
	hostile := "--note=$(touch " + canary + "/pwned); touch " + canary + "/pwned2 `touch " + canary + "/pwned3`"
	d := newDevice(t, fakeConfig(t, "--log="+logDir, hostile, "--shapes=input:{batch}x3x{resolution}x{resolution}"), transport.NewLocal())
	info := d.Info()
	if info.Label != "measured (trtexec)" || info.Provenance != devices.Measured || info.Runtime != "trtexec" || !info.Local || info.Threads != 2 {
		t.Errorf("info %+v", info)
	}
	checkMeasure(t, d, sp, sp.MinArch(160), sp.MaxArch(224))

	// The tool got one argument per template element, substituted, and
	// the hostile one verbatim.
	raw, err := os.ReadFile(filepath.Join(logDir, "argv"))
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(raw), "\x00"), "\x00")
	dir, _ := d.tr.Dir(context.Background())
	want := []string{"--onnx=" + dir + "/model.onnx", "--threads=2", "--batch=1", "--log=" + logDir, hostile, "--shapes=input:1x3x224x224"}
	if !slices.Equal(got, want) {
		t.Errorf("tool argv\n got %q\nwant %q", got, want)
	}
	if entries, _ := os.ReadDir(canary); len(entries) != 0 {
		t.Errorf("a hostile argument ran a command: %v", entries)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("run directory %s survived Close", dir)
	}
}

func TestMeasureOverSSH(t *testing.T) {
	srv := sshtest.Start(t)
	tr, err := transport.NewSSH(srv.Options())
	if err != nil {
		t.Fatal(err)
	}
	sp := testSpace(t)
	d := newDevice(t, fakeConfig(t), tr)
	if d.Info().Local || !strings.HasPrefix(d.Info().Host, "ssh ") {
		t.Errorf("info %+v", d.Info())
	}
	checkMeasure(t, d, sp, sp.MinArch(160))
}

func TestToolFailures(t *testing.T) {
	sp := testSpace(t)
	net := network(t, sp, sp.MinArch(160))
	ctx := context.Background()
	for _, c := range []struct {
		extra []string
		cfg   func(*devices.Config)
		want  string
	}{
		{[]string{"--fail"}, nil, "out of memory"},
		{[]string{"--garbage"}, nil, "cannot read the latency"},
		{[]string{"--sleep"}, func(c *devices.Config) { c.Timeout = "300ms" }, "device timeout"},
		{nil, func(c *devices.Config) { c.Argv[1] = "/nonexistent/trtexec" }, "/nonexistent/trtexec"},
	} {
		cfg := fakeConfig(t, c.extra...)
		if c.cfg != nil {
			c.cfg(&cfg)
		}
		d := newDevice(t, cfg, transport.NewLocal())
		_, err := d.Measure(ctx, net)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), net.Arch) || errors.Is(err, devices.ErrTransient) {
			t.Errorf("%v: %v, want a non-transient error naming the arch and mentioning %q", c.extra, err, c.want)
		}
	}
}

func TestDisconnectIsTransient(t *testing.T) {
	// An adb device that is offline: the copy fails as a lost connection.
	tr, err := transport.NewADB(transport.ADBOptions{Serial: "offline", ADB: fakeADB(t)})
	if err != nil {
		t.Fatal(err)
	}
	sp := testSpace(t)
	d := newDevice(t, fakeConfig(t), tr)
	_, err = d.Measure(context.Background(), network(t, sp, sp.MinArch(160)))
	if !errors.Is(err, devices.ErrTransient) || !errors.Is(err, transport.ErrDisconnected) {
		t.Errorf("offline device: %v, want a transient error", err)
	}
}

func fakeADB(t *testing.T) string {
	src, err := os.ReadFile("../transport/testdata/fake_adb.sh")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "adb")
	if err := os.WriteFile(p, src, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestMeasureOverADB(t *testing.T) {
	tr, err := transport.NewADB(transport.ADBOptions{Serial: "emulator-5554", ADB: fakeADB(t), TempBase: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sp := testSpace(t)
	checkMeasure(t, newDevice(t, fakeConfig(t), tr), sp, sp.MinArch(176))
}

func TestRegexParserLabel(t *testing.T) {
	cfg := devices.Config{Name: "r", Parser: "regex", Regex: `Inference \(avg\): (\S+)`, Unit: "us", Format: "tflite",
		Argv: []string{"env", "LD_LIBRARY_PATH=/data/local/tmp", "/data/local/tmp/my_bench", "--graph={model}"}}
	d := newDevice(t, cfg, transport.NewLocal())
	if d.Info().Label != "measured (my_bench)" || ToolName(cfg) != "my_bench" {
		t.Errorf("label %q, tool %q", d.Info().Label, ToolName(cfg))
	}
	if got := d.Argv("/x/model.onnx", "/x", 224); !slices.Equal(got, []string{"env", "LD_LIBRARY_PATH=/data/local/tmp", "/data/local/tmp/my_bench", "--graph=/x/model.onnx"}) {
		t.Errorf("argv %q", got)
	}
}

func TestNewRejects(t *testing.T) {
	for _, c := range []struct {
		cfg  devices.Config
		want string
	}{
		{devices.Config{Name: "x", Kind: "ort"}, "not command"},
		{devices.Config{Name: "x", Parser: "trtexec"}, "no argv"},
		{devices.Config{Name: "x", Parser: "trtexec", Argv: []string{"trtexec", "--onnx=model.onnx"}}, "never names {model}"},
		{devices.Config{Name: "x", Parser: "trtexec", Argv: []string{"trtexec", "--onnx={modle}"}}, "unknown placeholder {modle}"},
		{devices.Config{Name: "x", Argv: []string{"trtexec", "--onnx={model}"}}, "no parser"},
		{devices.Config{Name: "x", Parser: "tensorflow", Argv: []string{"t", "{model}"}}, "unknown parser"},
		{devices.Config{Name: "x", Parser: "regex", Argv: []string{"t", "{model}"}}, "regex"},
		{devices.Config{Name: "x", Parser: "trtexec", Batch: -2, Argv: []string{"t", "{model}"}}, "batch"},
		{devices.Config{Name: "x", Parser: "trtexec", Timeout: "-1s", Argv: []string{"t", "{model}"}}, "timeout"},
		{devices.Config{Name: "x", Parser: "regex", Regex: `(\d+) ms`, Argv: []string{"my_bench", "{model}"}}, `format: the model format cannot be inferred from the tool "my_bench"`},
	} {
		_, err := New(c.cfg, transport.NewLocal(), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "x") {
			t.Errorf("New(%+v) = %v, want an error about %q", c.cfg, err, c.want)
		}
	}
	// JSON braces are text, not placeholders.
	if _, err := New(devices.Config{Name: "x", Parser: "trtexec", Argv: []string{"t", "{model}", `--cfg={"a": 1}`}}, transport.NewLocal(), nil); err != nil {
		t.Error(err)
	}
}

// TestHostileToolOutput: a tool that prints terminal escapes (a title, a
// clear screen, the C1 CSI, NUL, invalid UTF-8) on failure or around its
// figures gives errors and a measurement that are safe to print.
func TestHostileToolOutput(t *testing.T) {
	sp := testSpace(t)
	net := network(t, sp, sp.MinArch(160))
	const esc = `\033]0;pwned\007\033[2J\302\233\000\377`
	for _, c := range []struct {
		name, script string
		fails        bool
	}{
		{"failing tool", `printf 'error ` + esc + `\n' >&2; exit 2`, true},
		{"unreadable output", `printf '` + esc + ` no latency here\n'`, true},
		{"figures among escapes", `printf '` + esc + `\n[I] GPU Compute Time: min = 1.0 ms, max = 3.0 ms, mean = 2.0 ms, median = 2.0 ms ` + esc + `\n'`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := devices.Config{Name: "evil", Kind: "command", Parser: "trtexec", Timeout: "30s",
				Argv: []string{"sh", "-c", c.script, "{model}"}}
			d := newDevice(t, cfg, transport.NewLocal())
			m, err := d.Measure(context.Background(), net)
			if c.fails {
				if err == nil || !safetext.Safe(err.Error()) || !strings.Contains(err.Error(), `\x1b]0;pwned`) {
					t.Fatalf("error %q: want one that shows the escapes, escaped", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !safetext.Safe(m.Raw) || !safetext.Safe(m.Mode) || median(m.SamplesMs) != 2 {
				t.Errorf("measurement %+v", m)
			}
		})
	}
}
