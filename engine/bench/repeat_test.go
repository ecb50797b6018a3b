// Package bench holds blockprof's measurement benchmarks that need this
// machine's ONNX Runtime: run them on a quiet machine, they are not tests.
//
//	go test -run XXX -bench Repeatability -benchtime 1x ./engine/bench
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"blockprof/engine"
	"blockprof/engine/stats"
	"blockprof/engine/store"
)

// BenchmarkRepeatability profiles 30 uniform archs of the default plan's
// space twice on the embedded config's cpu device (ONNX Runtime, 1 thread,
// 50 timed runs, the probe network timed every probe_every runs) and
// reports the Spearman rank correlation of the two passes' medians, raw
// ("spearman-raw") and probe-corrected (store.Record.Latency:
// "spearman"), the median relative spread (IQR/median) and the profiling
// overhead (wall time / sum of the archs' timed windows − 1; the probe's
// runs count as overhead).
func BenchmarkRepeatability(b *testing.B) {
	dc, sp, spec, plan := cpuPlan(b)
	for b.Loop() {
		dir := b.TempDir()
		var passes, corrected [2]map[string]float64
		var spreads []float64
		var overhead [2]float64
		for pass := range 2 {
			st, err := store.Open(context.Background(), filepath.Join(dir, "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			sum, runID := profile(b, st, dc, sp, spec, plan, engine.Options{Remeasure: pass == 1})
			overhead[pass] = sum.Devices[0].Overhead
			recs, err := st.Query(context.Background(), store.Query{Device: "cpu", Run: runID, Kind: store.KindPlan, Samples: true})
			if err != nil {
				b.Fatal(err)
			}
			if f := os.Getenv("BLOCKPROF_BENCH_DUMP"); f != "" { // every sample, to try other estimators
				data, _ := json.Marshal(recs)
				if err := os.WriteFile(fmt.Sprintf("%s.%d.json", f, pass), data, 0o644); err != nil {
					b.Fatal(err)
				}
			}
			baseline, err := st.ProbeBaseline(context.Background(), "cpu")
			if err != nil {
				b.Fatal(err)
			}
			passes[pass], corrected[pass] = map[string]float64{}, map[string]float64{}
			for _, r := range recs {
				passes[pass][r.Arch] = r.Median
				corrected[pass][r.Arch] = r.Latency(baseline)
				spreads = append(spreads, r.Spread)
			}
			st.Close()
		}
		var x, y, nx, ny []float64
		for a, m := range passes[0] {
			if m2, ok := passes[1][a]; ok {
				x, y = append(x, m), append(y, m2)
				nx, ny = append(nx, corrected[0][a]), append(ny, corrected[1][a])
			}
		}
		if testing.Verbose() {
			for i := range x {
				b.Logf("pass1 %.3f ms  pass2 %.3f ms  probe-corrected %.3f / %.3f ms", x[i], y[i], nx[i], ny[i])
			}
		}
		if len(x) != 30 {
			b.Fatalf("%d archs measured in both passes, want 30", len(x))
		}
		b.ReportMetric(stats.Spearman(x, y), "spearman-raw")
		b.ReportMetric(stats.Spearman(nx, ny), "spearman")
		b.ReportMetric(stats.Median(spreads), "median-spread")
		b.ReportMetric(overhead[0], "overhead-pass1")
		b.ReportMetric(overhead[1], "overhead-pass2")
	}
}
