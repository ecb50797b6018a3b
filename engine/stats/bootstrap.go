package stats

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Percentile-bootstrap confidence intervals.
//
// Every function here resamples with replacement, evaluates a statistic on
// each resample and takes the (1−level)/2 and (1+level)/2 type-7 quantiles
// of the replicates: the percentile interval of Efron & Tibshirani (1993,
// ch. 13). It is simple and transformation-invariant but tends to be a
// little narrow for small samples (n ≲ 30) and skewed statistics; use
// ≥ 1,000 resamples for 95% intervals.
//
// The statistic is called with a scratch slice that is refilled for every
// resample: it may reorder it (sort it in place, say) but must not keep it
// after it returns. Replicates on which the statistic is NaN (for instance a
// correlation of a resample that happens to be constant) are dropped; when
// fewer than two remain the interval is (NaN, NaN).

// Bootstrap returns the percentile-bootstrap confidence interval (lo, hi) at
// the given level (0.95 for 95%) of stat(xs), from n resamples of xs drawn
// with rng. It is (NaN, NaN) when xs is empty, n < 2 or level is not in
// (0, 1). xs is not modified. It panics when rng or stat is nil.
func Bootstrap(rng *rand.Rand, xs []float64, stat func([]float64) float64, n int, level float64) (lo, hi float64) {
	return PercentileCI(BootstrapReplicates(rng, xs, stat, n, nil), level)
}

// BootstrapReplicates appends to dst the n values of stat on resamples of xs
// drawn with rng, and returns the extended slice: the bootstrap distribution
// for callers that want more than one interval from it (several levels, a
// standard error, Q_τ at several τ). It draws nothing and returns dst when
// xs is empty or n < 1. It panics when rng or stat is nil.
func BootstrapReplicates(rng *rand.Rand, xs []float64, stat func([]float64) float64, n int, dst []float64) []float64 {
	mustRandStat("BootstrapReplicates", rng, stat != nil)
	if len(xs) == 0 || n < 1 {
		return dst
	}
	dst = slices.Grow(dst, n)
	buf := make([]float64, len(xs))
	for range n {
		resample(rng, buf, xs)
		dst = append(dst, stat(buf))
	}
	return dst
}

// BootstrapDiff returns the percentile-bootstrap confidence interval (lo, hi)
// at the given level of stat(a) − stat(b), resampling a and b independently
// n times (a two-sample bootstrap). This is the interval for differences
// such as E[M(A_ulb)] − E[M(A)] (stat = Mean) or a difference of quantiles
// Q_τ (stat = func(x) { return Quantile(x, τ) }). Independent resampling
// assumes a and b are independent samples; when a is a subset of b the
// interval is conservative (too wide), since the shared items would move
// both statistics together. It is (NaN, NaN) when either input is empty,
// n < 2 or level is not in (0, 1). Neither input is modified. It panics when
// rng or stat is nil.
func BootstrapDiff(rng *rand.Rand, a, b []float64, stat func([]float64) float64, n int, level float64) (lo, hi float64) {
	mustRandStat("BootstrapDiff", rng, stat != nil)
	if len(a) == 0 || len(b) == 0 || n < 1 {
		return math.NaN(), math.NaN()
	}
	bufA := make([]float64, len(a))
	bufB := make([]float64, len(b))
	reps := make([]float64, n)
	for i := range reps {
		resample(rng, bufA, a)
		resample(rng, bufB, b)
		reps[i] = stat(bufA) - stat(bufB)
	}
	return PercentileCI(reps, level)
}

// BootstrapPaired returns the percentile-bootstrap confidence interval
// (lo, hi) at the given level of stat(a, b) where a[i] and b[i] belong
// together (the same arch measured on two devices, a prediction and its
// truth): each resample draws indices with replacement and keeps the pairs
// intact. Use it for intervals on Spearman, Kendall, MAPE and the like. It is
// (NaN, NaN) when the inputs are empty, n < 2 or level is not in (0, 1).
// Neither input is modified. It panics when the lengths differ or rng or
// stat is nil.
func BootstrapPaired(rng *rand.Rand, a, b []float64, stat func(a, b []float64) float64, n int, level float64) (lo, hi float64) {
	mustRandStat("BootstrapPaired", rng, stat != nil)
	mustSameLen("BootstrapPaired", a, b)
	if len(a) == 0 || n < 1 {
		return math.NaN(), math.NaN()
	}
	bufA := make([]float64, len(a))
	bufB := make([]float64, len(b))
	reps := make([]float64, n)
	for i := range reps {
		for j := range bufA {
			k := rng.IntN(len(a))
			bufA[j], bufB[j] = a[k], b[k]
		}
		reps[i] = stat(bufA, bufB)
	}
	return PercentileCI(reps, level)
}

// PercentileCI returns the (1−level)/2 and (1+level)/2 type-7 quantiles of
// bootstrap replicates, dropping NaN replicates. It sorts reps in place
// (after moving the NaNs out). It is (NaN, NaN) when fewer than two finite or
// infinite replicates remain or level is not in (0, 1).
func PercentileCI(reps []float64, level float64) (lo, hi float64) {
	if !(level > 0 && level < 1) {
		return math.NaN(), math.NaN()
	}
	reps = slices.DeleteFunc(reps, math.IsNaN)
	if len(reps) < 2 {
		return math.NaN(), math.NaN()
	}
	slices.Sort(reps)
	alpha := (1 - level) / 2
	return QuantileSorted(reps, alpha), QuantileSorted(reps, 1-alpha)
}

// resample fills dst with len(dst) draws with replacement from xs.
func resample(rng *rand.Rand, dst, xs []float64) {
	m := len(xs)
	for j := range dst {
		dst[j] = xs[rng.IntN(m)]
	}
}

func mustRandStat(fn string, rng *rand.Rand, haveStat bool) {
	if rng == nil {
		panic("stats." + fn + ": rng is nil; pass rand.New(rand.NewPCG(seed, 0)) or similar")
	}
	if !haveStat {
		panic("stats." + fn + ": stat is nil")
	}
}
