package ort

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/model"
	"blockprof/model/modeltest"
	"blockprof/model/onnx"
)

// TestWorkDir: the weight file and model files live in a directory of
// their own, which Close removes; a directory a dead process left is
// removed by the next one made, a live process's is not.
func TestWorkDir(t *testing.T) {
	parent := t.TempDir()
	stale := filepath.Join(parent, workDirPrefix+"999999999-abc") // no such process
	live := filepath.Join(parent, workDirPrefix+strconv.Itoa(os.Getppid())+"-abc")
	other := filepath.Join(parent, "blockprof-something-else")
	for _, d := range []string{stale, live, other} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// A link named like a dead process's directory is not followed.
	target := t.TempDir()
	keep := filepath.Join(target, "keep")
	if err := os.WriteFile(keep, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(parent, workDirPrefix+"999999998-link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	w, err := newWorkDir(parent, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct {
		path string
		kept bool
	}{{stale, false}, {live, true}, {other, true}, {link, true}, {keep, true}} {
		if _, err := os.Stat(d.path); (err == nil) != d.kept {
			t.Errorf("%s: kept %v, want %v", d.path, err == nil, d.kept)
		}
	}
	if filepath.Dir(w.path) != parent || !strings.HasPrefix(filepath.Base(w.path), workDirPrefix+strconv.Itoa(os.Getpid())+"-") {
		t.Errorf("work dir %s: want %s%d-… in %s", w.path, workDirPrefix, os.Getpid(), parent)
	}
	f, done, err := w.modelFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onnx.WriteExternal(f, smallNet(t), onnx.Options{Seed: 1}, w.weights); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(w.path, weightFileName)); err != nil || st.Size() == 0 || st.Size() != w.weights.Size() {
		t.Errorf("weight file: %v, %v; want %d bytes", st, err, w.weights.Size())
	}
	done()
	if _, err := os.Stat(f.Name()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("model file after done: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(w.path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("work dir after Close: %v", err)
	}
}

// TestWorkDirUnwritable: a $TMPDIR that cannot hold the models is an
// error that names it and says what to do.
func TestWorkDirUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := newWorkDir(dir, 1)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "TMPDIR") {
		t.Errorf("err = %v, want one naming %s and TMPDIR", err, dir)
	}
}

// TestDeviceModelFiles: the device's models go through a work directory
// in $TMPDIR, which holds only the weight file between measurements and
// goes with the device; Check reports a $TMPDIR that cannot hold them.
func TestDeviceModelFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Warmup: 1, Repeat: 2, MaxRepeat: 2}
	d := testDevice(t, cfg, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")))
	if d.tmpDir != dir {
		t.Fatalf("tmpDir = %s, want $TMPDIR %s", d.tmpDir, dir)
	}
	d.memDir = "" // as on a machine without a tmpfs (TestWorkDirInMemory)
	if _, err := d.Measure(context.Background(), smallNet(t)); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 || d.work == nil || left[0].Name() != filepath.Base(d.work.path) {
		t.Fatalf("in $TMPDIR after a measurement: %v, want the work directory only", left)
	}
	if left, _ := os.ReadDir(d.work.path); len(left) != 1 || left[0].Name() != weightFileName {
		t.Errorf("in the work directory after a measurement: %v, want %s only", left, weightFileName)
	}
	// A weight file that cannot grow (here: opened read-only under the
	// device) fails the export, saying where and what to do.
	ro, err := os.Open(d.work.file.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	writable := d.work.weights
	d.work.weights = onnx.NewWeights(ro, weightFileName, weightSeed)
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	big, err := sp.Network(sp.MaxArch(224))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Measure(context.Background(), big); err == nil || !strings.Contains(err.Error(), "weight file") ||
		!strings.Contains(err.Error(), d.work.path) || !strings.Contains(err.Error(), "TMPDIR") {
		t.Errorf("Measure with a weight file that cannot grow: err = %v, want one naming the weight file, %s and TMPDIR", err, d.work.path)
	}
	d.work.weights = writable
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in $TMPDIR after Close: %v", left)
	}

	d.tmpDir = filepath.Join(dir, "gone")
	if _, err := d.Check(context.Background()); err == nil || !strings.Contains(err.Error(), d.tmpDir) {
		t.Errorf("Check with an unwritable $TMPDIR: err = %v, want one naming %s", err, d.tmpDir)
	}
	if _, err := d.Measure(context.Background(), smallNet(t)); err == nil || !strings.Contains(err.Error(), "TMPDIR") {
		t.Errorf("Measure with an unwritable $TMPDIR: err = %v, want one saying TMPDIR", err)
	}
}

// TestNewSessionFileErrors: a model file ONNX Runtime cannot load is an
// error naming what failed (and the tensors allocated for it are released,
// not a crash).
func TestNewSessionFileErrors(t *testing.T) {
	rt := testRuntime(t)
	net := smallNet(t)
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "model.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := onnx.Write(f, net, onnx.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	opts := cpuOptions()
	for _, tc := range []struct {
		name, path string
	}{
		{"missing", filepath.Join(dir, "missing.onnx")},
		{"not a model", writeFile(t, dir, "junk.onnx", []byte("not an onnx model"))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := rt.NewSessionFile(tc.path, w.Inputs, w.Outputs, opts)
			if err == nil {
				s.Close()
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), "create session") {
				t.Errorf("err = %v, want it to say the session was not created", err)
			}
		})
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestExternalModelRuns: ONNX Runtime loads a model whose weights are
// windows of the weight file, for the smallest and largest net, and its
// outputs are finite numbers that vary (sane weights: no overflow, no
// collapse to a constant).
func TestExternalModelRuns(t *testing.T) {
	rt := testRuntime(t)
	w := testWorkDir(t)
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	for _, arch := range []model.Arch{sp.MinArch(160), sp.MaxArch(224)} {
		net, err := sp.Network(arch)
		if err != nil {
			t.Fatal(err)
		}
		s, err := w.load(context.Background(), rt, net, onnx.Options{Seed: weightSeed}, cpuOptions())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		out := s.Outputs()[0].Data
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range out {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s: output %v", net.Arch, v)
			}
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		if len(out) != 1000 || !(hi > lo) {
			t.Errorf("%s: %d outputs in [%g, %g]", net.Arch, len(out), lo, hi)
		}
		s.Close()
	}
}

// TestWorkDirPID reads the process ID from work directory names and
// nothing from other names, whatever they hold.
func TestWorkDirPID(t *testing.T) {
	for _, tc := range []struct {
		name string
		pid  int
		ok   bool
	}{
		{"blockprof-ort-123-456789", 123, true},
		{"blockprof-ort-1-", 1, true},
		{"blockprof-ort--123", 0, false},
		{"blockprof-ort-0-x", 0, false},
		{"blockprof-ort-12a-x", 0, false},
		{"blockprof-ort-+12-x", 0, false},
		{"blockprof-ort-123", 0, false},
		{"blockprof-ort-99999999999999999999-x", 0, false},
		{"blockprof-model-1.onnx", 0, false},
		{"other", 0, false},
	} {
		pid, ok := workDirPID(tc.name)
		if pid != tc.pid || ok != tc.ok {
			t.Errorf("workDirPID(%q) = %d, %v; want %d, %v", tc.name, pid, ok, tc.pid, tc.ok)
		}
	}
}

// FuzzWorkDirPID: names in $TMPDIR are anyone's; reading them never
// panics, and a name it accepts is one newWorkDir makes for that ID.
func FuzzWorkDirPID(f *testing.F) {
	for _, s := range []string{"blockprof-ort-123-456", "blockprof-ort--", "blockprof-ort-9-\x00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		pid, ok := workDirPID(name)
		if ok && (pid <= 0 || !strings.HasPrefix(name, workDirPrefix+strconv.Itoa(pid)+"-")) {
			t.Errorf("workDirPID(%q) = %d", name, pid)
		}
	})
}

// TestWorkDirInMemory: the work directory goes to the device's memory
// directory when it has one (and what a dead process left in $TMPDIR is
// removed all the same), and to $TMPDIR when that one cannot take it;
// TestMemoryDir checks which directory that is on Linux.
func TestWorkDirInMemory(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	stale := filepath.Join(tmp, workDirPrefix+"999999999-abc") // no such process
	if err := os.Mkdir(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Warmup: 1, Repeat: 2, MaxRepeat: 2}
	for _, c := range []struct {
		name, mem string
		want      string // the work directory's parent
	}{
		{"memory", filepath.Join(tmp, "mem"), filepath.Join(tmp, "mem")},
		{"memory gone", filepath.Join(tmp, "gone"), tmp},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.mem == c.want {
				if err := os.Mkdir(c.mem, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			d := testDevice(t, cfg, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")))
			d.memDir = c.mem
			if _, err := d.Measure(context.Background(), smallNet(t)); err != nil {
				t.Fatal(err)
			}
			if got := filepath.Dir(d.work.path); got != c.want {
				t.Errorf("work directory in %s, want %s", got, c.want)
			}
			if _, err := os.Stat(stale); err == nil {
				t.Errorf("%s, left by a dead process, is still there", stale)
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
