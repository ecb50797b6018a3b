package stats

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"
)

// maxCond is the largest condition number of XᵀX+λP that Ridge accepts;
// beyond it the solution has lost most of its significant digits.
const maxCond = 1e12

// RidgeOptions tunes Ridge and RidgeCV. The zero value fits an unpenalised
// intercept and penalises every coefficient by λ.
type RidgeOptions struct {
	// NoIntercept fits through the origin (no column centring, no intercept).
	NoIntercept bool
	// Penalty, when not nil, scales λ per column: coefficient j is penalised
	// by λ·Penalty[j]. 0 leaves a column unpenalised (e.g. a FLOPs covariate
	// among one-hot block columns); factors must be ≥ 0 and finite, one per
	// column.
	Penalty []float64
}

// RidgeFit is a fitted ridge regression
//
//	ŷ = Intercept + Σ_j Coef[j]·x_j
//
// minimising Σ_i (y_i − ŷ_i)² + λ Σ_j P_j·Coef[j]² (P_j = 1 unless
// RidgeOptions.Penalty says otherwise). The intercept is never penalised:
// the columns and y are centred, the penalised problem solved on the centred
// data, and Intercept = mean(y) − Σ_j mean(x_j)·Coef[j].
//
// Standard errors use the sandwich covariance of the ridge estimator for a
// fixed λ and homoscedastic independent errors,
//
//	Cov(β̂) = σ̂² (XᵀX + λP)⁻¹ XᵀX (XᵀX + λP)⁻¹     (X centred),
//	σ̂²     = RSS / (n − 1 − df),  df = tr((XᵀX + λP)⁻¹ XᵀX),
//
// where df is the effective number of parameters (Hastie, Tibshirani &
// Friedman, ESL §3.4.1) and the 1 is the intercept. This is an approximation
// in four ways: it describes the spread of β̂ around its own expectation,
// which ridge shrinks towards 0, so intervals are centred on a biased value
// and cover the true coefficient less often than nominal when λ is large
// relative to the column's XᵀX diagonal; σ̂² then also absorbs the misfit
// that shrinkage causes, so SE overstates the spread of β̂ (conservative
// width, wrong centre); it treats λ as fixed although RidgeCV picked it from
// the same data; and it assumes independent rows with equal error variance.
// With λ small against XᵀX it reduces to the ordinary least squares
// covariance, and intervals from CoefCI are exact under normal errors.
//
// When the design is rank deficient (one-hot block columns that sum to
// another column or to the intercept), only combinations of coefficients
// that the data identify (contrasts such as Coef[b]−Coef[b′] within a unit)
// are meaningful; ridge picks the minimum-penalty representative, and
// ContrastSE gives the standard error of such a combination.
type RidgeFit struct {
	Coef      []float64 // one per column of X
	Intercept float64   // 0 with RidgeOptions.NoIntercept
	Lambda    float64   // the λ fitted

	SE          []float64 // standard error of each Coef (see the type's doc)
	InterceptSE float64   // standard error of Intercept; NaN with NoIntercept

	N     int     // rows fitted
	DF    float64 // effective number of parameters tr(H), intercept excluded
	RSS   float64 // residual sum of squares on the rows fitted
	Sigma float64 // residual standard deviation σ̂; NaN when n−1−DF ≤ 0

	xmean []float64     // column means; nil with NoIntercept
	cov   *mat.SymDense // σ̂²·sandwich; nil when Sigma is NaN or there are no columns
}

// Ridge fits a ridge regression of y on the rows of X with penalty λ ≥ 0
// (see RidgeFit for the model and the standard errors). X is row-major, one
// row per observation, all rows the same length; neither X nor y is
// modified. λ = 0 gives ordinary least squares and fails on a rank-deficient
// design; any λ > 0 that is not negligible against XᵀX makes such a design
// well posed. It returns an error naming the problem when the inputs do not
// match, hold NaN or ±Inf, λ or a penalty factor is negative, or XᵀX+λP is
// singular or too ill-conditioned to solve (condition number > 1e12).
func Ridge(X [][]float64, y []float64, lambda float64, opts RidgeOptions) (*RidgeFit, error) {
	p, err := checkRidge(X, y, opts)
	if err != nil {
		return nil, err
	}
	if !(lambda >= 0) || math.IsInf(lambda, 1) {
		return nil, fmt.Errorf("stats: ridge: λ = %g; it must be finite and ≥ 0", lambda)
	}
	rows := make([]int, len(y))
	for i := range rows {
		rows[i] = i
	}
	mx, my := designOrigin(X, y, p, !opts.NoIntercept)
	pr := problemOf([]*foldSums{sumsOf(X, y, rows, p, mx, my)}, -1, p, mx, my, !opts.NoIntercept)
	beta, ch, err := pr.solve(lambda, opts.Penalty)
	if err != nil {
		return nil, err
	}
	return pr.fit(X, y, lambda, beta, ch)
}

// Predict returns the fitted value Intercept + Σ Coef[j]·x[j]. It panics
// when len(x) differs from len(Coef).
func (f *RidgeFit) Predict(x []float64) float64 {
	if len(x) != len(f.Coef) {
		panic(fmt.Sprintf("stats: RidgeFit.Predict: x has %d values, the fit has %d coefficients", len(x), len(f.Coef)))
	}
	s := f.Intercept
	for j, c := range f.Coef {
		s += c * x[j]
	}
	return s
}

// Cov returns the estimated covariance of Coef[i] and Coef[j] (see RidgeFit),
// NaN when there are no residual degrees of freedom left to estimate σ².
func (f *RidgeFit) Cov(i, j int) float64 {
	if f.cov == nil {
		return math.NaN()
	}
	return f.cov.At(i, j)
}

// ContrastSE returns the standard error of the combination Σ w[j]·Coef[j],
// √(wᵀ Cov w): for the difference between two blocks at one unit set
// w[b] = 1 and w[b′] = −1. It panics when len(w) differs from len(Coef).
func (f *RidgeFit) ContrastSE(w []float64) float64 {
	if len(w) != len(f.Coef) {
		panic(fmt.Sprintf("stats: RidgeFit.ContrastSE: w has %d values, the fit has %d coefficients", len(w), len(f.Coef)))
	}
	if math.IsNaN(f.Sigma) {
		return math.NaN()
	}
	return math.Sqrt(quadForm(f.cov, w))
}

// PredictSE returns the standard error of the fitted mean at x (the
// uncertainty of Predict(x) as an estimate of E[y|x], not a prediction
// interval for a new observation, which would add Sigma² in quadrature).
// It panics when len(x) differs from len(Coef).
func (f *RidgeFit) PredictSE(x []float64) float64 {
	if len(x) != len(f.Coef) {
		panic(fmt.Sprintf("stats: RidgeFit.PredictSE: x has %d values, the fit has %d coefficients", len(x), len(f.Coef)))
	}
	if math.IsNaN(f.Sigma) {
		return math.NaN()
	}
	if f.xmean == nil {
		return math.Sqrt(quadForm(f.cov, x))
	}
	// With an intercept ŷ(x) = ȳ + (x−x̄)ᵀβ̂, and ȳ is uncorrelated with β̂.
	d := make([]float64, len(x))
	for j := range x {
		d[j] = x[j] - f.xmean[j]
	}
	return math.Sqrt(f.Sigma*f.Sigma/float64(f.N) + quadForm(f.cov, d))
}

// CoefCI returns the two-sided confidence interval at the given level (0.95
// for 95%) for Coef[j], Coef[j] ± t·SE[j] with t the Student-t quantile on
// the residual degrees of freedom n − 1 − DF. It is (NaN, NaN) when the
// standard error is unavailable or level is not in (0, 1).
func (f *RidgeFit) CoefCI(j int, level float64) (lo, hi float64) {
	t := f.tQuantile(level)
	return f.Coef[j] - t*f.SE[j], f.Coef[j] + t*f.SE[j]
}

// ContrastCI is CoefCI for the combination Σ w[j]·Coef[j] (see ContrastSE).
func (f *RidgeFit) ContrastCI(w []float64, level float64) (est, lo, hi float64) {
	se := f.ContrastSE(w)
	est = dot(w, f.Coef)
	t := f.tQuantile(level)
	return est, est - t*se, est + t*se
}

// ResidualDF returns the residual degrees of freedom n − 1 − DF (n − DF
// without an intercept) that Sigma and the intervals use.
func (f *RidgeFit) ResidualDF() float64 {
	df := float64(f.N) - f.DF
	if f.xmean != nil {
		df--
	}
	return df
}

func (f *RidgeFit) tQuantile(level float64) float64 {
	nu := f.ResidualDF()
	if !(level > 0 && level < 1) || !(nu > 0) {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}.Quantile(1 - (1-level)/2)
}

// checkRidge validates a design and returns its column count.
func checkRidge(X [][]float64, y []float64, opts RidgeOptions) (int, error) {
	if len(y) == 0 {
		return 0, errors.New("stats: ridge: no rows to fit; measure some archs first")
	}
	if len(X) != len(y) {
		return 0, fmt.Errorf("stats: ridge: X has %d rows but y has %d values; they must match", len(X), len(y))
	}
	p := len(X[0])
	for i, row := range X {
		if len(row) != p {
			return 0, fmt.Errorf("stats: ridge: row %d of X has %d columns, row 0 has %d; all rows must be the same length", i, len(row), p)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("stats: ridge: X[%d][%d] = %g; the design must be finite", i, j, v)
			}
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return 0, fmt.Errorf("stats: ridge: y[%d] = %g; responses must be finite (drop failed measurements first)", i, y[i])
		}
	}
	if opts.Penalty != nil {
		if len(opts.Penalty) != p {
			return 0, fmt.Errorf("stats: ridge: %d penalty factors for %d columns; give one per column or none", len(opts.Penalty), p)
		}
		for j, v := range opts.Penalty {
			if !(v >= 0) || math.IsInf(v, 1) {
				return 0, fmt.Errorf("stats: ridge: penalty factor %d is %g; factors must be finite and ≥ 0", j, v)
			}
		}
	}
	return p, nil
}

// ridgeProblem is a design reduced to what every λ needs: the Gram matrix
// G = XcᵀXc and Xcᵀyc of the rows fitted, centred at their own means when
// there is an intercept.
type ridgeProblem struct {
	n, p      int
	intercept bool
	xmean     []float64 // zeros without intercept
	ymean     float64   // 0 without intercept
	g         *mat.SymDense
	xty       *mat.VecDense
}

// foldSums holds the cross-products of one group of rows, taken about a
// common origin (mx, my) shared by all groups: S = Σ(x−mx)(x−mx)ᵀ,
// sx = Σ(x−mx), sxy = Σ(x−mx)(y−my), sy = Σ(y−my). Summing the groups of a
// training set and correcting by its own mean gives its centred Gram matrix
// without another pass over the rows, which is what makes RidgeCV cost about
// one fit. Taking the global mean as the origin keeps the correction small,
// so little precision is lost to cancellation.
type foldSums struct {
	n   int
	s   *mat.SymDense // nil when p = 0
	sx  []float64
	sxy []float64
	sy  float64
}

// designOrigin returns the column means and the mean of y over all rows, or
// zeros without an intercept (the model then goes through the origin).
func designOrigin(X [][]float64, y []float64, p int, intercept bool) ([]float64, float64) {
	mx := make([]float64, p)
	if !intercept {
		return mx, 0
	}
	for _, row := range X {
		for j, v := range row {
			mx[j] += v
		}
	}
	for j := range mx {
		mx[j] /= float64(len(X))
	}
	return mx, Mean(y)
}

// sumsOf forms the foldSums of the given rows about (mx, my).
func sumsOf(X [][]float64, y []float64, rows []int, p int, mx []float64, my float64) *foldSums {
	fs := &foldSums{n: len(rows), sx: make([]float64, p), sxy: make([]float64, p)}
	if len(rows) == 0 || p == 0 {
		for _, i := range rows {
			fs.sy += y[i] - my
		}
		return fs
	}
	data := make([]float64, len(rows)*p)
	for k, i := range rows {
		r := data[k*p : (k+1)*p]
		dy := y[i] - my
		fs.sy += dy
		for j, v := range X[i] {
			d := v - mx[j]
			r[j] = d
			fs.sx[j] += d
			fs.sxy[j] += d * dy
		}
	}
	fs.s = mat.NewSymDense(p, nil)
	fs.s.SymOuterK(1, mat.NewDense(len(rows), p, data).T())
	return fs
}

// problemOf combines the foldSums of a training set (every group but the
// one at index skip; −1 keeps all) into a ridgeProblem centred at the
// training set's own means.
func problemOf(parts []*foldSums, skip, p int, mx []float64, my float64, intercept bool) *ridgeProblem {
	pr := &ridgeProblem{p: p, intercept: intercept, xmean: make([]float64, p)}
	sx := make([]float64, p)
	sxy := make([]float64, p)
	var sy float64
	if p > 0 {
		pr.g = mat.NewSymDense(p, nil)
	}
	for f, fs := range parts {
		if f == skip {
			continue
		}
		pr.n += fs.n
		sy += fs.sy
		for j := range p {
			sx[j] += fs.sx[j]
			sxy[j] += fs.sxy[j]
		}
		if fs.s != nil {
			pr.g.AddSym(pr.g, fs.s)
		}
	}
	if p == 0 {
		if intercept {
			pr.ymean = my + sy/float64(pr.n)
		}
		return pr
	}
	n := float64(pr.n)
	if intercept {
		// Move the origin from (mx, my) to the training means: the centred
		// cross-products lose the rank-one term of the offset.
		pr.g.SymRankOne(pr.g, -1/n, mat.NewVecDense(p, slices.Clone(sx)))
		for j := range p {
			sxy[j] -= sx[j] * sy / n
			pr.xmean[j] = mx[j] + sx[j]/n
		}
		pr.ymean = my + sy/n
	}
	pr.xty = mat.NewVecDense(p, sxy)
	return pr
}

// solve returns the penalised coefficients for λ and the Cholesky factor of
// G + λP (nil when p = 0).
func (pr *ridgeProblem) solve(lambda float64, pen []float64) (*mat.VecDense, *mat.Cholesky, error) {
	if pr.p == 0 {
		return nil, nil, nil
	}
	a := mat.NewSymDense(pr.p, nil)
	a.CopySym(pr.g)
	for j := range pr.p {
		f := 1.0
		if pen != nil {
			f = pen[j]
		}
		a.SetSym(j, j, a.At(j, j)+lambda*f)
	}
	var ch mat.Cholesky
	if !ch.Factorize(a) || ch.Cond() > maxCond {
		cond := math.Inf(1)
		if !ch.IsEmpty() {
			cond = ch.Cond()
		}
		return nil, nil, fmt.Errorf("stats: ridge: XᵀX+λI is singular or nearly so (condition %.3g at λ = %g, %d rows, %d columns); "+
			"the design is rank deficient (columns that are constant, duplicated or sum to another, e.g. one-hot blocks) "+
			"or has too few rows: use λ > 0 or a larger λ", cond, lambda, pr.n, pr.p)
	}
	var beta mat.VecDense
	if err := ch.SolveVecTo(&beta, pr.xty); err != nil {
		return nil, nil, fmt.Errorf("stats: ridge: solving at λ = %g: %w; use a larger λ", lambda, err)
	}
	return &beta, &ch, nil
}

// predictRow returns ŷ for a raw (uncentred) row; beta is nil when p = 0.
func (pr *ridgeProblem) predictRow(beta *mat.VecDense, row []float64) float64 {
	s := pr.ymean
	for j, v := range row {
		s += (v - pr.xmean[j]) * beta.AtVec(j)
	}
	return s
}

// fit assembles the RidgeFit for a solved λ: coefficients, residual
// variance, effective degrees of freedom and the sandwich covariance.
func (pr *ridgeProblem) fit(X [][]float64, y []float64, lambda float64, beta *mat.VecDense, ch *mat.Cholesky) (*RidgeFit, error) {
	f := &RidgeFit{
		Coef:        make([]float64, pr.p),
		Lambda:      lambda,
		SE:          make([]float64, pr.p),
		N:           pr.n,
		InterceptSE: math.NaN(),
		Sigma:       math.NaN(),
	}
	if pr.intercept {
		f.xmean = pr.xmean
	}
	var ainv mat.SymDense
	var ainvG mat.Dense
	if pr.p > 0 {
		for j := range pr.p {
			f.Coef[j] = beta.AtVec(j)
		}
		if err := ch.InverseTo(&ainv); err != nil {
			return nil, fmt.Errorf("stats: ridge: inverting XᵀX+λI at λ = %g: %w; use a larger λ", lambda, err)
		}
		ainvG.Mul(&ainv, pr.g)
		f.DF = mat.Trace(&ainvG)
	}
	for i, row := range X {
		d := y[i] - pr.predictRow(beta, row)
		f.RSS += d * d
	}
	f.Intercept = pr.ymean - dot(pr.xmean, f.Coef)

	rdf := f.ResidualDF()
	if !(rdf > 0) {
		for j := range f.SE {
			f.SE[j] = math.NaN()
		}
		return f, nil
	}
	f.Sigma = math.Sqrt(f.RSS / rdf)
	s2 := f.Sigma * f.Sigma
	if pr.p > 0 {
		var c mat.Dense
		c.Mul(&ainvG, &ainv)
		f.cov = mat.NewSymDense(pr.p, nil)
		for i := range pr.p {
			for j := i; j < pr.p; j++ {
				// Average the two triangles to remove rounding asymmetry.
				f.cov.SetSym(i, j, s2*(c.At(i, j)+c.At(j, i))/2)
			}
			f.SE[i] = math.Sqrt(max(0, f.cov.At(i, i)))
		}
	}
	if pr.intercept {
		// Intercept = ȳ − x̄ᵀβ̂ with ȳ uncorrelated with β̂ (X centred).
		v := s2 / float64(pr.n)
		if f.cov != nil {
			v += quadForm(f.cov, pr.xmean)
		}
		f.InterceptSE = math.Sqrt(v)
	}
	return f, nil
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

// quadForm returns wᵀ S w, 0 for a nil S (no columns).
func quadForm(s *mat.SymDense, w []float64) float64 {
	if s == nil {
		return 0
	}
	n := s.SymmetricDim()
	q := 0.0
	for i := range n {
		q += w[i] * w[i] * s.At(i, i)
		for j := i + 1; j < n; j++ {
			q += 2 * w[i] * w[j] * s.At(i, j)
		}
	}
	return q
}
