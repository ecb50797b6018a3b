package stats

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestWelford(t *testing.T) {
	var w Welford
	if w.N() != 0 || !math.IsNaN(w.Mean()) || !math.IsNaN(w.Var()) || !math.IsNaN(w.Min()) {
		t.Fatalf("empty Welford: n=%d mean=%g var=%g min=%g", w.N(), w.Mean(), w.Var(), w.Min())
	}
	// pi digits: mean 3.875, variance 52.875/7 (see TestRobustSummaries).
	xs := []float64{3, 1, 4, 1, 5, 9, 2, 6}
	for _, x := range xs {
		w.Add(x)
	}
	if w.N() != 8 || !near(w.Mean(), 3.875, 1e-12) || !near(w.Var(), 52.875/7, 1e-12) ||
		w.Min() != 1 || w.Max() != 9 || !near(w.SEM(), math.Sqrt(52.875/7/8), 1e-12) {
		t.Errorf("Welford(pi digits) n=%d mean=%g var=%g min=%g max=%g sem=%g",
			w.N(), w.Mean(), w.Var(), w.Min(), w.Max(), w.SEM())
	}

	// Merging the halves of a stream equals one pass over it, and agrees
	// with the two-pass functions, even at a 1e9 offset (the means agree to
	// 1e-14 relative; the variances to 1e-6 relative, as the running mean's
	// rounding at 1e9 is ~1e-7 per step).
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([]float64, 1001)
	for i := range data {
		data[i] = 1e9 + rng.NormFloat64()
	}
	var all, left, right Welford
	for i, x := range data {
		all.Add(x)
		if i < 400 {
			left.Add(x)
		} else {
			right.Add(x)
		}
	}
	left.Merge(right)
	var empty Welford
	left.Merge(empty)
	empty.Merge(all)
	for name, got := range map[string]*Welford{"merged": &left, "one pass": &all, "merged into empty": &empty} {
		if got.N() != len(data) || !near(got.Mean(), Mean(data), 1e-14*1e9) ||
			!near(got.Var(), Variance(data), 1e-6*Variance(data)) ||
			got.Min() != Quantile(data, 0) || got.Max() != Quantile(data, 1) {
			t.Errorf("%s: n=%d mean=%.12g var=%.12g min=%g max=%g; want mean %.12g var %.12g",
				name, got.N(), got.Mean(), got.Var(), got.Min(), got.Max(), Mean(data), Variance(data))
		}
	}
}
