package ort

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/model"
	"blockprof/model/modeltest"
)

// minNet is the smallest OFA-MobileNetV3 (w1.0) network at resolution r.
func minNet(t *testing.T, r int) *model.Network {
	t.Helper()
	s := modeltest.Space(t, "ofa-mbv3-w1.0")
	net, err := s.Network(s.MinArch(r))
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// smallNet is the smallest OFA-MobileNetV3 (w1.0) network at 160 px.
func smallNet(t *testing.T) *model.Network { return minNet(t, 160) }

func testDevice(t *testing.T, cfg devices.Config, lock *devices.HostLock) *Device {
	t.Helper()
	testRuntime(t) // skips without the library
	d, err := New(cfg, lock)
	if err != nil {
		t.Fatal(err)
	}
	d.checks = passedChecks{t.TempDir()} // not the user's cache
	t.Cleanup(func() { d.Close() })
	return d
}

func TestNewRejects(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "libonnxruntime.so")
	tests := []struct {
		name   string
		cfg    devices.Config
		errHas []string
	}{
		{"other kind", devices.Config{Name: "x", Kind: "sim"}, []string{`"sim"`}},
		{"bad optimization", devices.Config{Name: "x", Kind: "ort", Optimization: "max"}, []string{"optimization", "disable, basic, extended, all"}},
		{"negative threads", devices.Config{Name: "x", Kind: "ort", Threads: -1}, []string{"threads"}},
		{"bad protocol", devices.Config{Name: "x", Kind: "ort", Repeat: 10, MaxRepeat: 5}, []string{"max_repeat"}},
		{"bad timeout", devices.Config{Name: "x", Kind: "ort", Timeout: "soon"}, []string{"timeout"}},
		{"tflite", devices.Config{Name: "x", Kind: "ort", Format: "tflite"}, []string{"format", "ONNX"}},
		{"int4", devices.Config{Name: "x", Kind: "ort", Precision: "int4"}, []string{"precision", "int8"}},
		{"missing library", devices.Config{Name: "x", Kind: "ort", Library: missing}, []string{missing, "setup-ort.sh"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(tc.cfg, nil)
			if err == nil {
				d.Close()
				t.Fatal("want an error")
			}
			for _, s := range tc.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}

func TestDeviceMeasure(t *testing.T) {
	cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Optimization: "all", Warmup: 2, Repeat: 3, MaxRepeat: 3}
	d := testDevice(t, cfg, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")))
	info := d.Info()
	if info.Name != "cpu" || info.Kind != "ort" || info.Version != d.rt.Version() || info.Version == "" ||
		info.Provenance != devices.Measured || !info.Local || info.Threads != 1 || info.Batch != 1 || info.Precision != "fp32" {
		t.Errorf("Info() = %+v", info)
	}
	if got, err := d.Check(context.Background()); err != nil || got != info {
		t.Errorf("Check() = %+v, %v", got, err)
	}
	m, err := d.Measure(context.Background(), smallNet(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.SamplesMs) != 3 || m.Warmup != 2 || m.Mode != Mode || m.Summary {
		t.Fatalf("measurement %+v: want 3 samples after 2 warm-up runs, mode %s", m, Mode)
	}
	for i, v := range m.SamplesMs {
		if !(v > 0 && v < 60_000) {
			t.Errorf("sample %d = %v ms", i, v)
		}
	}
}

// TestDevicePrecision times the fp16 and int8 (QDQ) models of a network:
// the precision is in the device's info, its mode and every measurement's
// mode.
func TestDevicePrecision(t *testing.T) {
	for _, p := range []string{"fp16", "int8"} {
		t.Run(p, func(t *testing.T) {
			cfg := devices.Config{Name: "cpu-" + p, Kind: "ort", Threads: 1, Precision: p, Warmup: 1, Repeat: 2, MaxRepeat: 2}
			d := testDevice(t, cfg, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")))
			if info := d.Info(); info.Precision != p || info.Format != "onnx" || !strings.Contains(info.Mode, p) {
				t.Errorf("Info() = %+v", info)
			}
			m, err := d.Measure(context.Background(), smallNet(t))
			if err != nil {
				t.Fatal(err)
			}
			if len(m.SamplesMs) != 2 || m.Mode != Mode+" "+p {
				t.Errorf("measurement %+v: want 2 samples, mode %q", m, Mode+" "+p)
			}
		})
	}
}

// TestDeviceProbe: with probe_every the device times the probe network in
// the window; the probe session is made once and kept.
func TestDeviceProbe(t *testing.T) {
	cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Warmup: 1, Repeat: 6, MaxRepeat: 6, ProbeEvery: 3}
	d := testDevice(t, cfg, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")))
	if !strings.Contains(d.Info().Mode, "probe every 3 runs") {
		t.Errorf("mode %q does not say the probe is on", d.Info().Mode)
	}
	var first *Session
	for i := range 2 {
		m, err := d.Measure(context.Background(), smallNet(t))
		if err != nil {
			t.Fatal(err)
		}
		if len(m.SamplesMs) != 6 || len(m.ProbeMs) != 3 || m.ProbeEvery != 3 {
			t.Fatalf("measurement %d: %d samples, %d probe runs every %d; want 6, 3 every 3", i, len(m.SamplesMs), len(m.ProbeMs), m.ProbeEvery)
		}
		if r := devices.ProbeRatio(m.SamplesMs, m.ProbeMs, m.ProbeEvery); !(r > 0) {
			t.Errorf("ratio %v", r)
		}
		if i == 0 {
			first = d.probe
		} else if d.probe != first {
			t.Error("a second probe session was made")
		}
	}
	net, err := ProbeNetwork()
	if err != nil {
		t.Fatal(err)
	}
	want := minNet(t, 224)
	if net.Resolution != 224 || net.Arch != ProbeArch || net.MACs() != want.MACs() || net.Params() != want.Params() || len(net.Layers) != len(want.Layers) {
		t.Errorf("probe network %s at %d: %d MACs, %d params, %d layers; want those of %s: %d, %d, %d",
			net.Arch, net.Resolution, net.MACs(), net.Params(), len(net.Layers), want.Arch, want.MACs(), want.Params(), len(want.Layers))
	}
	if err := d.Close(); err != nil || d.probe != nil {
		t.Errorf("Close: %v, probe session %v", err, d.probe)
	}
}

func TestDeviceMeasureStops(t *testing.T) {
	net := smallNet(t)
	lock := devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock"))
	cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Warmup: 1, Repeat: devices.MaxRepeat, MaxRepeat: devices.MaxRepeat, Timeout: "300ms"}
	d := testDevice(t, cfg, lock)

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		_, err := d.Measure(ctx, net)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Measure = %v, want context.Canceled", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// A million runs end only by the device timeout (the bound only
		// keeps a broken timeout from hanging the test).
		done := make(chan error, 1)
		go func() {
			_, err := d.Measure(context.Background(), net)
			done <- err
		}()
		var err error
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute):
			t.Fatal("the 300ms device timeout did not stop a million runs")
		}
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "device timeout 300ms") || !errors.Is(err, devices.ErrStalledHost) {
			t.Fatalf("Measure = %v, want the device timeout, on the host lock", err)
		}
	})
	t.Run("waits for the host lock", func(t *testing.T) {
		if err := lock.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		defer lock.Unlock()
		_, err := d.Measure(context.Background(), net)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "host lock") || errors.Is(err, devices.ErrStalledHost) {
			t.Fatalf("Measure while another device holds the lock = %v, want a timeout waiting for the lock", err)
		}
	})
}
