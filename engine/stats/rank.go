package stats

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Ranks returns the 1-based ranks of xs, giving tied values the average of
// the ranks they span (the "average" method of scipy.stats.rankdata), so
// Ranks([]float64{10, 20, 20, 5}) is [2, 3.5, 3.5, 1]. xs is not modified.
// NaNs are ranked below every number and tie with each other; callers that
// care should check for them first (Spearman does).
func Ranks(xs []float64) []float64 {
	n := len(xs)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return cmp.Compare(xs[i], xs[j]) })
	r := make([]float64, n)
	for i := 0; i < n; {
		j := i + 1
		for j < n && cmp.Compare(xs[idx[j]], xs[idx[i]]) == 0 {
			j++
		}
		// Positions i..j-1 hold equal values: ranks i+1..j, average (i+1+j)/2.
		avg := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			r[idx[k]] = avg
		}
		i = j
	}
	return r
}

// Pearson returns the Pearson product-moment correlation of a and b, in
// [−1, 1]. It is NaN when there are fewer than two pairs, either input
// holds a NaN, or either input is constant. It panics when the lengths
// differ.
func Pearson(a, b []float64) float64 {
	mustSameLen("Pearson", a, b)
	if len(a) < 2 {
		return math.NaN()
	}
	ma, mb := Mean(a), Mean(b)
	var sab, saa, sbb float64
	for i := range a {
		da, db := a[i]-ma, b[i]-mb
		sab += da * db
		saa += da * da
		sbb += db * db
	}
	if saa == 0 || sbb == 0 {
		return math.NaN()
	}
	r := sab / math.Sqrt(saa*sbb)
	return max(-1, min(1, r)) // NaN passes through max/min unchanged
}

// Spearman returns Spearman's rank correlation of a and b: the Pearson
// correlation of their ranks, with ties given average ranks (as
// scipy.stats.spearmanr). It is 1 when b orders the items exactly as a does
// and −1 when exactly reversed. It is NaN when there are fewer than two
// pairs, either input holds a NaN, or either input is constant. It panics
// when the lengths differ.
func Spearman(a, b []float64) float64 {
	mustSameLen("Spearman", a, b)
	if len(a) < 2 || hasNaN(a) || hasNaN(b) {
		return math.NaN()
	}
	return Pearson(Ranks(a), Ranks(b))
}

// Kendall returns Kendall's tau-b rank correlation of a and b, which
// corrects for ties in either input (as scipy.stats.kendalltau's default):
//
//	τ_b = (n_c − n_d) / √((n₀ − t_a)(n₀ − t_b))
//
// with n_c and n_d the concordant and discordant pairs, n₀ = n(n−1)/2, and
// t_a, t_b the pairs tied in a and in b. It compares every pair, O(n²), which
// suits the few hundred archs of a profiling run. It is NaN when there are
// fewer than two pairs, either input holds a NaN, or either input is
// constant. It panics when the lengths differ.
func Kendall(a, b []float64) float64 {
	mustSameLen("Kendall", a, b)
	n := len(a)
	if n < 2 || hasNaN(a) || hasNaN(b) {
		return math.NaN()
	}
	var s, tieA, tieB int
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			sa := cmp.Compare(a[i], a[j])
			sb := cmp.Compare(b[i], b[j])
			if sa == 0 {
				tieA++
			}
			if sb == 0 {
				tieB++
			}
			s += sa * sb
		}
	}
	n0 := n * (n - 1) / 2
	if tieA == n0 || tieB == n0 {
		return math.NaN()
	}
	return float64(s) / math.Sqrt(float64(n0-tieA)*float64(n0-tieB))
}

func hasNaN(xs []float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) {
			return true
		}
	}
	return false
}

func mustSameLen(fn string, a, b []float64) {
	if len(a) != len(b) {
		panic(fmt.Sprintf("stats.%s: inputs have %d and %d values; they must pair up", fn, len(a), len(b)))
	}
}
