package bench

import (
	"context"
	"os"
	"strconv"
	"testing"

	"blockprof/devices"
	"blockprof/devices/ort"
	"blockprof/engine"
	"blockprof/engine/config"
	"blockprof/engine/store"
	"blockprof/model"
)

// cpuPlan is the embedded config's cpu device and 30 uniform archs of its
// plan space; it skips when ONNX Runtime is not installed.
func cpuPlan(b *testing.B) (devices.Config, *model.Space, model.PlanSpec, []model.PlanItem) {
	b.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Parse(data, "config.toml")
	if err != nil {
		b.Fatal(err)
	}
	dc, err := cfg.Device("cpu")
	if err != nil {
		b.Fatal(err)
	}
	if v := os.Getenv("BLOCKPROF_PROBE_EVERY"); v != "" { // to compare settings
		if dc.ProbeEvery, err = strconv.Atoi(v); err != nil {
			b.Fatalf("BLOCKPROF_PROBE_EVERY=%q: %v", v, err)
		}
	}
	if _, err := ort.FindLibrary(dc.Library); err != nil {
		b.Skip(err)
	}
	sp, err := cfg.Spaces.Get(cfg.Plan.Space)
	if err != nil {
		b.Fatal(err)
	}
	spec := cfg.PlanSpec()
	spec.Uniform, spec.PerLocation = 30, 0
	plan, err := sp.Plan(spec)
	if err != nil {
		b.Fatal(err)
	}
	return dc, sp, spec, plan
}

// profile runs the plan once on a fresh cpu device into st and returns the
// run's summary and id.
func profile(b *testing.B, st *store.Store, dc devices.Config, sp *model.Space, spec model.PlanSpec, plan []model.PlanItem, opts engine.Options) (engine.Summary, int64) {
	b.Helper()
	dev, err := ort.New(dc, devices.NewHostLock())
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()
	run, err := engine.Start(context.Background(), engine.Spec{Space: sp, Plan: plan, PlanSpec: spec, Store: st,
		Targets: []engine.Target{{Device: dev, Config: dc}}, Options: opts})
	if err != nil {
		b.Fatal(err)
	}
	return run.Wait(), run.ID()
}
