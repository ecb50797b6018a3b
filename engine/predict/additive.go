package predict

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"blockprof/devices"
	"blockprof/engine/stats"
	"blockprof/model"
)

// AdditiveOptions tune FitAdditive. The zero value chooses everything by
// 5-fold cross-validation on the training data.
type AdditiveOptions struct {
	// Scale fixes the fit space; ScaleAuto (default) picks by CV (log is
	// only tried when every y is positive).
	Scale Scale
	// Lambda fixes the ridge penalty; 0 picks it by CV from 1e-4..1e3, one
	// per decade (the λ with the lowest held-out squared error in the fit's
	// scale).
	Lambda float64
	// Folds of the cross-validation (default 5).
	Folds int
	// Seed shuffles the folds (default 1).
	Seed uint64
	// Name overrides the predictor's name (default "additive").
	Name string
}

// Additive is the additive latency model
//
//	metric ≈ base + Σ_layers cost(u, b) + Σ_u depth(u, d)
//
// (plus the stem choices of bottleneck spaces and the resolution), fitted by
// ridge regression on end-to-end measurements. See Effects for the fitted
// per-(unit, block) and per-(unit, depth) effects with standard errors.
type Additive struct {
	sp     *model.Space
	design *additiveDesign
	fit    *stats.RidgeFit
	scale  Scale
	name   string
	n      int
	counts []float64 // training column sums (layers per (u,b), archs per depth)
	depthN []map[int]int
	cv     CVReport
}

// FitAdditive fits the additive model to archs of sp and their metric y.
func FitAdditive(sp *model.Space, archs []model.Arch, y []float64, opts AdditiveOptions) (*Additive, error) {
	if len(archs) != len(y) {
		return nil, fmt.Errorf("additive fit: %d archs but %d values", len(archs), len(y))
	}
	if len(archs) < 3 {
		return nil, fmt.Errorf("additive fit: %d measurements; need at least 3 (and, for stable effects, several per unit and block)", len(archs))
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("additive fit: value %d (%s) is not finite", i+1, archs[i])
		}
	}
	for _, a := range archs {
		if err := sp.Check(a); err != nil {
			return nil, fmt.Errorf("additive fit: %w", err)
		}
	}
	positive := !slices.ContainsFunc(y, func(v float64) bool { return v <= 0 })
	if opts.Scale == ScaleLog && !positive {
		return nil, errors.New("additive fit: log scale needs positive values")
	}
	if opts.Scale != ScaleAuto && opts.Scale != ScaleLinear && opts.Scale != ScaleLog {
		return nil, fmt.Errorf("additive fit: scale %q: want linear, log or empty (auto)", opts.Scale)
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	if opts.Name == "" {
		opts.Name = "additive"
	}
	d := newAdditiveDesign(sp)
	x := d.matrix(archs)
	scales := []Scale{opts.Scale}
	if opts.Scale == ScaleAuto {
		scales = []Scale{ScaleLinear}
		if positive {
			scales = append(scales, ScaleLog)
		}
	}
	lambdas := lambdaGrid()
	if opts.Lambda > 0 {
		lambdas = []float64{opts.Lambda}
	}
	crit := "rmse"
	if positive {
		crit = "mape"
	}
	k := clampFolds(opts.Folds, len(y))
	rep := CVReport{Folds: k, Criterion: crit}
	var best *stats.RidgeFit
	var bestScale Scale
	bestScore := math.Inf(1)
	for _, sc := range scales {
		t := transform(y, sc)
		var fit *stats.RidgeFit
		if len(lambdas) == 1 {
			f, err := stats.Ridge(x, t, lambdas[0], stats.RidgeOptions{})
			if err != nil {
				return nil, fmt.Errorf("additive fit: %w", err)
			}
			fit = f
		} else {
			cv, err := stats.RidgeCV(x, t, lambdas, k, newRand(opts.Seed), stats.RidgeOptions{})
			if err != nil {
				return nil, fmt.Errorf("additive fit: %w", err)
			}
			fit = cv.Fit
		}
		pt := CVPoint{Scale: sc, Lambda: fit.Lambda}
		{
			// Score on the original metric, with the same folds for every scale.
			oof, err := crossVal(len(y), k, opts.Seed, func(train, test []int) ([]float64, error) {
				f, err := stats.Ridge(pick(x, train), pick(t, train), fit.Lambda, stats.RidgeOptions{})
				if err != nil {
					return nil, err
				}
				p := make([]float64, len(test))
				for i, j := range test {
					p[i] = untransform(f.Predict(x[j]), sc)
				}
				return p, nil
			})
			if err != nil {
				return nil, fmt.Errorf("additive fit: cross-validation: %w", err)
			}
			if crit == "mape" {
				pt.Score = stats.MAPE(oof, y)
			} else {
				pt.Score = stats.RMSE(oof, y)
			}
		}
		rep.Tried = append(rep.Tried, pt)
		if best == nil || pt.Score < bestScore {
			best, bestScale, bestScore = fit, sc, pt.Score
			rep.Chosen = pt
		}
	}
	f := best
	m := &Additive{sp: sp, design: d, fit: f, scale: bestScale, name: opts.Name, n: len(y), cv: rep}
	m.counts = make([]float64, len(d.cols))
	m.depthN = make([]map[int]int, len(sp.Units))
	for u := range m.depthN {
		m.depthN[u] = map[int]int{}
	}
	for i, r := range x {
		for j, v := range r {
			m.counts[j] += v
		}
		for u, blocks := range archs[i].Units {
			m.depthN[u][len(blocks)]++
		}
	}
	return m, nil
}

func transform(y []float64, sc Scale) []float64 {
	if sc != ScaleLog {
		return y
	}
	t := make([]float64, len(y))
	for i, v := range y {
		t[i] = math.Log(v)
	}
	return t
}

func untransform(v float64, sc Scale) float64 {
	if sc == ScaleLog {
		return math.Exp(v)
	}
	return v
}

// Predict estimates the metric of a. Blocks or depths never seen in
// training contribute nothing beyond the base (ridge leaves them at 0).
func (m *Additive) Predict(a model.Arch) float64 {
	return untransform(m.fit.Predict(m.design.row(a)), m.scale)
}

// Name is the predictor's name ("additive" unless overridden).
func (m *Additive) Name() string { return m.name }

// Provenance is devices.Predicted.
func (m *Additive) Provenance() devices.Provenance { return devices.Predicted }

// Scale is the space the model was fitted in (chosen by CV unless fixed).
func (m *Additive) Scale() Scale { return m.scale }

// CV reports the cross-validation that chose the scale and λ.
func (m *Additive) CV() CVReport { return m.cv }

// Effects of a fitted additive model. Values are in the fit's scale: metric
// units (e.g. ms) for ScaleLinear; natural-log units for ScaleLog, where an
// effect e multiplies the metric by exp(e) (≈ 1+e for small e). SE is the
// standard error from the ridge sandwich covariance
// σ²(X'X+λI)⁻¹X'X(X'X+λI)⁻¹; with ridge shrinkage the estimates are biased
// toward 0 by a small amount, so Estimate ± 1.96·SE is an approximate 95%
// interval. Units are 1-based.
type Effects struct {
	Scale Scale `json:"scale"`
	// Base is the intercept: the metric with every count and indicator at
	// zero (an extrapolation, useful only together with the costs).
	Base   float64       `json:"base"`
	BaseSE float64       `json:"base_se"`
	Blocks []BlockEffect `json:"blocks"`
	Depths []DepthEffect `json:"depths"`
	// Other holds the remaining coefficients: the stem choices of
	// bottleneck spaces ("stem.d2", "stem.w0=1", …) and the non-first
	// resolutions ("r192"), each relative to the first choice.
	Other []Effect `json:"other,omitempty"`
	// N is the number of training measurements, Lambda the ridge penalty,
	// DF the effective number of parameters and Sigma the residual standard
	// deviation (in the fit's scale).
	N      int     `json:"n"`
	Lambda float64 `json:"lambda"`
	DF     float64 `json:"df"`
	Sigma  float64 `json:"sigma"`
}

// BlockEffect is the fitted cost of one layer holding Block in Unit.
type BlockEffect struct {
	Unit  int         `json:"unit"`
	Block model.Block `json:"-"`
	Key   string      `json:"block"`
	// Cost is the full cost of one such layer; SE its standard error.
	Cost float64 `json:"cost"`
	SE   float64 `json:"se"`
	// Rel is Cost minus the mean Cost of the unit's blocks: what choosing
	// this block costs relative to an average block of the unit (the
	// regression analogue of the paper's relative expectation, Eq. 2).
	// RelSE is its standard error (the contrast's, not Cost's).
	Rel   float64 `json:"rel"`
	RelSE float64 `json:"rel_se"`
	// Layers is how many training layers held this block in this unit: a
	// block with few layers has a wide interval.
	Layers int `json:"layers"`
}

// DepthEffect is the fitted change of the metric when Unit has Depth layers
// instead of its smallest depth, the added layers holding blocks of average
// cost: (Depth − min depth) · mean_b cost(u, b) + the interior-depth term.
// It is 0 (SE 0) at the smallest depth.
type DepthEffect struct {
	Unit   int     `json:"unit"`
	Depth  int     `json:"depth"`
	Effect float64 `json:"effect"`
	SE     float64 `json:"se"`
	// Archs is how many training archs had this depth in this unit.
	Archs int `json:"archs"`
}

// Effect is a named coefficient with its standard error.
type Effect struct {
	Name   string  `json:"name"`
	Effect float64 `json:"effect"`
	SE     float64 `json:"se"`
}

// Effects returns the fitted effects with standard errors.
func (m *Additive) Effects() Effects {
	e := effectsOf(m.design, m.fit.Coef, m.fit.ContrastSE, m.counts, m.depthN)
	e.Scale, e.Base, e.BaseSE, e.N, e.Lambda, e.DF, e.Sigma = m.scale, m.fit.Intercept, m.fit.InterceptSE, m.n, m.fit.Lambda, m.fit.DF, m.fit.Sigma
	return e
}

// effectsOf reads the per-(unit, block), per-(unit, depth) and other
// effects off coefficients coef of design d; se gives the standard error of
// a combination Σ w[j]·coef[j]. counts and depthN are the training column
// sums and depth counts (Layers, Archs).
func effectsOf(d *additiveDesign, coef []float64, se func(w []float64) float64, counts []float64, depthN []map[int]int) Effects {
	var e Effects
	p := len(d.cols)
	for u, unit := range d.units {
		nb := float64(len(unit.Blocks))
		mean := make([]float64, p) // contrast: mean cost of the unit's blocks
		for _, c := range d.countCol[u] {
			mean[c] = 1 / nb
		}
		for i, b := range unit.Blocks {
			c := d.countCol[u][i]
			unitv := make([]float64, p)
			unitv[c] = 1
			rel := make([]float64, p)
			for j := range rel {
				rel[j] = unitv[j] - mean[j]
			}
			e.Blocks = append(e.Blocks, BlockEffect{
				Unit: u + 1, Block: b, Key: b.Key(),
				Cost: coef[c], SE: se(unitv),
				Rel: dot(rel, coef), RelSE: se(rel),
				Layers: int(counts[c]),
			})
		}
		for _, dep := range unit.Depths {
			c := make([]float64, p)
			for j := range c {
				c[j] = float64(dep-unit.MinDepth()) * mean[j]
			}
			if col, ok := d.depthCol[u][dep]; ok {
				c[col] = 1
			}
			e.Depths = append(e.Depths, DepthEffect{Unit: u + 1, Depth: dep, Effect: dot(c, coef), SE: se(c), Archs: depthN[u][dep]})
		}
	}
	for j, col := range d.cols {
		if col.Kind == colStem || col.Kind == colRes {
			c := make([]float64, p)
			c[j] = 1
			e.Other = append(e.Other, Effect{Name: col.Name, Effect: coef[j], SE: se(c)})
		}
	}
	return e
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
