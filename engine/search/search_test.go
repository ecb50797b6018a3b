package search

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"blockprof/engine/pareto"
	"blockprof/engine/predict"
	"blockprof/model"
	"blockprof/model/modeltest"
)

func spaces(t testing.TB) *model.Spaces {
	t.Helper()
	return modeltest.Spaces(t)
}

// synthetic is a cheap evaluator: latency from MACs plus a kernel-7 penalty
// (an NPU-like device), accuracy rising with log MACs.
func synthetic(s *model.Space) Evaluator {
	return func(a model.Arch) (float64, float64, error) {
		n, err := s.Network(a)
		if err != nil {
			return 0, 0, err
		}
		lat := float64(n.MACs()) / 1e8
		for _, u := range a.Units {
			for _, b := range u {
				if b.K == 7 {
					lat += 0.3
				}
			}
		}
		return lat, 70 + 2*math.Log(float64(n.MACs())), nil
	}
}

// TestChildrenStayInSpace mutates random archs of every space and every
// shipped reduced space many times: every child lies in its space.
func TestChildrenStayInSpace(t *testing.T) {
	ss := spaces(t)
	var all []*model.Space
	for _, n := range ss.Names() {
		sp, _ := ss.Get(n)
		all = append(all, sp)
	}
	files, _ := filepath.Glob("../../spaces/*.toml")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		r, err := model.ParseReduction(data, f, ss)
		if err != nil {
			t.Fatal(err)
		}
		parent, _ := ss.Get(r.Parent)
		red, err := r.Apply(parent)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, red)
	}
	for _, sp := range all {
		rng := model.NewRand(11)
		changed := 0
		for range 2000 {
			a := sp.Sample(rng, sp.Resolution)
			c := Mutate(rng, sp, a, 0.5)
			if err := sp.Check(c); err != nil {
				t.Fatalf("%s (%s): child outside the space: %v", sp.Name, sp.Reduced, err)
			}
			if c.String() != a.String() {
				changed++
			}
		}
		if changed < 1900 {
			t.Errorf("%s (%s): only %d of 2000 children differ from their parent", sp.Name, sp.Reduced, changed)
		}
	}
}

func TestRunFrontsAreNonDominated(t *testing.T) {
	ss := spaces(t)
	sp, _ := ss.Get("ofa-mbv3-w1.0")
	for _, crowd := range []bool{false, true} {
		var hist []Progress
		res, err := Run(context.Background(), sp, synthetic(sp), Options{Initial: 30, Children: 40, Generations: 5, Seed: 3, Crowding: crowd}, func(p Progress) { hist = append(hist, p) })
		if err != nil {
			t.Fatal(err)
		}
		if res.Evaluations != 30+5*40 {
			t.Errorf("crowding=%v: %d evaluations, want %d", crowd, res.Evaluations, 30+5*40)
		}
		seen := map[string]bool{}
		for _, x := range res.Evaluated {
			if seen[x.Arch.String()] {
				t.Fatalf("duplicate evaluation of %s", x.Arch)
			}
			seen[x.Arch.String()] = true
		}
		for i, a := range res.Front {
			for j, b := range res.Front {
				if i != j && pareto.Dominates(pareto.Point{Latency: a.Latency, Accuracy: a.Accuracy}, pareto.Point{Latency: b.Latency, Accuracy: b.Accuracy}) {
					t.Fatalf("front member %d dominates %d", i, j)
				}
			}
		}
		if len(hist) != 6 || hist[5].Hypervolume < hist[0].Hypervolume {
			t.Errorf("progress: %d reports, hypervolume %v → %v", len(hist), hist[0].Hypervolume, hist[len(hist)-1].Hypervolume)
		}
	}
}

func TestRunCancels(t *testing.T) {
	ss := spaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	eval := func(a model.Arch) (float64, float64, error) {
		n++
		if n == 50 {
			cancel()
		}
		return 1, 1, nil
	}
	_, err := Run(ctx, sp, eval, Options{}, nil)
	if err == nil || n > 51 {
		t.Fatalf("cancel: err %v after %d evaluations", err, n)
	}
}

// TestCompareFavoursKernel7Removal: on an NPU-like synthetic device that
// penalises kernel 7, the OFA-NPU space's median hypervolume beats the
// original's.
func TestCompareFavoursKernel7Removal(t *testing.T) {
	ss := spaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	data, _ := os.ReadFile("../../spaces/ofa-mbv3-npu.toml")
	r, err := model.ParseReduction(data, "npu", ss)
	if err != nil {
		t.Fatal(err)
	}
	red, _ := r.Apply(sp)
	c, err := Compare(context.Background(), sp, red, synthetic(sp), Options{Initial: 30, Children: 40, Generations: 4}, []uint64{1, 2, 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Reduced.HypervolumeMedian <= c.Original.HypervolumeMedian {
		t.Errorf("reduced median HV %v ≤ original %v", c.Reduced.HypervolumeMedian, c.Original.HypervolumeMedian)
	}
	if len(c.Original.Hypervolumes) != 3 || c.Reference.Latency <= 0 {
		t.Errorf("comparison incomplete: %+v", c)
	}
}

func TestMaxAccuracyRespectsBudget(t *testing.T) {
	ss := spaces(t)
	sp, _ := ss.Get("ofa-mbv3-w1.0")
	macs := func(a model.Arch) float64 {
		n, _ := sp.Network(a)
		return float64(n.MACs())
	}
	eval := synthetic(sp)
	acc := func(a model.Arch) (float64, error) { _, v, err := eval(a); return v, err }
	res, err := MaxAccuracy(context.Background(), sp, acc, MaxAccOptions{Cost: macs, Limit: 300e6, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.TopK) != 10 {
		t.Fatalf("top-k has %d", len(res.TopK))
	}
	for _, x := range res.TopK {
		if x.Latency > 300e6 {
			t.Fatalf("%s over budget: %v MACs", x.Arch, x.Latency)
		}
	}
	if res.Best.Accuracy < res.TopK[9].Accuracy {
		t.Error("best is not the top")
	}
	if _, err := MaxAccuracy(context.Background(), sp, acc, MaxAccOptions{Cost: macs, Limit: 1}); err == nil {
		t.Error("impossible budget accepted")
	}
}

// BenchmarkSearch is one full paper-sized search (100 + 10×200
// evaluations) with the synthetic evaluator.
func BenchmarkSearch(b *testing.B) {
	ss := spaces(b)
	sp, _ := ss.Get("ofa-mbv3-w1.0")
	eval := synthetic(sp)
	for b.Loop() {
		if _, err := Run(context.Background(), sp, eval, Options{Seed: 1}, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSearchPredicted is the benchmark: one full paper-sized
// search (100 + 10×200 evaluations) on ofa-mbv3-w1.0 with both objectives
// from predictors — latency from the additive model fitted on the replayed
// H100 gpu-b1-fp32-graph data, top-1 from the accuracy predictor fitted on
// the ImageNet table. The fits happen once, outside the timed loop.
func BenchmarkSearchPredicted(b *testing.B) {
	dir := modeltest.SharedData(b)
	sp := modeltest.Space(b, "ofa-mbv3-w1.0")
	f, err := os.Open(filepath.Join(dir, "h100-ofa-mbv3-w1.0.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	recs, err := predict.ReadRecords(f, "h100", sp)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	archs, y, err := predict.Latencies(recs, "gpu-b1-fp32-graph")
	if err != nil {
		b.Fatal(err)
	}
	lat, err := predict.FitAdditive(sp, archs, y, predict.AdditiveOptions{})
	if err != nil {
		b.Fatal(err)
	}
	g, err := os.Open(filepath.Join(dir, "ofa-mbv3-w1.0-imagenet-top1.jsonl"))
	if err != nil {
		b.Fatal(err)
	}
	arecs, err := predict.ReadRecords(g, "top1", sp)
	g.Close()
	if err != nil {
		b.Fatal(err)
	}
	aa, ay, err := predict.Top1s(arecs)
	if err != nil {
		b.Fatal(err)
	}
	acc, err := predict.FitTop1(sp, aa, ay, predict.Top1Options{})
	if err != nil {
		b.Fatal(err)
	}
	eval := func(a model.Arch) (float64, float64, error) { return lat.Predict(a), acc.Predict(a), nil }
	for b.Loop() {
		res, err := Run(context.Background(), sp, eval, Options{Seed: 1}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if res.Evaluations != 2100 {
			b.Fatalf("%d evaluations", res.Evaluations)
		}
	}
}
