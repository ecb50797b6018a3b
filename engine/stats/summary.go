package stats

import (
	"math"
	"math/bits"
	"slices"
)

// Mean returns the arithmetic mean of xs, or NaN when xs is empty.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Variance returns the unbiased sample variance of xs (denominator n−1),
// computed in two passes for accuracy. It is NaN when len(xs) < 2.
func Variance(xs []float64) float64 {
	if len(xs) < 2 {
		return math.NaN()
	}
	m := Mean(xs)
	s, c := 0.0, 0.0
	for _, x := range xs {
		d := x - m
		s += d * d
		c += d
	}
	// The second term corrects the rounding error of m (corrected two-pass).
	return (s - c*c/float64(len(xs))) / float64(len(xs)-1)
}

// Std returns the sample standard deviation of xs, the square root of
// Variance (denominator n−1). It is NaN when len(xs) < 2.
func Std(xs []float64) float64 {
	return math.Sqrt(Variance(xs))
}

// Median returns the median of xs (the type-7 quantile at 0.5, i.e. the
// mean of the two middle values for even lengths), or NaN when xs is empty
// or holds a NaN.
func Median(xs []float64) float64 {
	return Quantile(xs, 0.5)
}

// Quantile returns the q-quantile of xs by linear interpolation between
// order statistics, Hyndman & Fan type 7: with the values sorted as
// x[0] ≤ … ≤ x[n−1], h = (n−1)·q and
//
//	Q(q) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋+1] − x[⌊h⌋]).
//
// This is the default of numpy.quantile/percentile ("linear"), R's
// quantile() and Excel's PERCENTILE.INC. Q(0) is the minimum and Q(1) the
// maximum. The result is NaN when xs is empty, holds a NaN, or q is outside
// [0, 1]. xs is not modified; to take several quantiles of the same data use
// Quantiles, which sorts once.
func Quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 || !(q >= 0 && q <= 1) || hasNaN(xs) {
		return math.NaN()
	}
	// Selection on a scratch copy: O(n), and on the stack for the sample
	// counts of a timing run, so a bootstrap of the median does not allocate.
	var buf [256]float64
	var s []float64
	if len(xs) <= len(buf) {
		s = buf[:len(xs)]
	} else {
		s = make([]float64, len(xs))
	}
	copy(s, xs)
	return selectQuantile(s, q)
}

// QuantileInPlace is Quantile on a scratch slice it may reorder: no copy
// and no allocation, for a statistic evaluated on each bootstrap resample
// (a sort of each resample made the bootstrap of a 20,000-arch series take
// seconds). The result equals Quantile's to the bit.
func QuantileInPlace(s []float64, q float64) float64 {
	if len(s) == 0 || !(q >= 0 && q <= 1) || hasNaN(s) {
		return math.NaN()
	}
	return selectQuantile(s, q)
}

// Quantiles returns the type-7 quantiles (see Quantile) of xs at each of qs,
// sorting a copy of xs once. Entries for q outside [0, 1] are NaN; all are
// NaN when xs is empty or holds a NaN.
func Quantiles(xs []float64, qs ...float64) []float64 {
	out := make([]float64, len(qs))
	s, ok := sortedCopy(xs)
	for i, q := range qs {
		if !ok || !(q >= 0 && q <= 1) {
			out[i] = math.NaN()
			continue
		}
		out[i] = QuantileSorted(s, q)
	}
	return out
}

// QuantileSorted is Quantile for data already sorted ascending; it neither
// checks the order nor copies. It is NaN when sorted is empty or q is
// outside [0, 1].
func QuantileSorted(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	h := float64(n-1) * q
	lo := int(h) // h ≥ 0, so truncation is floor
	if lo >= n-1 {
		return sorted[n-1]
	}
	frac := h - float64(lo)
	if frac == 0 {
		return sorted[lo]
	}
	return sorted[lo] + frac*(sorted[lo+1]-sorted[lo])
}

// IQR returns the interquartile range Q(0.75) − Q(0.25) of xs with type-7
// quantiles (see Quantile), or NaN when xs is empty or holds a NaN.
func IQR(xs []float64) float64 {
	s, ok := sortedCopy(xs)
	if !ok {
		return math.NaN()
	}
	return QuantileSorted(s, 0.75) - QuantileSorted(s, 0.25)
}

// RelSpread returns the robust relative spread IQR/|median| of xs, the
// measurement protocol's stability criterion (0.02 means the middle half of
// the samples spans 2% of the median). It is NaN when xs is empty or holds a
// NaN, +Inf when the median is 0 and the IQR is not, and NaN when both are 0.
func RelSpread(xs []float64) float64 {
	s, ok := sortedCopy(xs)
	if !ok {
		return math.NaN()
	}
	return relSpreadSorted(s)
}

func relSpreadSorted(s []float64) float64 {
	iqr := QuantileSorted(s, 0.75) - QuantileSorted(s, 0.25)
	return iqr / math.Abs(QuantileSorted(s, 0.5))
}

// Summary describes a sample of timings (or any values) robustly and
// classically at once. Quantiles are type 7 (see Quantile); Std is the
// sample standard deviation (n−1).
type Summary struct {
	N              int
	Min, Max       float64
	Q1, Median, Q3 float64
	IQR            float64
	RelSpread      float64 // IQR/|Median|
	Mean, Std      float64
}

// Summarize computes a Summary of xs with one sort of a copy. Every field
// but N is NaN when xs is empty or holds a NaN; Std is NaN when N < 2.
func Summarize(xs []float64) Summary {
	sm := Summary{N: len(xs)}
	s, ok := sortedCopy(xs)
	if !ok {
		nan := math.NaN()
		sm.Min, sm.Max, sm.Q1, sm.Median, sm.Q3 = nan, nan, nan, nan, nan
		sm.IQR, sm.RelSpread, sm.Mean, sm.Std = nan, nan, nan, nan
		return sm
	}
	sm.Min, sm.Max = s[0], s[len(s)-1]
	sm.Q1 = QuantileSorted(s, 0.25)
	sm.Median = QuantileSorted(s, 0.5)
	sm.Q3 = QuantileSorted(s, 0.75)
	sm.IQR = sm.Q3 - sm.Q1
	sm.RelSpread = sm.IQR / math.Abs(sm.Median)
	sm.Mean = Mean(xs)
	sm.Std = Std(xs)
	return sm
}

// selectQuantile returns the type-7 q-quantile of s (no NaNs, q in [0, 1]),
// reordering s.
func selectQuantile(s []float64, q float64) float64 {
	n := len(s)
	h := float64(n-1) * q
	lo := int(h)
	selectK(s, lo)
	frac := h - float64(lo)
	if lo >= n-1 || frac == 0 {
		return s[lo]
	}
	// s[lo+1:] holds the values ≥ s[lo]; the next order statistic is their
	// minimum.
	next := s[lo+1]
	for _, v := range s[lo+2:] {
		if v < next {
			next = v
		}
	}
	return s[lo] + frac*(next-s[lo])
}

// selectK reorders s (no NaNs) so that s[k] is the value a sort would put
// there, with s[:k] ≤ s[k] ≤ s[k+1:]: Hoare's selection with Wirth's
// partition, falling back to a sort of the remaining range if the
// partitions keep coming out lopsided, so the worst case is O(n log n).
func selectK(s []float64, k int) {
	lo, hi := 0, len(s)-1
	budget := 2 * bits.Len(uint(len(s)))
	for lo < hi {
		if budget == 0 || hi-lo < 12 {
			slices.Sort(s[lo : hi+1])
			return
		}
		budget--
		// Median of three as the pivot guards against sorted input.
		mid := lo + (hi-lo)/2
		a, b, c := s[lo], s[mid], s[hi]
		pivot := max(min(a, b), min(max(a, b), c))
		i, j := lo, hi
		for i <= j {
			for s[i] < pivot {
				i++
			}
			for pivot < s[j] {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		// Now s[lo..j] ≤ pivot ≤ s[i..hi], and s[j+1..i−1] = pivot.
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
}

// sortedCopy returns an ascending copy of xs, and false when xs is empty or
// holds a NaN.
func sortedCopy(xs []float64) ([]float64, bool) {
	if len(xs) == 0 {
		return nil, false
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	// slices.Sort orders NaN first.
	if math.IsNaN(s[0]) {
		return nil, false
	}
	return s, true
}
