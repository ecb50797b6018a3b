package analysis

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"

	"blockprof/engine/stats"
)

// The numerics come from engine/stats (type-7 quantiles, percentile
// bootstrap, Spearman); this file only adapts them.

var (
	mean           = stats.Mean
	sd             = stats.Std
	quantileSorted = stats.QuantileSorted
	percentileCI   = stats.PercentileCI
)

// tQuantile is the two-sided critical value of Student's t at level with
// dof degrees of freedom (the normal one for large dof).
func tQuantile(level, dof float64) float64 {
	p := 1 - (1-level)/2
	if dof > 1e6 || math.IsInf(dof, 1) {
		return distuv.UnitNormal.Quantile(p)
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: dof}.Quantile(p)
}

// Spearman is the rank correlation of x and y (NaN for fewer than 3 pairs,
// a NaN or a constant side).
func Spearman(x, y []float64) float64 {
	if len(x) != len(y) || len(x) < 3 {
		return math.NaN()
	}
	return stats.Spearman(x, y)
}

// seedFor derives a per-group stream so that results do not depend on the
// order groups are visited in.
func seedFor(seed uint64, k int) uint64 {
	return seed ^ (uint64(k+1) * 0x9e3779b97f4a7c15)
}

// quantileStat is the τ-quantile as a bootstrap statistic (it reorders its
// scratch argument: a selection, not a sort).
func quantileStat(tau float64) func([]float64) float64 {
	return func(x []float64) float64 { return stats.QuantileInPlace(x, tau) }
}
