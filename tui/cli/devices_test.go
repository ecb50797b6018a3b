package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/devices/safetext"
)

// devicesConfig writes a config with the repository's spaces and this
// test's devices into a temp dir, with a recording and a table beside it
// (relative paths resolve against the config's folder).
func devicesConfig(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	skip := false
	for _, line := range strings.Split(string(data), "\n") {
		if h := strings.TrimSpace(line); strings.HasPrefix(h, "[") {
			skip = h == "[plan]" || strings.HasPrefix(h, "[[devices") || strings.HasPrefix(h, "[devices")
		}
		if !skip {
			keep = append(keep, line)
		}
	}
	keep = append(keep, `
[[devices]]
name = "npu"
kind = "sim"
profile = false
sim = { preset = "npu" }

[[devices]]
name = "lab"
kind = "replay"
file = "data/lab.jsonl"
key = "gpu-b1-fp32-graph"

[[devices]]
name = "note10"
kind = "lut"
path = "tables"
label = "Note10"

[[devices]]
name = "gone"
kind = "replay"
file = "data/absent.jsonl"
key = "gpu-b1-fp32-graph"

[[devices]]
name = "phone"
kind = "agent"
transport = "adb"
serial = "R58M"

[plan]
space = "ofa-mbv3-w1.0"
resolution = 160
`)
	dir := t.TempDir()
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	copyFile("../../devices/replay/testdata/lab-mixed.jsonl", filepath.Join(dir, "data", "lab.jsonl"))
	copyFile("../../devices/replay/testdata/lab-meta.json", filepath.Join(dir, "data", "lab-meta.json"))
	copyFile("../../devices/lut/testdata/224_lookup_table.yaml", filepath.Join(dir, "tables", "224_lookup_table.yaml"))
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func devicesEnv() (*Env, *bytes.Buffer) {
	var out, errw bytes.Buffer
	return &Env{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errw}, &out
}

func TestDevicesList(t *testing.T) {
	path := devicesConfig(t)
	env, out := devicesEnv()
	if err := Run(env, []string{"devices", "--config", path}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	want := [][]string{
		{"NAME", "KIND", "PROFILED", "LABEL", "SETTINGS"},
		{"npu", "sim", "no", "simulated", "preset=npu"},
		{"lab", "replay", "yes", "replayed", "file=data/lab.jsonl", "key=gpu-b1-fp32-graph"},
		{"note10", "lut", "yes", "table", "(Note10)", "path=tables"},
		{"gone", "replay", "yes", "replayed", "file=data/absent.jsonl", "key=gpu-b1-fp32-graph"},
		{"phone", "agent", "yes", "measured", "transport=adb", "serial=R58M"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		got := strings.Fields(lines[i])
		if len(got) < len(w) || strings.Join(got[:len(w)], " ") != strings.Join(w, " ") {
			t.Errorf("line %d: %q, want fields %q", i, lines[i], w)
		}
	}
}

func TestDevicesCheck(t *testing.T) {
	path := devicesConfig(t)
	env, out := devicesEnv()
	err := Run(env, []string{"devices", "--config", path, "--check", "--json"})
	if err == nil || !strings.Contains(err.Error(), "2 of 5 devices failed") {
		t.Fatalf("err %v, want 2 of 5 failed", err)
	}
	var got []deviceOut
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got) != 5 {
		t.Fatalf("%d devices", len(got))
	}
	byName := map[string]deviceOut{}
	for _, d := range got {
		if d.Check == nil {
			t.Fatalf("%s: no check result", d.Name)
		}
		byName[d.Name] = d
	}
	tests := []struct {
		name, label, errPart, hardware string
		ok, probe                      bool
	}{
		{name: "npu", label: "simulated", ok: true, probe: true, hardware: "k7 ×3"},
		{name: "lab", label: "replayed (Lab GPU 16GB, recorded)", ok: true, hardware: "Lab GPU 16GB"},
		{name: "note10", label: "table (Note10)", ok: true, hardware: "tables for R224"},
		{name: "gone", label: "replayed", errPart: "absent.jsonl"},
		{name: "phone", label: "measured", errPart: "adb R58M"},
	}
	for _, tt := range tests {
		d := byName[tt.name]
		c := d.Check
		if c.OK != tt.ok || d.Label != tt.label || !strings.Contains(c.Error, tt.errPart) {
			t.Errorf("%s: ok=%v label=%q error=%q", tt.name, c.OK, d.Label, c.Error)
		}
		if tt.ok && (c.Info == nil || !strings.Contains(c.Info.Hardware, tt.hardware)) {
			t.Errorf("%s: info %+v", tt.name, c.Info)
		}
		if tt.probe != (c.Probe != "") || (tt.probe && (!strings.HasPrefix(c.Probe, "ofa-mbv3-w1.0:160:") || c.LatencyMs <= 0)) {
			t.Errorf("%s: probe %q %v ms", tt.name, c.Probe, c.LatencyMs)
		}
	}

	env, out = devicesEnv()
	err = Run(env, []string{"devices", "--config", path, "--check"})
	if err == nil {
		t.Fatal("text check: no error for the failed devices")
	}
	text := out.String()
	for _, part := range []string{
		"\ncheck:\n",
		"  npu: ok: analytic model; ",
		"ofa-mbv3-w1.0:160:e3k3,e3k3/",
		"  lab: ok: torch 2.0.0; Lab GPU 16GB\n",
		"  gone: FAILED: device gone: replay: open ",
		"  phone: FAILED: device phone: copy torch_agent.py to adb R58M",
	} {
		if !strings.Contains(text, part) {
			t.Errorf("text output lacks %q:\n%s", part, text)
		}
	}
}

func TestDevicesFlags(t *testing.T) {
	env, _ := devicesEnv()
	if err := Run(env, []string{"devices", "extra"}); err == nil || !strings.Contains(err.Error(), "unexpected argument") {
		t.Errorf("stray argument: %v", err)
	}
	if err := Run(env, []string{"devices", "--config", filepath.Join(t.TempDir(), "none.toml")}); err == nil {
		t.Error("missing config: no error")
	}
}

// TestDevicesCheckRefusesNegativeTiming: the audit's negative timing
// settings (issue 13) fail `devices --check` at the config, naming the
// file, the line and the key, instead of being replaced by defaults.
func TestDevicesCheckRefusesNegativeTiming(t *testing.T) {
	var err error
	for _, c := range []struct{ file, want string }{
		{"audit-repeat.toml", ":6: devices.1.repeat: device npu: -5 outside"},
		{"audit-max-repeat.toml", ":6: devices.1.max_repeat: device npu: -1 outside"},
		{"audit-warmup.toml", ":6: devices.1.warmup: device npu: -3 outside"},
		{"audit-target-spread.toml", ":6: devices.1.target_spread: device npu: -0.5 outside"},
		{"audit-retries.toml", ":3: plan.retries: -7 outside"},
	} {
		t.Run(c.file, func(t *testing.T) {
			path := filepath.Join("..", "..", "engine", "config", "testdata", "hostile", "config", c.file)
			env, out := devicesEnv()
			if env.Embedded, err = os.ReadFile("../../config.toml"); err != nil {
				t.Fatal(err)
			}
			err := Run(env, []string{"devices", "--check", "--config", path})
			if err == nil || !strings.HasPrefix(err.Error(), path+c.want) {
				t.Fatalf("error %v, want %s%s…", err, path, c.want)
			}
			if strings.Contains(out.String(), "ok") {
				t.Errorf("a device was reported ok:\n%s", out)
			}
		})
	}
}

// TestDevicesCheckEscapesToolOutput: a benchmark tool that prints terminal
// escapes (a title, a clear screen, the C1 CSI) cannot act on the terminal
// through `devices --check`.
func TestDevicesCheckEscapesToolOutput(t *testing.T) {
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(data), "\n[[devices]]\n")
	cfg := string(data[:i]) + `
[[devices]]
name = "evil"
kind = "command"
argv = ["sh", "-c", 'printf "tool failed \033]0;pwned\007\033[2J\302\233 %s\n" "$0" >&2; exit 2', "{model}"]
parser = "trtexec"
`
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	env, out := devicesEnv()
	err = Run(env, []string{"devices", "--check", "--config", path})
	if err == nil || !strings.Contains(err.Error(), "1 of 1 devices failed") {
		t.Fatalf("error %v, want the failing tool's device to fail the check", err)
	}
	text := out.String()
	if !strings.Contains(text, "evil: FAILED: ") || !strings.Contains(text, `tool failed \x1b]0;pwned\x07\x1b[2J\u009b`) {
		t.Fatalf("the failure does not show the tool's output, escaped:\n%s", text)
	}
	if !safetext.Safe(text) {
		t.Errorf("devices --check printed terminal controls:\n%q", text)
	}
}
