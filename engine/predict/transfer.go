package predict

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distuv"

	"blockprof/devices"
	"blockprof/model"
)

// MinPriorRecords is the fewest measurements a prior device's additive
// model may be fitted on: below it its effects are too uncertain to
// transfer (the additive design of the OFA spaces has 40–60 columns).
const MinPriorRecords = 30

// TransferPrior is what is known about another device: its additive model
// (per-(unit, block) costs, depth and resolution effects) fitted in log
// scale on its own measurements.
type TransferPrior struct {
	// Name names the device in labels and errors, e.g. "h100" or
	// "h100-ofa-mbv3-w1.0.jsonl:gpu-b1-fp32-graph".
	Name  string
	Model *Additive
}

// FitTransferPrior fits a prior device's additive model in log scale (λ by
// cross-validation) on its measurements.
func FitTransferPrior(sp *model.Space, name string, archs []model.Arch, y []float64) (TransferPrior, error) {
	if len(archs) < MinPriorRecords {
		return TransferPrior{}, fmt.Errorf("prior device %s: %d records; a prior needs at least %d (measure more archs on it, or leave it out)", name, len(archs), MinPriorRecords)
	}
	m, err := FitAdditive(sp, archs, y, AdditiveOptions{Scale: ScaleLog, Name: "additive " + name})
	if err != nil {
		return TransferPrior{}, fmt.Errorf("prior device %s: %w", name, err)
	}
	return TransferPrior{Name: name, Model: m}, nil
}

// PriorFromRecords fits the prior of latency key of recorded records.
// file names the records in errors.
func PriorFromRecords(sp *model.Space, file string, recs []Record, key string) (TransferPrior, error) {
	name := file + ":" + key
	if !hasKey(recs, key) {
		return TransferPrior{}, fmt.Errorf("prior %s: no record has latency_ms[%q] (keys in every record of %s: %s)", name, key, file, strings.Join(LatencyKeys(recs), ", "))
	}
	archs, y, err := Latencies(recs, key)
	if err != nil {
		return TransferPrior{}, fmt.Errorf("prior %s: %w", name, err)
	}
	return FitTransferPrior(sp, name, archs, y)
}

func hasKey(recs []Record, key string) bool {
	for _, r := range recs {
		if _, ok := r.Latency[key]; ok {
			return true
		}
	}
	return false
}

func checkPriors(sp *model.Space, priors []TransferPrior) error {
	if len(priors) == 0 {
		return errors.New("transfer: no prior device (give at least one device measured in the same space)")
	}
	for _, p := range priors {
		if p.Model == nil {
			return fmt.Errorf("transfer: prior device %s has no model", p.Name)
		}
		if p.Model.sp.Name != sp.Name {
			return fmt.Errorf("transfer: prior device %s was measured in space %s, the new device in %s (a prior must be of the same space)", p.Name, p.Model.sp.Name, sp.Name)
		}
		if p.Model.scale != ScaleLog {
			return fmt.Errorf("transfer: prior device %s was fitted in %s scale; transfer needs log-scale priors (FitTransferPrior)", p.Name, p.Model.scale)
		}
		if p.Model.n < MinPriorRecords {
			return fmt.Errorf("transfer: prior device %s has %d records; a prior needs at least %d", p.Name, p.Model.n, MinPriorRecords)
		}
	}
	return nil
}

// transferBasis maps an arch to the transfer model's features
//
//	φ(a) = [1, g_1(a), …, g_K(a), x(a)]
//
// where g_k is prior device k's fitted log latency and x the additive
// design row.
type transferBasis struct {
	sp     *model.Space
	d      *additiveDesign
	priors []TransferPrior
}

func newTransferBasis(sp *model.Space, priors []TransferPrior) *transferBasis {
	return &transferBasis{sp: sp, d: newAdditiveDesign(sp), priors: priors}
}

func (b *transferBasis) dim() int { return 1 + len(b.priors) + len(b.d.cols) }

func (b *transferBasis) phi(a model.Arch) []float64 {
	x := b.d.row(a)
	out := make([]float64, b.dim())
	out[0] = 1
	for k, p := range b.priors {
		out[1+k] = p.Model.fit.Predict(x)
	}
	copy(out[1+len(b.priors):], x)
	return out
}

// precision is the prior precision (relative to σ²) of each feature's
// coefficient: a negligible one for the intercept, lambdaS for the scales
// s_k, lambda for the device-specific departures δ.
func (b *transferBasis) precision(lambda, lambdaS float64) []float64 {
	pr := make([]float64, b.dim())
	pr[0] = interceptPrecision
	for k := range b.priors {
		pr[1+k] = lambdaS
	}
	for j := 1 + len(b.priors); j < len(pr); j++ {
		pr[j] = lambda
	}
	return pr
}

// priorMean is the prior mean of the coefficients: the scales s_k at 1/K
// (the prior devices' effects averaged), everything else at 0.
func (b *transferBasis) priorMean() []float64 {
	mu := make([]float64, b.dim())
	for k := range b.priors {
		mu[1+k] = 1 / float64(len(b.priors))
	}
	return mu
}

// interceptPrecision keeps the intercept's prior proper without informing
// it (a standard deviation of 1000 log units).
const interceptPrecision = 1e-6

// TransferOptions tune FitTransfer. The zero value chooses the shrinkage by
// the marginal likelihood of the N measurements.
type TransferOptions struct {
	// Lambda fixes the precision of the device-specific departures δ
	// relative to the noise (σ²/τ²); 0 chooses it from 1e-3..1e5.
	Lambda float64
	// LambdaS fixes the precision of the scales s_k around 1/K; 0 chooses
	// it from 1e-4..1 (a scale is never believed to within less than the noise).
	LambdaS float64
}

// Transfer is the transfer latency model of a new device
//
//	log latency(a) ≈ c + Σ_k s_k·g_k(a) + x(a)ᵀδ
//
// where g_k is prior device k's fitted log latency (its additive effects),
// s_k a per-device scale, c an intercept and δ the new device's departures
// from the scaled prior effects, per additive-design column. It is Bayesian
// linear regression: s_k ~ N(1/K, σ²/λ_s), δ ~ N(0, σ²/λ), a flat
// intercept, σ² profiled out. So the new device's per-(unit, block) costs
// are Σ_k s_k·cost_k + δ: the scaled prior effects where the N measurements
// say nothing else.
//
// The shrinkage (λ, λ_s) is not picked but averaged over: every setting of
// a log grid (λ 1e-3..1e5, λ_s 1e-4..1) is weighted by its marginal
// likelihood, and predictions, effects and intervals are the weighted
// mixture. With few measurements the likelihood barely tells the settings
// apart, and the intervals then stay as wide as the settings disagree
// (choosing the single most likely setting made them far too narrow).
type Transfer struct {
	basis  *transferBasis
	fits   []*transferFit // weights sum to 1
	best   *transferFit   // the most likely setting
	dof    int
	n      int
	counts []float64
	depthN []map[int]int
}

// transferFit is the posterior for one shrinkage setting.
type transferFit struct {
	beta    []float64
	ainv    *mat.SymDense // (ΦᵀΦ + Λ)⁻¹
	sigma2  float64
	lambda  float64
	lambdaS float64
	df      float64
	logLik  float64
	weight  float64
}

// FitTransfer fits the transfer model of a new device from its measured
// latencies y (ms, positive) of archs, given the prior devices.
func FitTransfer(sp *model.Space, priors []TransferPrior, archs []model.Arch, y []float64, opts TransferOptions) (*Transfer, error) {
	if err := checkPriors(sp, priors); err != nil {
		return nil, err
	}
	if len(archs) != len(y) {
		return nil, fmt.Errorf("transfer: %d archs but %d values", len(archs), len(y))
	}
	if len(archs) < 3 {
		return nil, fmt.Errorf("transfer: %d measurements of the new device; need at least 3", len(archs))
	}
	if opts.Lambda < 0 || opts.LambdaS < 0 || math.IsNaN(opts.Lambda) || math.IsNaN(opts.LambdaS) || math.IsInf(opts.Lambda, 0) || math.IsInf(opts.LambdaS, 0) {
		return nil, fmt.Errorf("transfer: λ=%g, λ_s=%g: each must be finite and ≥ 0 (0 chooses it)", opts.Lambda, opts.LambdaS)
	}
	t := make([]float64, len(y))
	for i, v := range y {
		if !finitePos(v) {
			return nil, fmt.Errorf("transfer: latency %d (%s) is %v; want a positive number of ms", i+1, archs[i], v)
		}
		if err := sp.Check(archs[i]); err != nil {
			return nil, fmt.Errorf("transfer: %w", err)
		}
		t[i] = math.Log(v)
	}
	b := newTransferBasis(sp, priors)
	p := b.dim()
	phi := make([][]float64, len(archs))
	for i, a := range archs {
		phi[i] = b.phi(a)
	}
	gram := mat.NewSymDense(p, nil)
	xty := make([]float64, p)
	for i, r := range phi {
		for j := 0; j < p; j++ {
			if r[j] == 0 {
				continue
			}
			xty[j] += r[j] * t[i]
			for k := j; k < p; k++ {
				gram.SetSym(j, k, gram.At(j, k)+r[j]*r[k])
			}
		}
	}
	lambdas, lambdaSs := []float64{opts.Lambda}, []float64{opts.LambdaS}
	if opts.Lambda == 0 {
		lambdas = logGrid(1e-3, 1e5, 17)
	}
	if opts.LambdaS == 0 {
		lambdaSs = logGrid(1e-4, 1, 5)
	}
	mu := b.priorMean()
	var fits []*transferFit
	var best *transferFit
	for _, lam := range lambdas {
		for _, lamS := range lambdaSs {
			f, err := solveTransfer(b, gram, xty, phi, t, mu, lam, lamS)
			if err != nil {
				continue
			}
			fits = append(fits, f)
			if best == nil || f.logLik > best.logLik {
				best = f
			}
		}
	}
	if best == nil {
		return nil, errors.New("transfer: every shrinkage setting gave a singular system (are the measured archs valid and distinct?)")
	}
	m := &Transfer{basis: b, best: best, dof: len(t) - 1, n: len(t)}
	total := 0.0
	for _, f := range fits {
		f.weight = math.Exp(f.logLik - best.logLik)
		total += f.weight
	}
	for _, f := range fits {
		if f.weight /= total; f.weight > 1e-6 {
			m.fits = append(m.fits, f)
		}
	}
	total = 0
	for _, f := range m.fits {
		total += f.weight
	}
	for _, f := range m.fits {
		f.weight /= total
	}
	m.counts = make([]float64, len(b.d.cols))
	m.depthN = make([]map[int]int, len(sp.Units))
	for u := range m.depthN {
		m.depthN[u] = map[int]int{}
	}
	off := 1 + len(priors)
	for i, a := range archs {
		for j := range m.counts {
			m.counts[j] += phi[i][off+j]
		}
		for u, blocks := range a.Units {
			m.depthN[u][len(blocks)]++
		}
	}
	return m, nil
}

func logGrid(lo, hi float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = lo * math.Pow(hi/lo, float64(i)/float64(n-1))
	}
	return out
}

// solveTransfer computes the posterior for one (λ, λ_s) and its restricted
// log marginal likelihood with σ² profiled out:
//
//	ℓ = −½[(n−1)·log(S/(n−1)) + log|ΦᵀΦ+Λ| − Σ_penalised log Λ_jj]
//
// where S = |t − Φβ̂|² + (β̂−μ)ᵀΛ(β̂−μ) is the penalised residual sum.
func solveTransfer(b *transferBasis, gram *mat.SymDense, xty []float64, phi [][]float64, t, mu []float64, lam, lamS float64) (*transferFit, error) {
	p := b.dim()
	pr := b.precision(lam, lamS)
	a := mat.NewSymDense(p, nil)
	a.CopySym(gram)
	rhs := mat.NewVecDense(p, nil)
	for j := 0; j < p; j++ {
		a.SetSym(j, j, a.At(j, j)+pr[j])
		rhs.SetVec(j, xty[j]+pr[j]*mu[j])
	}
	var ch mat.Cholesky
	if !ch.Factorize(a) {
		return nil, errors.New("not positive definite")
	}
	if c := ch.Cond(); c > 1e14 || math.IsNaN(c) {
		return nil, errors.New("ill-conditioned")
	}
	var beta mat.VecDense
	if err := ch.SolveVecTo(&beta, rhs); err != nil {
		return nil, err
	}
	n := len(t)
	s := 0.0
	for i, r := range phi {
		d := t[i] - dot(r, beta.RawVector().Data)
		s += d * d
	}
	logPr := 0.0
	for j := 1; j < p; j++ {
		d := beta.AtVec(j) - mu[j]
		s += pr[j] * d * d
		logPr += math.Log(pr[j])
	}
	dof := n - 1
	if s <= 0 {
		s = 1e-300
	}
	ll := -0.5 * (float64(dof)*math.Log(s/float64(dof)) + ch.LogDet() - logPr)
	var inv mat.SymDense
	if err := ch.InverseTo(&inv); err != nil {
		return nil, err
	}
	// Effective number of parameters tr((ΦᵀΦ+Λ)⁻¹ΦᵀΦ).
	var prod mat.Dense
	prod.Mul(&inv, gram)
	df := mat.Trace(&prod)
	return &transferFit{beta: mat.Col(nil, 0, &beta), ainv: &inv, sigma2: s / float64(dof),
		lambda: lam, lambdaS: lamS, df: df, logLik: ll}, nil
}

// mix combines per-setting estimates and standard errors into the
// mixture's mean and standard deviation.
func (m *Transfer) mix(est func(f *transferFit) (mean, sd float64)) (float64, float64) {
	mu, second := 0.0, 0.0
	for _, f := range m.fits {
		e, sd := est(f)
		mu += f.weight * e
		second += f.weight * (sd*sd + e*e)
	}
	return mu, math.Sqrt(max(second-mu*mu, 0))
}

// logPredict is the mean and predictive standard deviation of a new
// measurement's log latency: per setting σ²(1 + φᵀ(ΦᵀΦ+Λ)⁻¹φ), noise plus
// parameter uncertainty, mixed over the settings.
func (m *Transfer) logPredict(a model.Arch) (float64, float64) {
	phi := m.basis.phi(a)
	return m.mix(func(f *transferFit) (float64, float64) {
		return dot(phi, f.beta), math.Sqrt(f.sigma2 * (1 + quad(f.ainv, phi)))
	})
}

func quad(s *mat.SymDense, w []float64) float64 {
	v := mat.NewVecDense(len(w), w)
	return mat.Inner(v, s, v)
}

// Predict is the predicted latency of a (the exponentiated posterior mean
// of its log latency: a median, not a mean).
func (m *Transfer) Predict(a model.Arch) float64 {
	mu, _ := m.logPredict(a)
	return math.Exp(mu)
}

// Interval is the predictive interval at level (e.g. 0.95) for a new
// measurement of a: exp(mean ± t·sd) with sd the mixture's predictive
// standard deviation of the log latency and t the Student-t quantile on
// n−1 degrees of freedom. It covers residual noise and the uncertainty of
// the fitted scales, departures and shrinkage, not the prior devices' own
// fitting error (their models are fitted on many more records).
func (m *Transfer) Interval(a model.Arch, level float64) (lo, hi float64) {
	mu, sd := m.logPredict(a)
	q := m.TQuantile(level)
	return math.Exp(mu - q*sd), math.Exp(mu + q*sd)
}

// TQuantile is the two-sided Student-t quantile at level on the fit's
// residual degrees of freedom: an effect's interval is Estimate ± TQuantile·SE.
func (m *Transfer) TQuantile(level float64) float64 { return tQuantile(level, float64(m.dof)) }

func tQuantile(level, nu float64) float64 {
	if !(level > 0 && level < 1) || !(nu > 0) {
		return math.NaN()
	}
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: nu}.Quantile(1 - (1-level)/2)
}

// Name is "transfer".
func (m *Transfer) Name() string { return "transfer" }

// Provenance is devices.Predicted.
func (m *Transfer) Provenance() devices.Provenance { return devices.Predicted }

// N is the number of measurements of the new device the model was fitted on.
func (m *Transfer) N() int { return m.n }

// Lambda and LambdaS are the most likely shrinkage setting (the design's
// prior for the next picks).
func (m *Transfer) Lambda() float64  { return m.best.lambda }
func (m *Transfer) LambdaS() float64 { return m.best.lambdaS }

// Sigma is the residual standard deviation in log units (≈ relative noise
// and misfit), averaged over the settings.
func (m *Transfer) Sigma() float64 {
	v := 0.0
	for _, f := range m.fits {
		v += f.weight * f.sigma2
	}
	return math.Sqrt(v)
}

// PriorNames lists the prior devices.
func (m *Transfer) PriorNames() []string {
	out := make([]string, len(m.basis.priors))
	for i, p := range m.basis.priors {
		out[i] = p.Name
	}
	return out
}

// Scales are the fitted per-prior-device scales s_k with standard errors.
func (m *Transfer) Scales() []Effect {
	out := make([]Effect, len(m.basis.priors))
	for k, p := range m.basis.priors {
		e, se := m.mix(func(f *transferFit) (float64, float64) {
			return f.beta[1+k], math.Sqrt(f.sigma2 * f.ainv.At(1+k, 1+k))
		})
		out[k] = Effect{Name: p.Name, Effect: e, SE: se}
	}
	return out
}

// Describe is the model's provenance detail, e.g. "transfer from h100, 20
// measured".
func (m *Transfer) Describe() string {
	return fmt.Sprintf("transfer from %s, %d measured", strings.Join(m.PriorNames(), "+"), m.n)
}

// Label is the label its values carry, e.g. "predicted (transfer from
// h100, 20 measured)".
func (m *Transfer) Label() string { return fmt.Sprintf("%s (%s)", devices.Predicted, m.Describe()) }

// Effects are the new device's effects in log scale: each block's cost is
// Σ_k s_k·cost_k + δ. Standard errors propagate the posterior covariance of
// (c, s, δ) and the spread over the shrinkage settings, the prior devices'
// effects taken as known. Lambda is the most likely setting's λ.
func (m *Transfer) Effects() Effects {
	b := m.basis
	K := len(b.priors)
	pcols := len(b.d.cols)
	// lift maps a combination w of design coefficients (and base·intercept)
	// to one of (c, s, δ).
	lift := func(w []float64, base float64) []float64 {
		full := make([]float64, b.dim())
		full[0] = base
		for k, pr := range b.priors {
			full[1+k] = dot(w, pr.Model.fit.Coef) + base*pr.Model.fit.Intercept
		}
		copy(full[1+K:], w)
		return full
	}
	contrast := func(w []float64, base float64) (float64, float64) {
		l := lift(w, base)
		return m.mix(func(f *transferFit) (float64, float64) {
			return dot(l, f.beta), math.Sqrt(f.sigma2 * quad(f.ainv, l))
		})
	}
	coef := make([]float64, pcols)
	unit := make([]float64, pcols)
	for j := range coef {
		unit[j] = 1
		coef[j], _ = contrast(unit, 0)
		unit[j] = 0
	}
	// effectsOf takes dot(w, coef) as the estimate: the mixture's mean is
	// linear, so that equals the mixed contrast.
	se := func(w []float64) float64 {
		_, s := contrast(w, 0)
		return s
	}
	e := effectsOf(b.d, coef, se, m.counts, m.depthN)
	e.Scale = ScaleLog
	e.Base, e.BaseSE = contrast(make([]float64, pcols), 1)
	df := 0.0
	for _, f := range m.fits {
		df += f.weight * f.df
	}
	e.N, e.Lambda, e.DF, e.Sigma = m.n, m.best.lambda, df, m.Sigma()
	return e
}

// MACsPrior is a pseudo prior device whose "latency" is the arch's MACs:
// the additive log-scale model of MACs over archs (e.g. a uniform sample).
// Among the priors it lets the transfer fit how much of the new device's
// latency follows MACs (a compute-bound device), with its own scale.
func MACsPrior(sp *model.Space, archs []model.Arch) (TransferPrior, error) {
	y := make([]float64, len(archs))
	for i, a := range archs {
		g, err := gmacs(sp, a)
		if err != nil {
			return TransferPrior{}, fmt.Errorf("macs prior: %w", err)
		}
		y[i] = g
	}
	return FitTransferPrior(sp, "macs", archs, y)
}

// MACsPriorOfRecords is MACsPrior over the archs of records (MACs are
// computed from the space, not read from the records).
func MACsPriorOfRecords(sp *model.Space, recs []Record) (TransferPrior, error) {
	archs := make([]model.Arch, len(recs))
	for i, r := range recs {
		archs[i] = r.Arch
	}
	return MACsPrior(sp, archs)
}
