package analysis

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"blockprof/model"
)

// Fit is the additive model fitted to uniform samples (see the package
// comment): every effect it reports is a linear combination of its
// coefficients, with a standard error from their covariance and a Student-t
// interval on the residual degrees of freedom. Ridge shrinks the
// coefficients toward zero; the intervals ignore that bias, so with strong
// shrinkage (a large Lambda) they are too narrow: Lambda is reported.
type Fit struct {
	Space *model.Space
	d     *design
	// N is the number of observations, P the number of coefficients
	// (intercept excluded), DF the effective degrees of freedom of the fit
	// (intercept included).
	N, P int
	DF   float64
	// Lambda is the ridge penalty chosen by leave-one-out error, relative to
	// the mean eigenvalue of the centred Gram matrix.
	Lambda float64
	// R2 is the in-sample R², Q2 the leave-one-out R² (1 − LOO MSE /
	// variance: the share of the arch-to-arch variation that block and depth
	// choices explain out of sample), LOORMSE the leave-one-out RMSE, Sigma
	// the residual standard deviation, SD the standard deviation of the
	// values.
	R2, Q2, LOORMSE, Sigma, SD float64
	level                      float64
	tcrit                      float64
	ybar                       float64
	xbar                       []float64
	beta                       []float64
	cov                        *mat.SymDense // covariance of beta
}

// minResidualDF is the fewest residual degrees of freedom a fit may keep
// (and at least a tenth of the observations): the noise estimate behind
// every interval needs them.
const minResidualDF = 5

// ErrTooFew is wrapped when there are too few observations without a fix to
// fit.
var ErrTooFew = errors.New("too few uniform observations for the regression estimator")

// FitAdditive fits the additive model to the observations of obs without a
// fix (Fix == nil: uniform ones and those marked NonUniform); the others are
// ignored. All observations must be of space sp
// at one resolution.
func FitAdditive(sp *model.Space, obs []Obs, opt Options) (*Fit, error) {
	opt = opt.withDefaults()
	d := newDesign(sp)
	// The design matrix is never held: each pass below writes the rows it
	// needs one at a time from the archs (a fit of 20,000 archs would hold
	// 8 MB of it). Every sum runs over the rows in order, as the matrix
	// products it replaces did (TestFitStreamsLikeMatrices).
	var keep []int
	res := 0
	for i, o := range obs {
		if o.Fix != nil {
			continue
		}
		if math.IsNaN(o.Value) || math.IsInf(o.Value, 0) {
			continue
		}
		if res == 0 {
			res = o.Arch.Resolution
		} else if o.Arch.Resolution != res {
			return nil, fmt.Errorf("analysis: observations at resolutions %d and %d: analyse one resolution at a time", res, o.Arch.Resolution)
		}
		keep = append(keep, i)
	}
	n, p := len(keep), d.p
	if need := max(8, (p+1)/2); n < need {
		return nil, fmt.Errorf("analysis: %w: %d, need at least %d for the %d-coefficient model of %s (sample more uniform archs)", ErrTooFew, n, need, p, sp.Name)
	}
	f := &Fit{Space: sp, d: d, N: n, P: p, level: opt.Level}
	x := make([]float64, p)
	// row writes observation i's feature vector into x, centred once
	// f.xbar is known.
	row := func(i int, centre bool) error {
		clear(x)
		if err := d.rowInto(x, obs[keep[i]].Arch); err != nil {
			return fmt.Errorf("analysis: %w", err)
		}
		if centre {
			for j := range x {
				x[j] -= f.xbar[j]
			}
		}
		return nil
	}
	yc := make([]float64, n)
	for i, k := range keep {
		yc[i] = obs[k].Value
	}
	f.ybar = mean(yc)
	f.SD = sd(yc)
	for i := range yc {
		yc[i] -= f.ybar
	}
	f.xbar = make([]float64, p)
	for i := range n {
		if err := row(i, false); err != nil {
			return nil, err
		}
		for j, v := range x {
			f.xbar[j] += v / float64(n)
		}
	}
	// The centred Gram matrix XᵀX, upper triangle, one rank-one update a
	// row.
	gram := mat.NewSymDense(p, nil)
	g := gram.RawSymmetric()
	for i := range n {
		if err := row(i, true); err != nil {
			return nil, err
		}
		for a, xa := range x {
			if xa == 0 {
				continue
			}
			c := g.Data[a*g.Stride+a : a*g.Stride+p]
			for b, xb := range x[a:] {
				c[b] += xa * xb
			}
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(gram, true) {
		return nil, errors.New("analysis: eigen-decomposition of the design failed")
	}
	vals := eig.Values(nil)
	var V mat.Dense
	eig.VectorsTo(&V)
	scale := 0.0
	for _, v := range vals {
		scale += math.Max(v, 0) / float64(p)
	}
	if scale == 0 {
		return nil, fmt.Errorf("analysis: %w: the %d uniform archs do not vary", ErrTooFew, n)
	}
	// zrow writes row i's principal coordinates z = Vᵀx into z.
	z := make([]float64, p)
	zrow := func(i int) error {
		if err := row(i, true); err != nil {
			return err
		}
		clear(z)
		for l, a := range x {
			if a == 0 {
				continue
			}
			v := V.RawRowView(l)
			for j := range z {
				z[j] += a * v[j]
			}
		}
		return nil
	}
	zy := make([]float64, p)
	for i := range n {
		if err := zrow(i); err != nil {
			return nil, err
		}
		for j, v := range z {
			zy[j] += v * yc[i]
		}
	}
	type cand struct {
		lam, loo, df, rss float64
		alpha, den        []float64
		ok                bool
	}
	cands := make([]cand, len(opt.Lambdas))
	for ci, rl := range opt.Lambdas {
		lam := rl * scale
		c := cand{lam: rl, alpha: make([]float64, p), den: make([]float64, p), ok: true}
		for j := range p {
			c.den[j] = math.Max(vals[j], 0) + lam
			if c.den[j] <= 0 {
				continue
			}
			c.alpha[j] = zy[j] / c.den[j]
			c.df += math.Max(vals[j], 0) / c.den[j]
		}
		cands[ci] = c
	}
	// Leave-one-out error of every candidate penalty in one pass.
	for i := range n {
		if err := zrow(i); err != nil {
			return nil, err
		}
		for ci := range cands {
			c := &cands[ci]
			if !c.ok {
				continue
			}
			pred, h := 0.0, 1/float64(n)
			for j, zj := range z {
				pred += zj * c.alpha[j]
				if c.den[j] > 0 {
					h += zj * zj / c.den[j]
				}
			}
			r := yc[i] - pred
			c.rss += r * r
			if h >= 1-1e-9 {
				c.ok = false
				continue
			}
			c.loo += (r / (1 - h)) * (r / (1 - h))
		}
	}
	var best *cand
	for ci := range cands {
		c := &cands[ci]
		// Keep enough residual degrees of freedom to estimate the noise.
		if !c.ok || float64(n)-c.df-1 < math.Max(minResidualDF, float64(n)/10) {
			continue
		}
		if best == nil || c.loo < best.loo {
			best = c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("analysis: %w: %d archs cannot support the %d-coefficient model even with the strongest ridge tried", ErrTooFew, n, p)
	}
	f.Lambda = best.lam
	f.DF = best.df + 1
	dof := float64(n) - f.DF
	f.Sigma = math.Sqrt(best.rss / dof)
	f.LOORMSE = math.Sqrt(best.loo / float64(n))
	tss := 0.0
	for _, v := range yc {
		tss += v * v
	}
	if tss > 0 {
		f.R2 = 1 - best.rss/tss
		f.Q2 = 1 - best.loo/tss
	}
	f.tcrit = tQuantile(opt.Level, dof)
	// beta = V alpha; cov = sigma² V diag(λ_j/(λ_j+λ)²) Vᵀ.
	f.beta = make([]float64, p)
	lam := best.lam * scale
	w := make([]float64, p)
	for j := range p {
		den := math.Max(vals[j], 0) + lam
		if den > 0 {
			w[j] = f.Sigma * f.Sigma * math.Max(vals[j], 0) / (den * den)
		}
		for k := range p {
			f.beta[k] += V.At(k, j) * best.alpha[j]
		}
	}
	f.cov = mat.NewSymDense(p, nil)
	for a := range p {
		for b := a; b < p; b++ {
			s := 0.0
			for j := range p {
				s += V.At(a, j) * w[j] * V.At(b, j)
			}
			f.cov.SetSym(a, b, s)
		}
	}
	return f, nil
}

// combo evaluates a0·intercept + aᵀβ with its interval; n is the count to
// report.
func (f *Fit) combo(a0 float64, a []float64, n int) Estimate {
	// intercept = ȳ − x̄ᵀβ, uncorrelated with β (centred design).
	adj := make([]float64, len(a))
	v := a0 * f.ybar
	for j := range a {
		adj[j] = a[j] - a0*f.xbar[j]
		v += adj[j] * f.beta[j]
	}
	va := a0 * a0 * f.Sigma * f.Sigma / float64(f.N)
	for i := range adj {
		if adj[i] == 0 {
			continue
		}
		for j := range adj {
			va += adj[i] * f.cov.At(i, j) * adj[j]
		}
	}
	se := math.Sqrt(math.Max(va, 0))
	return Estimate{Value: v, Lo: v - f.tcrit*se, Hi: v + f.tcrit*se, SE: se, N: n}
}

// Predict is the model's value for one architecture (with the interval of
// the mean, not of a new measurement).
func (f *Fit) Predict(a model.Arch) (Estimate, error) {
	x, err := f.d.row(a)
	if err != nil {
		return Estimate{}, err
	}
	return f.combo(1, x, f.N), nil
}

// Mean is E[M(A)] over uniform draws of space sp: the fitted space or a
// reduced space with the same units (its blocks and depths a subset).
func (f *Fit) Mean(sp *model.Space) (Estimate, error) {
	x, err := f.expectedSpace(sp)
	if err != nil {
		return Estimate{}, err
	}
	return f.combo(1, x, f.N), nil
}

// Delta is E[M(A')] − E[M(A)] for uniform draws A' of the reduced space red
// against uniform draws A of the fitted space.
func (f *Fit) Delta(red *model.Space) (Estimate, error) {
	x, err := f.expectedSpace(red)
	if err != nil {
		return Estimate{}, err
	}
	x0, err := f.expectedSpace(f.Space)
	if err != nil {
		return Estimate{}, err
	}
	for j := range x {
		x[j] -= x0[j]
	}
	return f.combo(0, x, f.N), nil
}

func (f *Fit) expectedSpace(sp *model.Space) ([]float64, error) {
	if len(sp.Units) != len(f.d.units) || sp.Family != f.Space.Family {
		return nil, fmt.Errorf("analysis: space %s does not have the units of the fitted space %s", sp.Name, f.Space.Name)
	}
	x := make([]float64, f.P)
	for u := range sp.Units {
		if err := f.d.addExpected(x, u, uniformLaw(sp, u), 1); err != nil {
			return nil, fmt.Errorf("analysis: space %s: %w", sp.Name, err)
		}
	}
	return x, nil
}

// unitContrast is the expected change when unit u follows law instead of
// its uniform law in the fitted space.
func (f *Fit) unitContrast(u int, law unitLaw) (Estimate, error) {
	x := make([]float64, f.P)
	if err := f.d.addExpected(x, u, law, 1); err != nil {
		return Estimate{}, err
	}
	if err := f.d.addExpected(x, u, uniformLaw(f.Space, u), -1); err != nil {
		return Estimate{}, err
	}
	return f.combo(0, x, f.N), nil
}

// PredictLocation is the regression's Eq. 2: E[M(A_{u,l,b})] − E[M(A)]
// under the sampler mode (unit and layer 1-based).
func (f *Fit) PredictLocation(fx model.Fix, mode model.FixMode) (Estimate, error) {
	if err := f.Space.CheckFix(fx); err != nil {
		return Estimate{}, err
	}
	law := uniformLaw(f.Space, fx.Unit-1)
	law.fix, law.mode = &fx, mode
	return f.unitContrast(fx.Unit-1, law)
}

// PredictUnitFix is the regression's whole-unit contrast E[M | every layer
// of unit u holds b] − E[M(A)] (b.W == 0 in a bottleneck space: only the
// expansion fixed, the ratio uniform among those offering it).
func (f *Fit) PredictUnitFix(unit int, b model.Block) (Estimate, error) {
	if unit < 1 || unit > len(f.Space.Units) {
		return Estimate{}, fmt.Errorf("unit %d outside 1..%d", unit, len(f.Space.Units))
	}
	law := uniformLaw(f.Space, unit-1)
	fx := model.Fix{Unit: unit, Block: b}
	law.fix, law.whole = &fx, true
	return f.unitContrast(unit-1, law)
}

// BlockEffect is the per-(unit, block) effect: Eq. 2 at layer 1 of the unit
// under the paper's sampler, i.e. c(u, b) − mean_b' c(u, b') for MBConv
// spaces (for bottleneck spaces the fixed block also sets the unit's ratio,
// which the effect includes).
func (f *Fit) BlockEffect(unit int, b model.Block) (Estimate, error) {
	return f.PredictLocation(model.Fix{Unit: unit, Layer: 1, Block: b}, model.FixPaper)
}

// BlockDiff is BlockEffect(unit, b) − BlockEffect(unit, ref) with its own
// interval (the covariance of the two is taken into account).
func (f *Fit) BlockDiff(unit int, b, ref model.Block) (Estimate, error) {
	if unit < 1 || unit > len(f.Space.Units) {
		return Estimate{}, fmt.Errorf("unit %d outside 1..%d", unit, len(f.Space.Units))
	}
	x := make([]float64, f.P)
	for i, bb := range []model.Block{b, ref} {
		law := uniformLaw(f.Space, unit-1)
		fx := model.Fix{Unit: unit, Layer: 1, Block: bb}
		law.fix = &fx
		if err := f.d.addExpected(x, unit-1, law, float64(1-2*i)); err != nil {
			return Estimate{}, err
		}
	}
	return f.combo(0, x, f.N), nil
}

// MeanUnitFix is the mean of PredictUnitFix over fixes (Layer ignored),
// with the interval of that mean.
func (f *Fit) MeanUnitFix(fixes []model.Fix) (Estimate, error) {
	if len(fixes) == 0 {
		return Estimate{}, errors.New("analysis: no fixes to average")
	}
	x := make([]float64, f.P)
	w := 1 / float64(len(fixes))
	for _, fx := range fixes {
		if fx.Unit < 1 || fx.Unit > len(f.Space.Units) {
			return Estimate{}, fmt.Errorf("unit %d outside 1..%d", fx.Unit, len(f.Space.Units))
		}
		law := uniformLaw(f.Space, fx.Unit-1)
		fc := model.Fix{Unit: fx.Unit, Block: fx.Block}
		law.fix, law.whole = &fc, true
		if err := f.d.addExpected(x, fx.Unit-1, law, w); err != nil {
			return Estimate{}, err
		}
		if err := f.d.addExpected(x, fx.Unit-1, uniformLaw(f.Space, fx.Unit-1), -w); err != nil {
			return Estimate{}, err
		}
	}
	return f.combo(0, x, f.N), nil
}

// DepthEffect is D_u(d) − E[D_u]: the change when unit u has depth d (blocks
// uniform) against its uniform depth.
func (f *Fit) DepthEffect(unit, depth int) (Estimate, error) {
	if unit < 1 || unit > len(f.Space.Units) {
		return Estimate{}, fmt.Errorf("unit %d outside 1..%d", unit, len(f.Space.Units))
	}
	law := uniformLaw(f.Space, unit-1)
	law.depth = depth
	return f.unitContrast(unit-1, law)
}

// DepthDiff is DepthEffect(unit, d) − DepthEffect(unit, ref).
func (f *Fit) DepthDiff(unit, d, ref int) (Estimate, error) {
	if unit < 1 || unit > len(f.Space.Units) {
		return Estimate{}, fmt.Errorf("unit %d outside 1..%d", unit, len(f.Space.Units))
	}
	x := make([]float64, f.P)
	for i, dd := range []int{d, ref} {
		law := uniformLaw(f.Space, unit-1)
		law.depth = dd
		if err := f.d.addExpected(x, unit-1, law, float64(1-2*i)); err != nil {
			return Estimate{}, err
		}
	}
	return f.combo(0, x, f.N), nil
}

// Blockwise is the regression's Eq. 1: M_b = E[M(A)] plus the mean over
// every location (u, l) that allows b of the predicted Eq. 2.
func (f *Fit) Blockwise(b model.Block, mode model.FixMode) (Estimate, error) {
	x, err := f.expectedSpace(f.Space)
	if err != nil {
		return Estimate{}, err
	}
	if err := f.addBlockwise(x, b, mode); err != nil {
		return Estimate{}, err
	}
	return f.combo(1, x, f.N), nil
}

// BlockwiseRel is Blockwise − Mean: the regression's M_b against its own
// E[M(A)] over uniform draws, with the interval of that difference.
func (f *Fit) BlockwiseRel(b model.Block, mode model.FixMode) (Estimate, error) {
	x := make([]float64, f.P)
	if err := f.addBlockwise(x, b, mode); err != nil {
		return Estimate{}, err
	}
	return f.combo(0, x, f.N), nil
}

// addBlockwise adds to x the mean over b's locations of the change of each
// location's law from the uniform one.
func (f *Fit) addBlockwise(x []float64, b model.Block, mode model.FixMode) error {
	var locs []model.Fix
	for _, fx := range f.Space.Locations() {
		if fx.Block == b {
			locs = append(locs, fx)
		}
	}
	if len(locs) == 0 {
		return fmt.Errorf("block %s is not a choice of %s", b.Key(), f.Space.Name)
	}
	w := 1 / float64(len(locs))
	for _, fx := range locs {
		fc := fx
		law := uniformLaw(f.Space, fx.Unit-1)
		law.fix, law.mode = &fc, mode
		if err := f.d.addExpected(x, fx.Unit-1, law, w); err != nil {
			return err
		}
		if err := f.d.addExpected(x, fx.Unit-1, uniformLaw(f.Space, fx.Unit-1), -w); err != nil {
			return err
		}
	}
	return nil
}
