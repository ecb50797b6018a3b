package store

import (
	"math"
	"slices"

	"blockprof/engine/stats"
)

// Stats summarises the samples of one measurement. Statistics are always
// computed from the stored samples (Summarize), never stored on their own;
// the store keeps Median, Spread and N as columns only to answer queries
// without decoding every sample.
type Stats struct {
	N      int     `json:"n"`
	Median float64 `json:"median_ms"`
	Q1     float64 `json:"q1_ms"`
	Q3     float64 `json:"q3_ms"`
	Min    float64 `json:"min_ms"`
	Max    float64 `json:"max_ms"`
	Mean   float64 `json:"mean_ms"`
	// Spread is the robust relative spread IQR/median (0 when the median
	// is 0 or there is a single sample).
	Spread float64 `json:"spread"`
}

// Summarize computes Stats with engine/stats' type-7 quantiles (the same
// rule as the measurement protocol's stopping criterion). NaN and infinite
// samples are ignored. No samples give the zero Stats.
func Summarize(samples []float64) Stats {
	s := slices.DeleteFunc(slices.Clone(samples), func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) })
	if len(s) == 0 {
		return Stats{}
	}
	x := stats.Summarize(s)
	st := Stats{N: x.N, Min: x.Min, Max: x.Max, Mean: x.Mean, Median: x.Median, Q1: x.Q1, Q3: x.Q3}
	if st.Median != 0 {
		st.Spread = (st.Q3 - st.Q1) / st.Median
	}
	return st
}

// Median of unsorted values (0 for none); the input is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	return stats.Median(xs)
}
