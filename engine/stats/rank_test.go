package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestRanks(t *testing.T) {
	tests := []struct {
		xs, want []float64
	}{
		{[]float64{10, 20, 20, 5}, []float64{2, 3.5, 3.5, 1}},
		{[]float64{3, 1, 2}, []float64{3, 1, 2}},
		{[]float64{7, 7, 7}, []float64{2, 2, 2}},
		{nil, []float64{}},
	}
	for _, tc := range tests {
		if got := Ranks(tc.xs); !slices.Equal(got, tc.want) {
			t.Errorf("Ranks(%v) = %v, want %v", tc.xs, got, tc.want)
		}
	}
}

func TestCorrelations(t *testing.T) {
	nan := math.NaN()
	id := []float64{1, 2, 3, 4, 5}
	tests := []struct {
		name                       string
		a, b                       []float64
		spearman, pearson, kendall float64
	}{
		// Identical and reversed orders: every rank correlation is ±1.
		{"identity", id, []float64{10, 20, 30, 40, 50}, 1, 1, 1},
		{"reversed", id, []float64{5, 4, 3, 2, 1}, -1, -1, -1},
		// Without ties ρ = 1 − 6Σd²/(n(n²−1)). Swapping two adjacent pairs:
		// d = (1,1,1,1,0) → Σd² = 4 → ρ = 1 − 24/120 = 0.8. Kendall: 2
		// discordant of 10 pairs → (8−2)/10 = 0.6. Pearson equals Spearman
		// because both inputs are their own ranks.
		{"two swaps", id, []float64{2, 1, 4, 3, 5}, 0.8, 0.8, 0.6},
		// [3,1,2] against [1,2,3]: d = (2,−1,−1), Σd² = 6 → ρ = 1 − 36/24 = −0.5;
		// pairs (1,2) disc, (1,3) disc, (2,3) conc → τ = −1/3.
		{"rotation", []float64{1, 2, 3}, []float64{3, 1, 2}, -0.5, -0.5, -1.0 / 3},
		// Ties: b ranks [1,2,3.5,5,3.5]; rank deviations (−2,−1,0,1,2) and
		// (−2,−1,.5,2,.5) → cov 8, var 10 and 9.5 → ρ = 8/√95
		// (scipy.stats.spearmanr gives 0.8207826816681233). Pearson on raw
		// values: deviations of b from 6.6 are (−1.6,−.6,.4,1.4,.4) → Σab = 6,
		// Σbb = 5.2 → 6/√52. Kendall: 8 concordant, 1 discordant (8 > 7), 1 pair
		// tied in b → 7/√(10·9) = 7/√90.
		{"ties", id, []float64{5, 6, 7, 8, 7}, 8 / math.Sqrt(95), 6 / math.Sqrt(52), 7 / math.Sqrt(90)},
		// scipy.stats.kendalltau docs example: τ_b = −0.47140452079103173
		// (= −4/√72: 2 concordant, 6 discordant, 2 pairs tied in a, 1 in b).
		// Ranks a = (4.5,2.5,1,4.5,2.5), b = (2.5,4,5,2.5,1), deviations from 3
		// give Σ = −5, 9, 9.5 → ρ = −5/√85.5. Raw deviations from 5.8 and 2.6
		// give Σab = −36.4, Σaa = 128.8, Σbb = 33.2.
		{"scipy kendall example", []float64{12, 2, 1, 12, 2}, []float64{1, 4, 7, 1, 0},
			-5 / math.Sqrt(85.5), -36.4 / math.Sqrt(128.8*33.2), -4 / math.Sqrt(72)},
		{"constant", id, []float64{3, 3, 3, 3, 3}, nan, nan, nan},
		{"one pair", []float64{1}, []float64{2}, nan, nan, nan},
		{"NaN", []float64{1, 2, nan}, []float64{1, 2, 3}, nan, nan, nan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a0, b0 := slices.Clone(tc.a), slices.Clone(tc.b)
			if got := Spearman(tc.a, tc.b); !near(got, tc.spearman, 1e-12) {
				t.Errorf("Spearman = %.17g, want %.17g", got, tc.spearman)
			}
			if got := Pearson(tc.a, tc.b); !near(got, tc.pearson, 1e-12) {
				t.Errorf("Pearson = %.17g, want %.17g", got, tc.pearson)
			}
			if got := Kendall(tc.a, tc.b); !near(got, tc.kendall, 1e-12) {
				t.Errorf("Kendall = %.17g, want %.17g", got, tc.kendall)
			}
			if !slices.EqualFunc(a0, tc.a, sameFloat) || !slices.EqualFunc(b0, tc.b, sameFloat) {
				t.Error("inputs modified")
			}
		})
	}
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func TestLengthMismatchPanics(t *testing.T) {
	fns := map[string]func(){
		"Spearman":   func() { Spearman([]float64{1}, []float64{1, 2}) },
		"Pearson":    func() { Pearson([]float64{1}, []float64{1, 2}) },
		"Kendall":    func() { Kendall([]float64{1}, []float64{1, 2}) },
		"MAPE":       func() { MAPE([]float64{1}, []float64{1, 2}) },
		"WithinFrac": func() { WithinFrac([]float64{1}, []float64{1, 2}, 0.1) },
		"MAE":        func() { MAE([]float64{1}, []float64{1, 2}) },
		"RMSE":       func() { RMSE([]float64{1}, []float64{1, 2}) },
	}
	for name, fn := range fns {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("%s with mismatched lengths did not panic", name)
				}
			}()
			fn()
		})
	}
}

// TestRankCorrelationPermutations checks Spearman and Kendall on random
// permutations (no ties) against their closed forms: ρ = 1 − 6Σd²/(n(n²−1))
// with d the rank differences, and τ = 1 − 4·inv/(n(n−1)) with inv the
// number of inversions.
func TestRankCorrelationPermutations(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 50 {
		n := 2 + trial%30
		perm := rng.Perm(n)
		a := make([]float64, n)
		b := make([]float64, n)
		d2, inv := 0, 0
		for i, p := range perm {
			a[i] = float64(i) * 1.5 // any increasing values: ranks i+1
			b[i] = float64(p*p) - 3 // any increasing map of p: ranks p+1
			d2 += (i - p) * (i - p)
			for j := i + 1; j < n; j++ {
				if perm[j] < p {
					inv++
				}
			}
		}
		wantRho := 1 - 6*float64(d2)/float64(n*(n*n-1))
		wantTau := 1 - 4*float64(inv)/float64(n*(n-1))
		if got := Spearman(a, b); !near(got, wantRho, 1e-12) {
			t.Errorf("perm %v: Spearman = %.15g, want %.15g", perm, got, wantRho)
		}
		if got := Kendall(a, b); !near(got, wantTau, 1e-12) {
			t.Errorf("perm %v: Kendall = %.15g, want %.15g", perm, got, wantTau)
		}
	}
}
