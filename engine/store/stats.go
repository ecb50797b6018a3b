package store

import (
	"math"
	"slices"
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

// Summarize computes Stats with type-7 quantiles (the same rule as the
// measurement protocol's stopping criterion). NaN and infinite samples
// are ignored. No samples give the zero Stats.
func Summarize(samples []float64) Stats {
	s := make([]float64, 0, len(samples))
	for _, x := range samples {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			s = append(s, x)
		}
	}
	if len(s) == 0 {
		return Stats{}
	}
	slices.Sort(s)
	sum := 0.0
	for _, x := range s {
		sum += x
	}
	st := Stats{
		N: len(s), Min: s[0], Max: s[len(s)-1], Mean: sum / float64(len(s)),
		Median: Quantile(s, 0.5), Q1: Quantile(s, 0.25), Q3: Quantile(s, 0.75),
	}
	if st.Median != 0 {
		st.Spread = (st.Q3 - st.Q1) / st.Median
	}
	return st
}

// Quantile is the type-7 (linear interpolation) quantile of sorted, p in
// [0, 1]. sorted must be non-empty and sorted ascending.
func Quantile(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	lo := int(math.Floor(h))
	if lo < 0 {
		return sorted[0]
	}
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// Median of unsorted values (0 for none); the input is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return Quantile(s, 0.5)
}
