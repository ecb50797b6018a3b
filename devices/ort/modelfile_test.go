package ort

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/model/onnx"
)

// TestModelFile writes through both kinds of model file and reads back
// through the path ONNX Runtime is given; after Close nothing is left in
// the directory.
func TestModelFile(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(dir string) (*modelFile, error)
	}{{"default", newModelFile}, {"named", namedModelFile}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f, err := tc.open(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.Repeat([]byte("onnx"), 100_000)
			if _, err := f.file.Write(want); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatalf("read back through %s: %v", f.path, err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("read %d bytes back, wrote %d", len(got), len(want))
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("left in %s after Close: %v", dir, left)
			}
		})
	}
}

// TestModelFileUnwritable: a directory that cannot hold the model is an
// error that names it and says what to do.
func TestModelFileUnwritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := newModelFile(dir)
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "TMPDIR") {
		t.Errorf("err = %v, want one naming %s and TMPDIR", err, dir)
	}
}

// TestDeviceModelFiles: the device's models go through $TMPDIR and none is
// left there after a measurement; Check reports a $TMPDIR that cannot
// hold them.
func TestDeviceModelFiles(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("TMPDIR", dir)
	cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Warmup: 1, Repeat: 2, MaxRepeat: 2}
	d := testDevice(t, cfg, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")))
	if d.tmpDir != dir {
		t.Fatalf("tmpDir = %s, want $TMPDIR %s", d.tmpDir, dir)
	}
	if _, err := d.Measure(context.Background(), smallNet(t)); err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("left in $TMPDIR after a measurement: %v", left)
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
	f, err := newModelFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := onnx.Write(f.file, net, onnx.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{IntraOpThreads: 1, InterOpThreads: 1, Optimization: "all", Batch: 1}
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
