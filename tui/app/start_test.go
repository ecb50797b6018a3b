package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/devices/sim"
	"blockprof/engine"
	"blockprof/engine/config"
)

func simOpener(ctx context.Context, cfg devices.Config, _ backends.Options) (devices.Device, error) {
	p := sim.Presets()["cpu"]
	p.Runs = 3
	return sim.New(cfg.Name, "", p)
}

func TestStartResumeClose(t *testing.T) {
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	storePath := filepath.Join(t.TempDir(), "s.db")
	ctx := context.Background()
	setup := Setup{Config: cfg, StorePath: storePath, Version: "test", Open: simOpener}

	s, err := Start(ctx, setup)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.S.Run().Done():
	case <-time.After(2 * time.Minute):
		t.Fatal("the default plan did not finish on a simulated device")
	}
	sum := s.S.Run().Wait()
	if len(sum.Devices) != 1 || sum.Devices[0].Measured != cfg.Plan.Uniform {
		t.Fatalf("summary %+v", sum)
	}
	tb, err := s.Table(ctx, s.Devices()[0].Name, "latency")
	if err != nil {
		t.Fatal(err)
	}
	if tb.Uniform != cfg.Plan.Uniform || len(tb.Cells) == 0 {
		t.Errorf("table of %d uniform archs, %d cells", tb.Uniform, len(tb.Cells))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A second start resumes: everything is in the store already.
	s, err = Start(ctx, setup)
	if err != nil {
		t.Fatal(err)
	}
	var first engine.Progress
	for ev := range s.Events(ctx) {
		if p, ok := ev.(engine.Progress); ok && first.Device == "" {
			first = p
		}
		if _, ok := ev.(engine.RunDone); ok {
			break
		}
	}
	if first.Resumed != cfg.Plan.Uniform {
		t.Errorf("second start resumed %d archs, want %d", first.Resumed, cfg.Plan.Uniform)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// No device: a clear error, and the store is closed again.
	setup.Open = func(context.Context, devices.Config, backends.Options) (devices.Device, error) {
		return nil, errors.New("onnxruntime library not found: run scripts/setup-ort.sh")
	}
	var warned []string
	setup.Warn = func(w string) { warned = append(warned, w) }
	if _, err := Start(ctx, setup); err == nil || !strings.Contains(err.Error(), "setup-ort.sh") {
		t.Errorf("start without devices: %v", err)
	}
	if len(warned) != 1 {
		t.Errorf("warnings %q", warned)
	}
	setup.Open = simOpener
	s, err = Start(ctx, setup)
	if err != nil {
		t.Fatalf("store left open by the failed start: %v", err)
	}
	s.Close()
}
