package stats

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// RidgeCVResult is the outcome of RidgeCV: the chosen λ, the refit on all
// rows, and the cross-validation curve for plotting or reporting.
type RidgeCVResult struct {
	// Fit is Ridge on every row at Lambda.
	Fit *RidgeFit
	// Lambda is the λ with the lowest CV error (the largest such λ on ties).
	Lambda float64
	// Lambda1SE is the largest λ whose CV error is within one standard error
	// of the minimum, the "one-standard-error rule" for a sparser-shrunk,
	// usually more stable model.
	Lambda1SE float64
	// Lambdas is the grid as given; MSE[i] is the mean squared error of the
	// held-out predictions at Lambdas[i] pooled over all rows, and SE[i] the
	// standard error of that mean across folds. MSE is +Inf at a λ where some
	// fold could not be solved (λ = 0 on a rank-deficient fold).
	Lambdas []float64
	MSE     []float64
	SE      []float64
	// Folds is the number of folds used.
	Folds int
}

// RidgeCV picks λ from lambdas by k-fold cross-validation (k = folds) and
// refits on all rows at the λ with the lowest held-out mean squared error;
// see RidgeFit for the model. The rows are shuffled with rng before they
// are dealt into folds of near-equal size; with a nil rng row i goes to fold
// i mod k without shuffling (only sensible when the rows are already in
// random order). The cross-products of each fold are formed once, in one
// pass over the rows, and combined into every training set's centred Gram
// matrix, so the whole search costs about two Ridge fits plus a p×p
// Cholesky factorisation per (fold, λ). LogSpace builds a usual grid.
//
// It returns an error when the inputs are invalid (as Ridge), the grid is
// empty or holds a negative or non-finite λ, folds is not in [2, rows], or
// no λ can be solved on every fold.
func RidgeCV(X [][]float64, y []float64, lambdas []float64, folds int, rng *rand.Rand, opts RidgeOptions) (*RidgeCVResult, error) {
	p, err := checkRidge(X, y, opts)
	if err != nil {
		return nil, err
	}
	if len(lambdas) == 0 {
		return nil, errors.New("stats: ridge CV: no λ to try; pass a grid such as LogSpace(1e-3, 1e3, 13)")
	}
	for _, l := range lambdas {
		if !(l >= 0) || math.IsInf(l, 1) {
			return nil, fmt.Errorf("stats: ridge CV: λ = %g in the grid; every λ must be finite and ≥ 0", l)
		}
	}
	n := len(y)
	if folds < 2 || folds > n {
		return nil, fmt.Errorf("stats: ridge CV: %d folds for %d rows; use between 2 and the row count (5 or 10 is usual)", folds, n)
	}
	order := make([]int, n)
	if rng != nil {
		order = rng.Perm(n)
	} else {
		for i := range order {
			order[i] = i
		}
	}
	members := make([][]int, folds) // rows held out in each fold
	for k, i := range order {
		members[k%folds] = append(members[k%folds], i)
	}
	intercept := !opts.NoIntercept
	mx, my := designOrigin(X, y, p, intercept)
	parts := make([]*foldSums, folds)
	for f, rows := range members {
		parts[f] = sumsOf(X, y, rows, p, mx, my)
	}

	sse := make([][]float64, len(lambdas)) // sse[l][f]
	for l := range sse {
		sse[l] = make([]float64, folds)
	}
	count := make([]int, folds)
	for f, test := range members {
		count[f] = len(test)
		pr := problemOf(parts, f, p, mx, my, intercept)
		for l, lambda := range lambdas {
			beta, _, err := pr.solve(lambda, opts.Penalty)
			if err != nil {
				sse[l][f] = math.Inf(1)
				continue
			}
			s := 0.0
			for _, i := range test {
				d := y[i] - pr.predictRow(beta, X[i])
				s += d * d
			}
			sse[l][f] = s
		}
	}

	res := &RidgeCVResult{
		Lambdas: append([]float64(nil), lambdas...),
		MSE:     make([]float64, len(lambdas)),
		SE:      make([]float64, len(lambdas)),
		Folds:   folds,
	}
	best := -1
	for l := range lambdas {
		var tot float64
		perFold := make([]float64, folds)
		for f := range folds {
			tot += sse[l][f]
			perFold[f] = sse[l][f] / float64(count[f])
		}
		res.MSE[l] = tot / float64(n)
		res.SE[l] = Std(perFold) / math.Sqrt(float64(folds))
		if math.IsInf(res.MSE[l], 1) {
			res.SE[l] = math.Inf(1)
			continue
		}
		if best < 0 || res.MSE[l] < res.MSE[best] || (res.MSE[l] == res.MSE[best] && lambdas[l] > lambdas[best]) {
			best = l
		}
	}
	if best < 0 {
		return nil, errors.New("stats: ridge CV: no λ in the grid could be solved on every fold; the design is rank deficient, so include some λ > 0")
	}
	res.Lambda = lambdas[best]
	res.Lambda1SE = res.Lambda
	limit := res.MSE[best] + res.SE[best]
	for l, lambda := range lambdas {
		if res.MSE[l] <= limit && lambda > res.Lambda1SE {
			res.Lambda1SE = lambda
		}
	}
	res.Fit, err = Ridge(X, y, res.Lambda, opts)
	if err != nil {
		return nil, fmt.Errorf("stats: ridge CV: refit on all rows at λ = %g: %w", res.Lambda, err)
	}
	return res, nil
}

// LogSpace returns n values evenly spaced on a log scale from lo to hi
// inclusive (lo, hi > 0), the usual λ grid: LogSpace(1e-3, 1e3, 7) is
// 0.001, 0.01, …, 1000. It returns nil when n < 1 or lo or hi is not
// positive and finite, and [lo] when n is 1.
func LogSpace(lo, hi float64, n int) []float64 {
	if n < 1 || !(lo > 0) || !(hi > 0) || math.IsInf(lo, 1) || math.IsInf(hi, 1) {
		return nil
	}
	if n == 1 {
		return []float64{lo}
	}
	a, b := math.Log(lo), math.Log(hi)
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Exp(a + (b-a)*float64(i)/float64(n-1))
	}
	out[0], out[n-1] = lo, hi
	return out
}
