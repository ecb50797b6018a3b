package ort

import (
	"context"
	"fmt"
	"testing"
	"time"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"blockprof/engine/stats"
	"blockprof/model"
	"blockprof/model/modeltest"
	"blockprof/model/onnx"
)

// sessionVariant is a session setting compared by BenchmarkSessionVariants.
type sessionVariant struct {
	name string
	tune func(*onnxruntime.SessionOptions) error
	// ownArena gives the session an arena of its own instead of the
	// shared one.
	ownArena bool
}

// sessionVariants are the settings compared, the device's own first.
var sessionVariants = []sessionVariant{
	{name: "default"},
	{name: "own-arena", ownArena: true},
	{name: "no-arena", ownArena: true, tune: func(so *onnxruntime.SessionOptions) error { return so.SetCpuMemArena(false) }},
	{name: "no-mempattern", tune: func(so *onnxruntime.SessionOptions) error { return so.SetMemPattern(false) }},
	{name: "no-prepack", tune: func(so *onnxruntime.SessionOptions) error {
		return so.AddSessionConfigEntry("session.disable_prepacking", "1")
	}},
	{name: "opt-basic", tune: func(so *onnxruntime.SessionOptions) error {
		return so.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelEnableBasic)
	}},
	{name: "opt-disable", tune: func(so *onnxruntime.SessionOptions) error {
		return so.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelDisableAll)
	}},
}

// BenchmarkNewSession creates sessions of every space's smallest arch at
// its smallest resolution and largest at its largest (1 thread,
// optimisation all, as the cpu device) and reports the median creation
// time ("create-ms") and the median of 20 runs after 2 warm-up runs
// ("run-ms"). -benchtime Nx sets the sessions per net.
func BenchmarkNewSession(b *testing.B) {
	benchSessions(b, "", sessionVariants[:1])
}

// BenchmarkSessionVariants compares the session settings of
// sessionVariants on the smallest and largest ofa-mbv3-w1.0 nets, created
// round-robin so that a loaded machine's slow spells spread over all of
// them; per variant it reports "<variant>-create-ms" and "<variant>-run-ms"
// as BenchmarkNewSession does: a setting that makes creation cheaper must
// not change what is timed.
func BenchmarkSessionVariants(b *testing.B) {
	benchSessions(b, "ofa-mbv3-w1.0", sessionVariants)
}

func benchSessions(b *testing.B, only string, variants []sessionVariant) {
	rt := testRuntime(b)
	benchWays(b, only, "create-ms", func(net *model.Network) []loadWay {
		data, err := onnx.Export(net, onnx.Options{Seed: weightSeed})
		if err != nil {
			b.Fatal(err)
		}
		ways := make([]loadWay, len(variants))
		for i, v := range variants {
			opts := cpuOptions()
			opts.tune = v.tune
			opts.SharedArena = !v.ownArena
			ways[i] = loadWay{v.name, func() (*Session, error) { return rt.NewSession(data, opts) }}
		}
		if len(ways) == 1 {
			ways[0].name = "" // BenchmarkNewSession's metrics have no prefix
		}
		return ways
	})
}

// loadWay is one way of loading a network into a session, compared with
// others by benchWays.
type loadWay struct {
	name string
	load func() (*Session, error)
}

// benchWays runs a sub-benchmark per extreme arch of every space (or of
// space only): each iteration loads the net every way that ways gives for
// it, in turn, timing the load and the session's median run (medianRun),
// and it reports per way the median load time as "<way>-<metric>" and the
// median run as "<way>-run-ms" (no prefix for a way without a name).
func benchWays(b *testing.B, only, metric string, ways func(*model.Network) []loadWay) {
	for _, e := range modeltest.Extremes(b) {
		if only != "" && e.Space.Name != only {
			continue
		}
		ws := ways(e.Network(b))
		b.Run(e.Name(), func(b *testing.B) {
			loads := make([][]float64, len(ws))
			runs := make([][]float64, len(ws))
			for b.Loop() {
				for i, w := range ws {
					t0 := time.Now()
					s, err := w.load()
					if err != nil {
						b.Fatal(err)
					}
					loads[i] = append(loads[i], ms(time.Since(t0)))
					runs[i] = append(runs[i], medianRun(b, s))
					s.Close()
				}
			}
			for i, w := range ws {
				prefix := w.name + "-"
				if w.name == "" {
					prefix = ""
				}
				b.ReportMetric(median(loads[i]), prefix+metric)
				b.ReportMetric(median(runs[i]), prefix+"run-ms")
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// BenchmarkWeightSeeds times the same arch (the largest and smallest
// ofa-mbv3-w1.0 net at 224) exported with two weight seeds: sessions of
// either seed alternate, each timed for 20 runs after 2 warm-up runs, and
// it reports each seed's median over sessions of their median run
// ("seedN-ms") and the relative spread (IQR/median) of those session
// medians ("seedN-spread"). The weights do not change the latency when the
// two medians differ by less than the spread.
func BenchmarkWeightSeeds(b *testing.B) {
	rt := testRuntime(b)
	sp := modeltest.Space(b, "ofa-mbv3-w1.0")
	for _, a := range []struct {
		what string
		arch model.Arch
	}{{"min", sp.MinArch(224)}, {"max", sp.MaxArch(224)}} {
		net, err := sp.Network(a.arch)
		if err != nil {
			b.Fatal(err)
		}
		seeds := []uint64{1, 2}
		models := make([][]byte, len(seeds))
		for i, seed := range seeds {
			if models[i], err = onnx.Export(net, onnx.Options{Seed: seed}); err != nil {
				b.Fatal(err)
			}
		}
		b.Run(a.what, func(b *testing.B) {
			meds := make([][]float64, len(seeds))
			opts := cpuOptions()
			for b.Loop() {
				for i := range seeds {
					s, err := rt.NewSession(models[i], opts)
					if err != nil {
						b.Fatal(err)
					}
					meds[i] = append(meds[i], medianRun(b, s))
					s.Close()
				}
			}
			for i, seed := range seeds {
				st := stats.Summarize(meds[i])
				b.ReportMetric(st.Median, fmt.Sprintf("seed%d-ms", seed))
				b.ReportMetric((st.Q3-st.Q1)/st.Median, fmt.Sprintf("seed%d-spread", seed))
			}
		})
	}
}

// BenchmarkLoad compares the ways the device has loaded a model, for every
// space's smallest arch at its smallest resolution and largest at its
// largest, alternating: "memory" exports into a buffer and creates the
// session from it (the device before issue 14), "file" streams the whole
// export to a model file that ONNX Runtime reads, "external" writes the
// graph with batch normalisation folded and its weights as windows of a
// weight file ONNX Runtime maps (onnx.WriteExternal, FoldBN; the weight
// file is the benchmark's, grown by the first models as a device's is),
// "prelaid" writes that graph in ONNX Runtime's NCHWc form (prelayNCHWc:
// the device now, at optimisation level all on a CPU whose NCHWc block is
// 8). It reports the median
// export + creation time per way ("<way>-load-ms") and the median of each
// session's median run over 20 runs after 2 warm-up runs ("<way>-run-ms"):
// the way of loading, and the other weights "external" has, must not
// change what is timed.
func BenchmarkLoad(b *testing.B) {
	rt := testRuntime(b)
	dir := b.TempDir()
	work := testWorkDir(b)
	opts := cpuOptions()
	benchWays(b, "", "load-ms", func(net *model.Network) []loadWay {
		return []loadWay{
			{"memory", func() (*Session, error) { return loadViaMemory(rt, net, opts) }},
			{"file", func() (*Session, error) { return loadViaFile(rt, dir, net, opts) }},
			{"external", func() (*Session, error) {
				return work.load(context.Background(), rt, net, onnx.Options{Seed: weightSeed, FoldBN: true}, opts)
			}},
			{"prelaid", func() (*Session, error) {
				return work.load(context.Background(), rt, net, onnx.Options{Seed: weightSeed, FoldBN: true, Rewrite: prelayOrPlain(max(nchwcBlock(), 8))}, opts)
			}},
		}
	})
}
