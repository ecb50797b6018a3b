package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPercentileCI(t *testing.T) {
	nan := math.NaN()
	// 1..101: type-7 quantile at q has h = 100q, so Q(.05) = x[5] = 6 and
	// Q(.95) = x[95] = 96; Q(.025) has h = 2.5 → 3.5 and Q(.975) → 98.5.
	seq := make([]float64, 101)
	for i := range seq {
		seq[i] = float64(101 - i) // descending: PercentileCI must sort
	}
	tests := []struct {
		name   string
		reps   []float64
		level  float64
		lo, hi float64
	}{
		{"90% of 1..101", seq, 0.9, 6, 96},
		{"95% of 1..101", seq, 0.95, 3.5, 98.5},
		{"NaNs dropped", append(slices.Clone(seq), nan, nan), 0.9, 6, 96},
		{"one replicate", []float64{3}, 0.9, nan, nan},
		{"level 1", seq, 1, nan, nan},
		{"level 0", seq, 0, nan, nan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi := PercentileCI(slices.Clone(tc.reps), tc.level)
			if !near(lo, tc.lo, 1e-12) || !near(hi, tc.hi, 1e-12) {
				t.Errorf("PercentileCI = (%g, %g), want (%g, %g)", lo, hi, tc.lo, tc.hi)
			}
		})
	}
}

func normalSample(rng *rand.Rand, n int, mu, sigma float64) []float64 {
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = mu + sigma*rng.NormFloat64()
	}
	return xs
}

// TestBootstrapCoverage draws many normal samples and checks that the
// percentile intervals for the mean, a difference of means and a difference
// of medians cover the true value at roughly the nominal 90%. The percentile
// method runs a little narrow for the mean at n = 40 and a little wide for
// medians: a 3,000-trial run of this test gave 0.878, 0.888 and 0.922. With
// 200 trials the binomial standard error is ~2.2 points, so the band
// [0.82, 0.96] is at least ±2.6 SE around those. The seed is fixed.
func TestBootstrapCoverage(t *testing.T) {
	const trials, resamples, level = 200, 250, 0.9
	rng := rand.New(rand.NewPCG(2024, 11))
	var one, diff, q int
	for range trials {
		xs := normalSample(rng, 40, 5, 2)
		if lo, hi := Bootstrap(rng, xs, Mean, resamples, level); lo <= 5 && 5 <= hi {
			one++
		}
		a := normalSample(rng, 30, 1, 1)
		b := normalSample(rng, 50, 0, 2)
		if lo, hi := BootstrapDiff(rng, a, b, Mean, resamples, level); lo <= 1 && 1 <= hi {
			diff++
		}
		// Medians of N(1,1) and N(0,2) differ by 1 as well.
		if lo, hi := BootstrapDiff(rng, a, b, Median, resamples, level); lo <= 1 && 1 <= hi {
			q++
		}
	}
	for name, k := range map[string]int{"Bootstrap(Mean)": one, "BootstrapDiff(Mean)": diff, "BootstrapDiff(Median)": q} {
		cov := float64(k) / trials
		t.Logf("%s coverage %.3f (nominal %.2f)", name, cov, level)
		if cov < 0.82 || cov > 0.96 {
			t.Errorf("%s covered the truth in %.3f of %d trials, want about %.2f", name, cov, trials, level)
		}
	}
}

func TestBootstrapBehaviour(t *testing.T) {
	xs := []float64{5, 3, 9, 1, 7, 2, 8}
	orig := slices.Clone(xs)
	sortingMin := func(s []float64) float64 { slices.Sort(s); return s[0] }

	// Same seed, same interval; the statistic may sort its scratch slice
	// without touching the caller's data.
	lo1, hi1 := Bootstrap(rand.New(rand.NewPCG(1, 1)), xs, sortingMin, 200, 0.9)
	lo2, hi2 := Bootstrap(rand.New(rand.NewPCG(1, 1)), xs, sortingMin, 200, 0.9)
	if lo1 != lo2 || hi1 != hi2 {
		t.Errorf("same seed gave (%g,%g) then (%g,%g)", lo1, hi1, lo2, hi2)
	}
	if !slices.Equal(xs, orig) {
		t.Errorf("Bootstrap modified its input: %v, was %v", xs, orig)
	}
	// The minimum of a resample is one of the data and at least the minimum.
	if !slices.Contains(xs, lo1) || !slices.Contains(xs, hi1) || lo1 < 1 || lo1 > hi1 {
		t.Errorf("min interval (%g, %g) is not made of data values ≥ 1", lo1, hi1)
	}

	rng := rand.New(rand.NewPCG(3, 4))
	if lo, hi := Bootstrap(rng, []float64{4, 4, 4}, Mean, 50, 0.95); lo != 4 || hi != 4 {
		t.Errorf("constant data: (%g, %g), want (4, 4)", lo, hi)
	}
	for name, ci := range map[string][2]float64{
		"empty":       pair(Bootstrap(rng, nil, Mean, 50, 0.95)),
		"n=1":         pair(Bootstrap(rng, xs, Mean, 1, 0.95)),
		"level 1.5":   pair(Bootstrap(rng, xs, Mean, 50, 1.5)),
		"diff empty":  pair(BootstrapDiff(rng, xs, nil, Mean, 50, 0.95)),
		"paired none": pair(BootstrapPaired(rng, nil, nil, Spearman, 50, 0.95)),
	} {
		if !math.IsNaN(ci[0]) || !math.IsNaN(ci[1]) {
			t.Errorf("%s: (%g, %g), want (NaN, NaN)", name, ci[0], ci[1])
		}
	}

	// Paired resampling keeps pairs together: a monotone relation has
	// Spearman 1 on every resample that is not constant (constant ones are
	// NaN and dropped).
	a := []float64{1, 2, 3, 4, 5, 6, 7, 8}
	b := []float64{10, 20, 25, 26, 40, 41, 90, 100}
	if lo, hi := BootstrapPaired(rng, a, b, Spearman, 300, 0.95); lo != 1 || hi != 1 {
		t.Errorf("paired Spearman of a monotone relation: (%g, %g), want (1, 1)", lo, hi)
	}
	// BootstrapReplicates appends exactly n values after dst.
	reps := BootstrapReplicates(rng, xs, Mean, 25, []float64{-1})
	if len(reps) != 26 || reps[0] != -1 {
		t.Errorf("BootstrapReplicates: len %d first %g, want 26 and -1", len(reps), reps[0])
	}
	for _, r := range reps[1:] {
		if r < 1 || r > 9 {
			t.Errorf("replicate mean %g outside the data range [1, 9]", r)
		}
	}
}

func pair(a, b float64) [2]float64 { return [2]float64{a, b} }

func TestBootstrapNilRNGPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Bootstrap with a nil rng did not panic")
		}
	}()
	Bootstrap(nil, []float64{1, 2}, Mean, 10, 0.9)
}
