package ort

import (
	"context"
	"errors"
	"fmt"
	"os"
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
}

// sessionVariants are the settings compared, the device's own first.
var sessionVariants = []sessionVariant{
	{"default", nil},
	{"no-arena", func(so *onnxruntime.SessionOptions) error { return so.SetCpuMemArena(false) }},
	{"no-mempattern", func(so *onnxruntime.SessionOptions) error { return so.SetMemPattern(false) }},
	{"no-prepack", func(so *onnxruntime.SessionOptions) error {
		return so.AddSessionConfigEntry("session.disable_prepacking", "1")
	}},
	{"opt-basic", func(so *onnxruntime.SessionOptions) error {
		return so.SetGraphOptimizationLevel(onnxruntime.GraphOptimizationLevelEnableBasic)
	}},
	{"opt-disable", func(so *onnxruntime.SessionOptions) error {
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
	path, err := FindLibrary("")
	if errors.Is(err, ErrNoLibrary) {
		b.Skipf("skipping: needs the ONNX Runtime library: %v", err)
	}
	rt, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	ss := modeltest.Spaces(b)
	for _, name := range ss.Names() {
		if only != "" && name != only {
			continue
		}
		sp, err := ss.Get(name)
		if err != nil {
			b.Fatal(err)
		}
		rs := sp.Resolutions
		for _, a := range []struct {
			what string
			arch model.Arch
		}{{"min", sp.MinArch(rs[0])}, {"max", sp.MaxArch(rs[len(rs)-1])}} {
			net, err := sp.Network(a.arch)
			if err != nil {
				b.Fatal(err)
			}
			data, err := onnx.Export(net, onnx.Options{Seed: weightSeed})
			if err != nil {
				b.Fatal(err)
			}
			b.Run(name+"/"+a.what, func(b *testing.B) {
				create := make([][]float64, len(variants))
				runs := make([][]float64, len(variants))
				for b.Loop() {
					for i, v := range variants {
						opts := Options{IntraOpThreads: 1, InterOpThreads: 1, Optimization: "all", Batch: 1, tune: v.tune}
						t0 := time.Now()
						s, err := rt.NewSession(data, opts)
						if err != nil {
							b.Fatal(err)
						}
						create[i] = append(create[i], ms(time.Since(t0)))
						var rr []float64
						for range 22 {
							t0 := time.Now()
							if err := s.Run(context.Background()); err != nil {
								b.Fatal(err)
							}
							rr = append(rr, ms(time.Since(t0)))
						}
						runs[i] = append(runs[i], median(rr[2:]))
						s.Close()
					}
				}
				for i, v := range variants {
					prefix := v.name + "-"
					if len(variants) == 1 {
						prefix = ""
					}
					b.ReportMetric(median(create[i]), prefix+"create-ms")
					b.ReportMetric(median(runs[i]), prefix+"run-ms")
				}
			})
		}
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
	path, err := FindLibrary("")
	if errors.Is(err, ErrNoLibrary) {
		b.Skipf("skipping: needs the ONNX Runtime library: %v", err)
	}
	rt, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
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
			opts := Options{IntraOpThreads: 1, InterOpThreads: 1, Optimization: "all", Batch: 1}
			for b.Loop() {
				for i := range seeds {
					s, err := rt.NewSession(models[i], opts)
					if err != nil {
						b.Fatal(err)
					}
					var rr []float64
					for range 22 {
						t0 := time.Now()
						if err := s.Run(context.Background()); err != nil {
							b.Fatal(err)
						}
						rr = append(rr, ms(time.Since(t0)))
					}
					meds[i] = append(meds[i], median(rr[2:]))
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
// weight file ONNX Runtime maps (onnx.WriteExternal, FoldBN: the device
// now; the weight file is the benchmark's, grown by the first models as a
// device's is). It reports the median
// export + creation time per way ("<way>-load-ms") and the median of each
// session's median run over 20 runs after 2 warm-up runs ("<way>-run-ms"):
// the way of loading, and the other weights "external" has, must not
// change what is timed.
func BenchmarkLoad(b *testing.B) {
	path, err := FindLibrary("")
	if errors.Is(err, ErrNoLibrary) {
		b.Skipf("skipping: needs the ONNX Runtime library: %v", err)
	}
	rt, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	work, err := newWorkDir(b.TempDir(), weightSeed)
	if err != nil {
		b.Fatal(err)
	}
	defer work.Close()
	ways := []struct {
		name string
		load func(*model.Network, Options) (*Session, error)
	}{
		{"memory", func(net *model.Network, opts Options) (*Session, error) {
			data, err := onnx.Export(net, onnx.Options{Seed: weightSeed})
			if err != nil {
				return nil, err
			}
			return rt.NewSession(data, opts)
		}},
		{"file", func(net *model.Network, opts Options) (*Session, error) {
			f, err := os.CreateTemp(dir, "model-*.onnx")
			if err != nil {
				return nil, err
			}
			defer os.Remove(f.Name())
			defer f.Close()
			w, err := onnx.Write(f, net, onnx.Options{Seed: weightSeed})
			if err != nil {
				return nil, err
			}
			return rt.NewSessionFile(f.Name(), w.Inputs, w.Outputs, opts)
		}},
		{"external", func(net *model.Network, opts Options) (*Session, error) {
			f, done, err := work.modelFile()
			if err != nil {
				return nil, err
			}
			defer done()
			w, err := onnx.WriteExternal(f, net, onnx.Options{Seed: weightSeed, FoldBN: true}, work.weights)
			if err != nil {
				return nil, err
			}
			return rt.NewSessionFile(f.Name(), w.Inputs, w.Outputs, opts)
		}},
	}
	ss := modeltest.Spaces(b)
	for _, name := range ss.Names() {
		sp, err := ss.Get(name)
		if err != nil {
			b.Fatal(err)
		}
		rs := sp.Resolutions
		for _, a := range []struct {
			what string
			arch model.Arch
		}{{"min", sp.MinArch(rs[0])}, {"max", sp.MaxArch(rs[len(rs)-1])}} {
			net, err := sp.Network(a.arch)
			if err != nil {
				b.Fatal(err)
			}
			b.Run(name+"/"+a.what, func(b *testing.B) {
				loads := make([][]float64, len(ways))
				runs := make([][]float64, len(ways))
				opts := Options{IntraOpThreads: 1, InterOpThreads: 1, Optimization: "all", Batch: 1}
				for b.Loop() {
					for i, way := range ways {
						t0 := time.Now()
						s, err := way.load(net, opts)
						if err != nil {
							b.Fatal(err)
						}
						loads[i] = append(loads[i], ms(time.Since(t0)))
						var rr []float64
						for range 22 {
							t0 := time.Now()
							if err := s.Run(context.Background()); err != nil {
								b.Fatal(err)
							}
							rr = append(rr, ms(time.Since(t0)))
						}
						runs[i] = append(runs[i], median(rr[2:]))
						s.Close()
					}
				}
				for i, way := range ways {
					b.ReportMetric(median(loads[i]), way.name+"-load-ms")
					b.ReportMetric(median(runs[i]), way.name+"-run-ms")
				}
			})
		}
	}
}
