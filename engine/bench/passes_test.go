package bench

import (
	"context"
	"path/filepath"
	"testing"

	"blockprof/engine"
	"blockprof/engine/stats"
	"blockprof/engine/store"
)

// BenchmarkRepeatabilityPasses measures the same 30 archs in 2×P profiling
// passes (each a run of `blockprof profile --remeasure`) and compares the
// per-arch median over passes 1..P with the median over passes P+1..2P, to
// check whether windows spread over minutes average out the window-to-window
// shifts of this machine (docs/benchmarks.md: they barely do).
func BenchmarkRepeatabilityPasses(b *testing.B) {
	const passes = 3
	dc, sp, spec, plan := cpuPlan(b)
	for b.Loop() {
		st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		per := map[string][]float64{}
		for pass := range 2 * passes {
			_, runID := profile(b, st, dc, sp, spec, plan, engine.Options{Remeasure: pass > 0})
			recs, err := st.Query(context.Background(), store.Query{Device: "cpu", Run: runID, Kind: store.KindPlan})
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range recs {
				per[r.Arch] = append(per[r.Arch], r.Median)
			}
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
