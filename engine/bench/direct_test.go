package bench

import (
	"context"
	"testing"

	"blockprof/devices"
	"blockprof/devices/ort"
	"blockprof/engine/stats"
	"blockprof/model"
)

// BenchmarkRepeatabilityDirect measures the same 30 archs as
// BenchmarkRepeatability, but through the cpu device's Measure alone (no
// engine, store or events), in rounds: round 1 measures all 30, then
// round 2, and so on. It separates what the engine adds from the
// machine's own window-to-window noise. "-rel" figures compare the
// arch/probe ratios (with the config's probe_every).
func BenchmarkRepeatabilityDirect(b *testing.B) {
	const rounds = 4
	dc, sp, _, plan := cpuPlan(b)
	dev, err := ort.New(dc, devices.NewHostLock())
	if err != nil {
		b.Fatal(err)
	}
	defer dev.Close()
	nets := make([]*model.Network, len(plan))
	for i, it := range plan {
		if nets[i], err = sp.Network(it.Arch); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		med := make([][]float64, rounds) // [round][arch]
		rel := make([][]float64, rounds)
		for r := range rounds {
			for _, n := range nets {
				m, err := dev.Measure(context.Background(), n)
				if err != nil {
					b.Fatal(err)
				}
				med[r] = append(med[r], stats.Median(m.SamplesMs))
				if len(m.ProbeMs) > 0 {
					rel[r] = append(rel[r], stats.Median(m.SamplesMs)/stats.Median(m.ProbeMs))
				}
			}
		}
		b.ReportMetric(stats.Spearman(med[0], med[1]), "spearman-r1r2")
		b.ReportMetric(stats.Spearman(med[2], med[3]), "spearman-r3r4")
		if len(rel[0]) == len(nets) {
			b.ReportMetric(stats.Spearman(rel[0], rel[1]), "spearman-r1r2-rel")
			b.ReportMetric(stats.Spearman(rel[2], rel[3]), "spearman-r3r4-rel")
		}
		var x, y []float64
		for i := range nets {
			x = append(x, (med[0][i]+med[2][i])/2)
			y = append(y, (med[1][i]+med[3][i])/2)
		}
		b.ReportMetric(stats.Spearman(x, y), "spearman-mean2")
		if testing.Verbose() {
			for i := range nets {
				b.Logf("%7.3f %7.3f %7.3f %7.3f", med[0][i], med[1][i], med[2][i], med[3][i])
			}
		}
	}
}
