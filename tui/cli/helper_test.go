package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/devices/ondevice"
)

// TestHelperCommand: `blockprof helper --dir DIR` answers a request read
// from stdin with the model file it wrote, after its hello; --version
// prints the hello alone.
func TestHelperCommand(t *testing.T) {
	cfg, err := loadConfig(&Env{}, "../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := cfg.Spaces.Get("ofa-mbv3")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := json.Marshal(ondevice.Request{Space: sp.Name, Define: sp, Arch: sp.MinArch(160).String(), Seed: 1, Out: "model.onnx"})
	dir := t.TempDir()
	var out bytes.Buffer
	env := &Env{Ctx: context.Background(), Stdin: strings.NewReader(string(req) + "\n"), Stdout: &out, Stderr: &bytes.Buffer{}}
	if err := Run(env, []string{"helper", "--dir", dir}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("output %q: want a hello and a reply", out.String())
	}
	if _, err := ondevice.ParseHello([]byte(lines[0])); err != nil {
		t.Error(err)
	}
	rep, err := ondevice.ParseReply([]byte(lines[1]))
	if err != nil || rep.Error != "" || rep.Path != filepath.Join(dir, "model.onnx") {
		t.Fatalf("reply %+v: %v", rep, err)
	}
	if fi, err := os.Stat(rep.Path); err != nil || fi.Size() != rep.Bytes {
		t.Errorf("model file: %v (reply says %d bytes)", err, rep.Bytes)
	}

	out.Reset()
	if err := Run(env, []string{"helper", "--version"}); err != nil {
		t.Fatal(err)
	}
	if h, err := ondevice.ParseHello(bytes.TrimSpace(out.Bytes())); err != nil || h.Protocol != ondevice.Protocol {
		t.Errorf("--version: %q %v", out.String(), err)
	}
	if err := Run(env, []string{"helper"}); err == nil || !strings.Contains(err.Error(), "--dir") {
		t.Errorf("no --dir: %v", err)
	}
}

// TestDevicesCheckHelperFallback: a command device that cannot build its
// models on the target (the helper is not a Go program) still passes its
// check by copying, and `devices --check` says so and why.
func TestDevicesCheckHelperFallback(t *testing.T) {
	tool, err := filepath.Abs("../../devices/command/testdata/fake_trtexec.sh")
	if err != nil {
		t.Fatal(err)
	}
	spaces, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	skip := false
	for _, line := range strings.Split(string(spaces), "\n") {
		if h := strings.TrimSpace(line); strings.HasPrefix(h, "[") {
			skip = h == "[plan]" || strings.HasPrefix(h, "[[devices") || strings.HasPrefix(h, "[devices")
		}
		if !skip {
			keep = append(keep, line)
		}
	}
	keep = append(keep, `
[[devices]]
name = "board"
kind = "command"
argv = ["sh", "`+tool+`", "--onnx={model}"]
parser = "trtexec"
build_on_device = "auto"
helper = "/bin/sh"
helper_dir = "`+t.TempDir()+`"

[plan]
space = "ofa-mbv3-w1.0"
resolution = 160
`)
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	env, out := devicesEnv()
	if err := Run(env, []string{"devices", "--config", path, "--check", "--json"}); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []deviceOut
	if err := json.Unmarshal(out.Bytes(), &got); err != nil || len(got) != 1 || got[0].Check == nil || got[0].Check.Info == nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if h := got[0].Check.Info.Helper; !strings.Contains(h, "models copied") || !strings.Contains(h, "/bin/sh: not a Go executable") {
		t.Errorf("info.helper = %q, want the fallback and its reason", h)
	}
	env, out = devicesEnv()
	if err := Run(env, []string{"devices", "--config", path, "--check"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "board: ok: ") || !strings.Contains(out.String(), "models copied: the helper cannot build them on the target") {
		t.Errorf("text check:\n%s", out)
	}
}

// noteDevice is a fake device whose models travel as helper says.
type noteDevice struct {
	*fakeDevice
	helper string
}

func (d noteDevice) Info() devices.Info {
	info := d.fakeDevice.Info()
	info.Helper = d.helper
	return info
}

// TestProfileHelperNotes: after a run, profile says on stderr how each
// device's models reached the target (the fallback's warning), and says
// nothing for devices without build_on_device.
func TestProfileHelperNotes(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	open := func(_ context.Context, cfg devices.Config, _ backends.Options) (devices.Device, error) {
		d := &fakeDevice{name: cfg.Name}
		if cfg.Name == "cpu" {
			return noteDevice{d, "models copied: the helper cannot build them on the target: \x1b[2Jnoexec"}, nil
		}
		return d, nil
	}
	env, _, errw := testEnv(context.Background(), embedded)
	if err := profile(env, []string{"--config", cfgPath, "--store", db, "--plan", "uniform=2"}, open); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errw.String(), "profile: cpu: models copied: the helper cannot build them on the target: \\x1b[2Jnoexec\n") {
		t.Errorf("stderr lacks the helper note, escaped:\n%s", errw)
	}
	if strings.Count(errw.String(), ": models ") != 1 {
		t.Errorf("a device without build_on_device got a note:\n%s", errw)
	}
}
