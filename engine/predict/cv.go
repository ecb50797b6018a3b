package predict

import (
	"math"
	"math/rand/v2"
	"slices"

	"blockprof/engine/stats"
)

// newRand is the generator behind every fold split: the same seed gives
// the same folds here and in stats.RidgeCV.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }

// folds deals 0..n-1 into k folds exactly as stats.RidgeCV does with
// newRand(seed): row order[j] goes to fold j mod k. Each fold is sorted.
func folds(n, k int, seed uint64) [][]int {
	out := make([][]int, k)
	for j, i := range newRand(seed).Perm(n) {
		out[j%k] = append(out[j%k], i)
	}
	for _, f := range out {
		slices.Sort(f)
	}
	return out
}

// complement lists 0..n-1 minus the sorted test rows.
func complement(n int, test []int) []int {
	out := make([]int, 0, n-len(test))
	j := 0
	for i := 0; i < n; i++ {
		if j < len(test) && test[j] == i {
			j++
			continue
		}
		out = append(out, i)
	}
	return out
}

func pick[T any](xs []T, idx []int) []T {
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

// crossVal returns the out-of-fold predictions of fit over k folds.
func crossVal(n, k int, seed uint64, fit func(train, test []int) ([]float64, error)) ([]float64, error) {
	pred := make([]float64, n)
	for _, test := range folds(n, k, seed) {
		p, err := fit(complement(n, test), test)
		if err != nil {
			return nil, err
		}
		for i, j := range test {
			pred[j] = p[i]
		}
	}
	return pred, nil
}

// lambdaGrid is the ridge penalties cross-validation chooses from: one per
// decade from 1e-4 to 1e3 (finer grids changed no CV choice by more than
// the fold noise on the shared data, and cost a Cholesky per fold each).
func lambdaGrid() []float64 { return stats.LogSpace(1e-4, 1e3, 8) }

// clampFolds keeps k in [2, n].
func clampFolds(k, n int) int {
	if k == 0 {
		k = 5
	}
	return min(max(k, 2), n)
}

func nan() float64 { return math.NaN() }
