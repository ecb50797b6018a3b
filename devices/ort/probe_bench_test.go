package ort

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/model"
	"blockprof/model/modeltest"
	"blockprof/model/onnx"
)

// BenchmarkProbeChoice compares candidate probe networks (docs/benchmarks.md):
// six uniform ofa-mbv3-w1.0 archs at 224 are each timed in six windows of
// 50 runs, every candidate probe timed before the first run and after every
// 10th; for each candidate it reports the median over archs of the
// relative variance (variance / mean²) of the arch's probe ratio
// (devices.ProbeRatio) across windows, and "relvar-raw" the same for the
// arch's raw median. Lower is better: the probe followed the machine.
func BenchmarkProbeChoice(b *testing.B) {
	rt := testRuntime(b)
	sp := modeltest.Space(b, "ofa-mbv3-w1.0")
	mid, err := sp.ParseArch("ofa-mbv3-w1.0:224:" + strings.Repeat("e4k5,e4k5,e4k5/", 4) + "e4k5,e4k5,e4k5")
	if err != nil {
		b.Fatal(err)
	}
	opts := cpuOptions()
	ctx := context.Background()
	session := func(a model.Arch) *Session {
		net, err := sp.Network(a)
		if err != nil {
			b.Fatal(err)
		}
		m, err := onnx.Export(net, onnx.Options{Seed: weightSeed, Batch: 1})
		if err != nil {
			b.Fatal(err)
		}
		s, err := rt.NewSession(m, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		for range 2 {
			if err := s.Run(ctx); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	names := []string{"min160", "min224", "mid224"}
	probes := []*Session{session(sp.MinArch(160)), session(sp.MinArch(224)), session(mid)}
	rng := model.NewRand(11)
	var archs []*Session
	for range 6 {
		archs = append(archs, session(sp.Sample(rng, 224)))
	}
	timed := func(s *Session) float64 {
		t0 := time.Now()
		if err := s.Run(ctx); err != nil {
			b.Fatal(err)
		}
		return float64(time.Since(t0).Nanoseconds()) / 1e6
	}
	const windows, runs, every = 6, 50, 10
	for b.Loop() {
		// vals[arch][0] raw medians, [arch][1+p] ratios to probe p, by window.
		vals := make([][][]float64, len(archs))
		for i := range vals {
			vals[i] = make([][]float64, 1+len(probes))
		}
		for range windows {
			for i, a := range archs {
				samples := make([]float64, 0, runs)
				pr := make([][]float64, len(probes))
				for r := 0; r <= runs; r++ {
					if r%every == 0 {
						for j, p := range probes {
							pr[j] = append(pr[j], timed(p))
						}
					}
					if r < runs {
						samples = append(samples, timed(a))
					}
				}
				vals[i][0] = append(vals[i][0], median(samples))
				for j := range probes {
					vals[i][1+j] = append(vals[i][1+j], devices.ProbeRatio(samples, pr[j], every))
				}
			}
		}
		for k, name := range append([]string{"raw"}, names...) {
			var rv []float64
			for i := range archs {
				rv = append(rv, relVar(vals[i][k]))
			}
			b.ReportMetric(median(rv), "relvar-"+name)
		}
	}
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func relVar(xs []float64) float64 {
	var m, v float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	return v / float64(len(xs)) / (m * m)
}
