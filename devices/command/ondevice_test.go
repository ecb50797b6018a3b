package command

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/ondevice"
	"blockprof/devices/safetext"
	"blockprof/devices/transport"
	"blockprof/devices/transport/sshtest"
	"blockprof/model"
	"blockprof/model/export"
)

// buildHelper cross-builds blockprof for this machine's architecture as
// the helper is built for a phone: CGO_ENABLED=0, static, stripped.
func buildHelper(t *testing.T) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "blockprof-"+runtime.GOOS+"-"+runtime.GOARCH)
	cmd := exec.Command("go", "build", "-ldflags=-s -w", "-o", out, ".")
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, b)
	}
	return out
}

func testSpaces(t testing.TB) *model.Spaces {
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

// onDeviceConfig is fakeConfig building models on the target.
func onDeviceConfig(t *testing.T, mode, helper, helperDir string) devices.Config {
	cfg := fakeConfig(t)
	cfg.BuildOnDevice, cfg.Helper, cfg.HelperDir = mode, helper, helperDir
	return cfg
}

// wrapADB writes an adb that answers some device commands itself (a
// script of case patterns on "$*") and passes the rest to the fake adb;
// it logs the size of every pushed file to pushLog.
func wrapADB(t *testing.T, pushLog, cases string) string {
	t.Helper()
	real := fakeADB(t)
	p := filepath.Join(t.TempDir(), "adb")
	script := fmt.Sprintf(`#!/bin/sh
case "$*" in
*" push "*) eval "last=\${$#}"; eval "src=\${$(($# - 1))}"; wc -c <"$src" >>%q ;;
esac
case "$*" in
%s
esac
exec %q "$@"
`, pushLog, cases, real)
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// pushed sums the pushed sizes the adb wrapper logged.
func pushed(t *testing.T, pushLog string) (n int, total int64) {
	t.Helper()
	b, err := os.ReadFile(pushLog)
	if os.IsNotExist(err) {
		return 0, 0
	}
	for _, f := range strings.Fields(string(b)) {
		var v int64
		fmt.Sscan(f, &v)
		n, total = n+1, total+v
	}
	return n, total
}

// measureBuilt measures archs and checks each model the tool read is the
// host's export, byte for byte.
func measureBuilt(t *testing.T, d *Device, ss *model.Spaces, archs []model.Arch) {
	t.Helper()
	for _, a := range archs {
		sp, _ := ss.Get(a.Space)
		checkMeasure(t, d, sp, a)
		dir, err := d.tr.Dir(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, ModelName("onnx")))
		if err != nil {
			t.Fatal(err)
		}
		want, err := export.ONNX(context.Background(), network(t, sp, a), export.Request{Format: "onnx", Seed: weightSeed, Batch: 1})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the model on the target (%d bytes) is not the export (%d bytes)", a, len(got), len(want))
		}
	}
}

func testArchs(ss *model.Spaces) []model.Arch {
	var out []model.Arch
	// The largest ofa-resnet50 net (193 MB) is left out: exporting it a
	// few times per test costs more than it shows.
	for _, name := range []string{"ofa-mbv3", "ofa-resnet50"} {
		sp, err := ss.Get(name)
		if err != nil {
			continue
		}
		out = append(out, sp.MinArch(sp.Resolution))
		if name == "ofa-mbv3" {
			out = append(out, sp.MaxArch(sp.Resolution))
		}
	}
	return out
}

// TestOnDevice runs the helper, cross-built once for this machine, on
// targets reached over a fake adb (which runs its shell commands and
// pushes here) and over ssh to a loopback sshd.
func TestOnDevice(t *testing.T) {
	helper := buildHelper(t)
	ss := testSpaces(t)
	archs := testArchs(ss)
	if len(archs) < 3 {
		t.Fatalf("config.toml lost ofa-mbv3 or ofa-resnet50: %d archs", len(archs))
	}
	helperTemplate := filepath.Join(filepath.Dir(helper), "blockprof-{goos}-{goarch}")

	t.Run("adb", func(t *testing.T) {
		pushLog := filepath.Join(t.TempDir(), "pushes")
		adb := wrapADB(t, pushLog, "")
		helperDir := t.TempDir()
		open := func() *Device {
			tr, err := transport.NewADB(transport.ADBOptions{Serial: "emulator-5554", ADB: adb, TempBase: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			d := newDevice(t, onDeviceConfig(t, BuildAlways, helperTemplate, helperDir), tr)
			d.UseSpaces(ss)
			return d
		}
		d := open()
		measureBuilt(t, d, ss, archs)
		tr := d.Traffic()
		helperSize := fileSize(t, helper)
		if tr.Pushes != 1 || tr.PushedBytes != helperSize || tr.Copies != 0 || tr.Built != len(archs) {
			t.Errorf("traffic %+v: want one push of the %d-byte helper and %d models built", tr, helperSize, len(archs))
		}
		if n, total := pushed(t, pushLog); n != 1 || total != helperSize {
			t.Errorf("adb pushed %d files, %d bytes: want only the helper (%d bytes)", n, total, helperSize)
		}
		if h := d.Info().Helper; !strings.Contains(h, "models built on the target by helper") || !strings.Contains(h, runtime.GOOS+"/"+runtime.GOARCH) {
			t.Errorf("Info().Helper = %q", h)
		}
		logTraffic(t, "adb", tr, archs, ss)
		d.Close()

		// A second run finds the same helper on the device: no push.
		d2 := open()
		measureBuilt(t, d2, ss, archs[:1])
		if tr := d2.Traffic(); tr.Pushes != 0 || tr.Built != 1 {
			t.Errorf("second run: traffic %+v, want no push", tr)
		}
		if n, _ := pushed(t, pushLog); n != 1 {
			t.Errorf("second run pushed again: %d pushes in all", n)
		}
	})

	t.Run("ssh", func(t *testing.T) {
		srv := sshtest.Start(t)
		tr, err := transport.NewSSH(srv.Options())
		if err != nil {
			t.Fatal(err)
		}
		d := newDevice(t, onDeviceConfig(t, BuildAlways, helper, t.TempDir()), tr)
		d.UseSpaces(ss)
		measureBuilt(t, d, ss, archs[:2])
		if tr := d.Traffic(); tr.Pushes != 1 || tr.Copies != 0 || tr.Built != 2 {
			t.Errorf("traffic %+v", tr)
		}
		logTraffic(t, "ssh", d.Traffic(), archs[:2], ss)
		if t.Failed() {
			t.Logf("sshd log:\n%s", srv.Log())
		}
	})

	// With "auto", a target that cannot run the helper gets copies, and
	// Info says why; with "always" the same is an error naming the key.
	for _, c := range []struct {
		name, cases, helper string
		want                string
	}{
		{"other architecture", `*" uname -sm") echo "Linux aarch64"; exit 0 ;;`, helper, "the target is linux/arm64"},
		{"no helper for it", `*" uname -sm") echo "Linux aarch64"; exit 0 ;;`, helperTemplate, "blockprof-linux-arm64: no such file"},
		{"noexec", `*"shell chmod "*) exit 0 ;;`, helper, "noexec"},
		{"not a Go program", "", "/bin/sh", "not a Go executable"},
		{"unknown machine", `*" uname -sm") echo "Linux z80"; exit 0 ;;`, helper, `"z80"`},
		// The helper's models differ from this build's export (a helper
		// from another revision): its replies' hashes are rewritten.
		{"other revision", `*"shell -T "*) eval "c=\${$#}"; sh -c "$c" | sed -u 's/"sha256":"[0-9a-f]*"/"sha256":"` + strings.Repeat("0", 64) + `"/'; exit ;;`, helper, "differs from this build's export"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, mode := range []string{BuildAuto, BuildAlways} {
				pushLog := filepath.Join(t.TempDir(), "pushes")
				tr, err := transport.NewADB(transport.ADBOptions{ADB: wrapADB(t, pushLog, c.cases), TempBase: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				d := newDevice(t, onDeviceConfig(t, mode, c.helper, t.TempDir()), tr)
				d.UseSpaces(ss)
				sp, _ := ss.Get("ofa-mbv3")
				if mode == BuildAlways {
					_, err := d.Measure(context.Background(), network(t, sp, archs[0]))
					if err == nil || !strings.Contains(err.Error(), "build_on_device") || !strings.Contains(err.Error(), c.want) {
						t.Errorf("always: %v, want an error about build_on_device and %q", err, c.want)
					}
					continue
				}
				checkMeasure(t, d, sp, archs[0], archs[1])
				if tr := d.Traffic(); tr.Copies != 2 || tr.Built != 0 {
					t.Errorf("auto: traffic %+v, want 2 copies", tr)
				}
				if h := d.Info().Helper; !strings.Contains(h, "models copied") || !strings.Contains(h, c.want) {
					t.Errorf("auto: Info().Helper = %q, want the fallback and %q", h, c.want)
				}
			}
		})
	}

	// A network no configured space rebuilds is copied; the rest are
	// built.
	t.Run("unknown space", func(t *testing.T) {
		d := newDevice(t, onDeviceConfig(t, BuildAuto, helper, t.TempDir()), transport.NewLocal())
		d.UseSpaces(model.NewSpaces())
		sp, _ := ss.Get("ofa-mbv3")
		checkMeasure(t, d, sp, archs[0])
		if tr := d.Traffic(); tr.Copies != 1 || tr.Built != 0 || tr.Pushes != 1 {
			t.Errorf("traffic %+v", tr)
		}
	})

	// The static build: helper --version, and an ort device that says
	// what it lacks.
	t.Run("static binary", func(t *testing.T) {
		out, err := exec.Command(helper, "helper", "--version").Output()
		if err != nil {
			t.Fatal(err)
		}
		h, err := ondevice.ParseHello(bytes.TrimSpace(out))
		if err != nil || h.GOARCH != runtime.GOARCH || h.Protocol != ondevice.Protocol {
			t.Errorf("hello %q: %v", out, err)
		}
		if id, _ := ondevice.BuildID(helper); id != h.Build {
			t.Errorf("build %s, want the file's hash %s", h.Build, id)
		}
		cfg := filepath.Join(t.TempDir(), "ort.toml")
		os.WriteFile(cfg, []byte("[[devices]]\nname = \"cpu\"\nkind = \"ort\"\n"), 0o644)
		cmd := exec.Command(helper, "devices", "--check", "--config", cfg)
		cmd.Dir = t.TempDir()
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), "built without ONNX Runtime (CGO_ENABLED=0)") {
			t.Errorf("devices --check of an ort device in a CGO_ENABLED=0 build: %v\n%s", err, b)
		}
	})
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// logTraffic prints the bytes per arch sent with and without the helper
// (docs/benchmarks.md quotes them).
func logTraffic(t *testing.T, via string, tr Traffic, archs []model.Arch, ss *model.Spaces) {
	t.Helper()
	var copied int64
	for _, a := range archs {
		sp, _ := ss.Get(a.Space)
		data, err := export.ONNX(context.Background(), network(t, sp, a), export.Request{Format: "onnx", Seed: weightSeed, Batch: 1})
		if err != nil {
			t.Fatal(err)
		}
		copied += int64(len(data))
		t.Logf("%s: %s: copy %d bytes", via, a, len(data))
	}
	n := int64(len(archs))
	t.Logf("%s: %d archs: copying sends %d bytes per arch; the helper was sent %d request bytes per arch (%d without the spaces' definitions, %d bytes in all, sent once per space) and read %d reply bytes per arch, after one push of %d bytes",
		via, n, copied/n, tr.RequestBytes/n, (tr.RequestBytes-tr.DefineBytes)/n, tr.DefineBytes, tr.ReplyBytes/n, tr.PushedBytes)
	if tr.RequestBytes/n > copied/n/1000 {
		t.Errorf("%s: %d request bytes per arch: not three orders of magnitude below the copy's %d", via, tr.RequestBytes/n, copied/n)
	}
}

// TestHelperConfigRejects: bad build_on_device, helper and helper_dir
// values are errors naming the key.
func TestHelperConfigRejects(t *testing.T) {
	for _, c := range []struct {
		mode, helper, dir string
		transport         string
		key, want         string
	}{
		{"sometimes", "", "", "", "build_on_device", `"sometimes"`},
		{"", "/x/blockprof", "", "", "helper", "build_on_device is \"never\""},
		{"never", "", "/data/local/tmp", "", "helper_dir", "build_on_device is \"never\""},
		{"auto", "/x/blockprof-{os}", "", "", "helper", "{os}"},
		{"auto", strings.Repeat("x", 2000), "", "", "helper", "at most"},
		{"auto", "", "tmp", "", "helper_dir", "absolute"},
		{"auto", "", "/data/local/tmp/../../etc", "", "helper_dir", "absolute"},
		{"auto", "", "/tmp/a b", "", "helper_dir", "absolute"},
		{"auto", "", "/tmp/$(reboot)", "", "helper_dir", "absolute"},
	} {
		cfg := fakeConfig(t)
		cfg.BuildOnDevice, cfg.Helper, cfg.HelperDir, cfg.Transport = c.mode, c.helper, c.dir, c.transport
		_, err := New(cfg, transport.NewLocal(), nil)
		if err == nil || !strings.Contains(err.Error(), c.key+": ") || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), cfg.Name) {
			t.Errorf("%+v: %v, want an error naming %s and %q", c, err, c.key, c.want)
		}
	}
	for _, c := range []struct{ transport, want string }{{"adb", "/data/local/tmp"}, {"ssh", "/tmp"}, {"", "/tmp"}} {
		hc, err := parseHelperConfig(devices.Config{BuildOnDevice: BuildAuto, Transport: c.transport})
		if err != nil || hc.dir != c.want {
			t.Errorf("%q: helper_dir %q (%v), want %q", c.transport, hc.dir, err, c.want)
		}
	}
}

// TestFingerprintIgnoresHelper: building models on the target does not
// change what a device's numbers mean (the model is byte-identical), so
// the fingerprint stays the same and stored records stay current.
func TestFingerprintIgnoresHelper(t *testing.T) {
	base := fakeConfig(t)
	d := newDevice(t, base, transport.NewLocal())
	want := devices.Fingerprint(base, d.Info())
	on := onDeviceConfig(t, BuildAlways, "/x/blockprof-{goos}-{goarch}", "/data/local/tmp")
	info := d.Info()
	info.Helper = "models built on the target by helper 0123456789ab (linux/arm64, protocol 1)"
	if got := devices.Fingerprint(on, info); got != want {
		t.Errorf("fingerprint with the helper\n %s\nwant\n %s", got, want)
	}
}

func TestTargetPlatform(t *testing.T) {
	for _, c := range []struct{ uname, goos, goarch, err string }{
		{"Linux aarch64\n", "linux", "arm64", ""},
		{"Linux x86_64", "linux", "amd64", ""},
		{"Linux armv7l", "linux", "arm", ""},
		{"Linux armv8l", "linux", "arm", ""},
		{"Darwin arm64", "", "", "Darwin"},
		{"Linux", "", "", "uname -sm"},
		{"Linux \x1b[2Jmips", "", "", "no Go architecture"},
	} {
		goos, goarch, err := targetPlatform(c.uname)
		if goos != c.goos || goarch != c.goarch || (c.err == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%q: %s/%s %v", c.uname, goos, goarch, err)
		}
		if err != nil && strings.ContainsRune(err.Error(), 0x1b) {
			t.Errorf("%q: error carries a terminal escape: %q", c.uname, err)
		}
	}
}

// FuzzTargetPlatform: whatever `uname -sm` prints, the result is a known
// Go platform or an error that is safe to print.
func FuzzTargetPlatform(f *testing.F) {
	for _, s := range []string{"Linux aarch64\n", "Linux x86_64", "Linux armv8l", "Darwin arm64", "", "Linux \x1b]0;x\x07", "a b c"} {
		f.Add(s)
	}
	known := map[string]bool{"arm64": true, "amd64": true, "arm": true, "386": true, "riscv64": true}
	f.Fuzz(func(t *testing.T, uname string) {
		goos, goarch, err := targetPlatform(uname)
		if err != nil {
			if !safetext.Safe(err.Error()) {
				t.Errorf("unsafe error %q", err)
			}
			return
		}
		if goos != "linux" || !known[goarch] {
			t.Errorf("%q: %s/%s", uname, goos, goarch)
		}
	})
}
