package predict

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"blockprof/model"
)

// TransferDesignOptions tune ChooseTransferArchs.
type TransferDesignOptions struct {
	// Lambda and LambdaS are the prior precisions (relative to the noise)
	// the design assumes for the departures δ and the scales s_k; 0 takes
	// DefaultDesignLambda and DefaultDesignLambdaS. A fitted Transfer's
	// Lambda()/LambdaS() are the natural values once some archs are
	// measured.
	Lambda, LambdaS float64
}

// The design's default precisions: δ with the noise's spread (a new device
// departs from the scaled prior effects by about as much as one
// measurement varies), s_k with ten times it.
const (
	DefaultDesignLambda  = 1.0
	DefaultDesignLambdaS = 1e-2
)

// ChooseTransferArchs picks n archs of pool to measure on the new device,
// given the prior devices and the archs already measured on it: a greedy
// Bayesian I-optimal design (A-optimal weighted by the pool's second
// moments) for the transfer model. Each pick is the candidate whose
// measurement most lowers the average posterior variance of the log
// latency over the pool,
//
//	gain(a) = uᵀWu / (1 + φ(a)ᵀu),  u = Σφ(a),  W = mean_pool φφᵀ,
//
// with Σ the current posterior covariance (in units of σ²), which depends
// only on which archs are measured, not on their latencies. It returns
// indices into pool, in pick order; a pool arch is picked at most once.
func ChooseTransferArchs(sp *model.Space, priors []TransferPrior, measured, pool []model.Arch, n int, opts TransferDesignOptions) ([]int, error) {
	if err := checkPriors(sp, priors); err != nil {
		return nil, err
	}
	if n < 0 || n > len(pool) {
		return nil, fmt.Errorf("transfer design: %d archs asked from a pool of %d", n, len(pool))
	}
	if len(pool) == 0 {
		return nil, errors.New("transfer design: the candidate pool is empty")
	}
	for _, a := range append(append([]model.Arch(nil), measured...), pool...) {
		if err := sp.Check(a); err != nil {
			return nil, fmt.Errorf("transfer design: %w", err)
		}
	}
	lam, lamS := opts.Lambda, opts.LambdaS
	if lam == 0 {
		lam = DefaultDesignLambda
	}
	if lamS == 0 {
		lamS = DefaultDesignLambdaS
	}
	if !(lam > 0) || !(lamS > 0) || math.IsInf(lam, 0) || math.IsInf(lamS, 0) {
		return nil, fmt.Errorf("transfer design: λ=%g, λ_s=%g: each must be finite and > 0", lam, lamS)
	}
	b := newTransferBasis(sp, priors)
	p := b.dim()
	pr := b.precision(lam, lamS)
	a := mat.NewSymDense(p, nil)
	for j := range pr {
		a.SetSym(j, j, pr[j])
	}
	for _, m := range measured {
		f := b.phi(m)
		a.SymRankOne(a, 1, mat.NewVecDense(p, f))
	}
	var ch mat.Cholesky
	if !ch.Factorize(a) {
		return nil, errors.New("transfer design: singular prior precision")
	}
	sigma := mat.NewSymDense(p, nil)
	if err := ch.InverseTo(sigma); err != nil {
		return nil, fmt.Errorf("transfer design: %w", err)
	}
	phis := make([]*mat.VecDense, len(pool))
	w := mat.NewSymDense(p, nil)
	for i, c := range pool {
		phis[i] = mat.NewVecDense(p, b.phi(c))
		w.SymRankOne(w, 1/float64(len(pool)), phis[i])
	}
	taken := make([]bool, len(pool))
	out := make([]int, 0, n)
	u := mat.NewVecDense(p, nil)
	wu := mat.NewVecDense(p, nil)
	for len(out) < n {
		best, bestGain := -1, math.Inf(-1)
		for i, f := range phis {
			if taken[i] {
				continue
			}
			u.MulVec(sigma, f)
			wu.MulVec(w, u)
			g := mat.Dot(u, wu) / (1 + mat.Dot(f, u))
			if g > bestGain {
				best, bestGain = i, g
			}
		}
		taken[best] = true
		out = append(out, best)
		u.MulVec(sigma, phis[best])
		sigma.SymRankOne(sigma, -1/(1+mat.Dot(phis[best], u)), u)
	}
	return out, nil
}
