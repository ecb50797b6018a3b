package bench

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"blockprof/devices"
	"blockprof/devices/ort"
	"blockprof/engine"
	"blockprof/engine/config"
	"blockprof/engine/stats"
	"blockprof/engine/store"
)

// BenchmarkRepeatabilityPasses measures the same 30 archs in 2×P profiling
// passes (each a run of `blockprof profile --remeasure`) and compares the
// per-arch median over passes 1..P with the median over passes P+1..2P:
// windows spread over minutes average out the VM's window-to-window shifts.
func BenchmarkRepeatabilityPasses(b *testing.B) {
	const passes = 3
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
	if _, err := ort.FindLibrary(dc.Library); err != nil {
		b.Skip(err)
	}
	sp, _ := cfg.Spaces.Get(cfg.Plan.Space)
	spec := cfg.PlanSpec()
	spec.Uniform, spec.PerLocation = 30, 0
	plan, err := sp.Plan(spec)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		per := map[string][]float64{}
		for pass := range 2 * passes {
			dev, err := ort.New(dc, devices.NewHostLock())
			if err != nil {
				b.Fatal(err)
			}
			run, err := engine.Start(context.Background(), engine.Spec{Space: sp, Plan: plan, PlanSpec: spec, Store: st,
				Targets: []engine.Target{{Device: dev, Config: dc}}, Options: engine.Options{Remeasure: pass > 0}})
			if err != nil {
				b.Fatal(err)
			}
			run.Wait()
			recs, err := st.Query(context.Background(), store.Query{Device: "cpu", Run: run.ID(), Kind: store.KindPlan})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				per[r.Arch] = append(per[r.Arch], r.Median)
			}
			dev.Close()
		}
		var x, y, x1, y1 []float64
		for _, ms := range per {
			if len(ms) != 2*passes {
				b.Fatalf("%d measurements of an arch, want %d", len(ms), 2*passes)
			}
			x, y = append(x, stats.Median(ms[:passes])), append(y, stats.Median(ms[passes:]))
			x1, y1 = append(x1, ms[0]), append(y1, ms[passes])
		}
		st.Close()
		b.ReportMetric(stats.Spearman(x1, y1), "spearman-1pass")
		b.ReportMetric(stats.Spearman(x, y), "spearman-median3")
	}
}
