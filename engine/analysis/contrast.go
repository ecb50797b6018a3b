package analysis

import (
	"fmt"
	"math"
	"slices"

	"blockprof/engine/stats"
	"blockprof/model"
)

// UnitContrast is a whole-unit fix: E[M | every layer of unit u holds b] −
// E[M(A)] from the observations, and the regression's prediction of it.
type UnitContrast struct {
	Unit  int         `json:"unit"`
	Block model.Block `json:"-"`
	// Key is the block key, or "bNN" when only the expansion is fixed (a
	// bottleneck unit whose ratio stays random).
	Key string `json:"block"`
	// Rel has a bootstrap interval when N ≥ 2.
	Rel       Estimate  `json:"rel"`
	Predicted *Estimate `json:"predicted,omitempty"`
	// Residual is the mean of observed − predicted over the records (the
	// regression's prediction of each exact arch; interval when N ≥ 2).
	Residual *Estimate `json:"residual,omitempty"`
}

// ContrastGroup pools the whole-unit contrasts whose block shares one
// attribute level (all units together): e.g. k=7 is the mean change when a
// whole unit, any unit, holds kernel-7 blocks.
//
// Rel is the raw mean of observed − E[M(A)]: with one or two records per
// (unit, block) it also carries whatever else differs between those archs
// and the uniform ones (their other units' depths, say). Predicted is the
// regression's contrast averaged over the same records (interval from the
// fit), and Residual the mean of observed − predicted for each record's
// exact arch: the held-out check of the regression on that level (an
// interval away from 0 means the additive model misses something there).
type ContrastGroup struct {
	Attr      string    `json:"attr"` // "k", "e" or "c"
	Level     float64   `json:"level"`
	Key       string    `json:"key"` // "k=7"
	Rel       Estimate  `json:"rel"`
	Predicted *Estimate `json:"predicted,omitempty"`
	Residual  *Estimate `json:"residual,omitempty"`
}

// Contrasts are the whole-unit fixes of a series.
type Contrasts struct {
	Units  []UnitContrast  `json:"units"`
	Groups []ContrastGroup `json:"groups"`
	// Spearman is the rank agreement between the observed contrasts and
	// the regression's predictions (nil without a fit or with fewer than 3).
	Spearman  *float64 `json:"spearman"`
	SpearmanN int      `json:"spearman_n"`
	// Holdout checks the regression, fitted on the uniform archs only, on
	// the whole-unit archs it never saw (nil without a fit).
	Holdout *Holdout `json:"holdout,omitempty"`
}

// Holdout is the fit's error on held-out archs: the mean residual
// (observed − predicted, with a bootstrap interval: a systematic offset
// means a batch effect or a non-additive unit), the RMSE, the Spearman
// correlation of predicted and observed values, and the share predicted
// within ±10%.
type Holdout struct {
	N            int      `json:"n"`
	MeanResidual Estimate `json:"mean_residual"`
	RMSE         float64  `json:"rmse"`
	Spearman     *float64 `json:"spearman"`
	Within10     float64  `json:"within10"`
}

func contrastKey(sp *model.Space, b model.Block) string {
	if sp.Family == model.Bottleneck && b.W == 0 {
		return fmt.Sprintf("b%d", int(b.E*100+0.5))
	}
	return b.Key()
}

// ContrastsOf computes the whole-unit contrasts of the observations (nil
// when there are none). fit may be nil.
func ContrastsOf(sp *model.Space, obs []Obs, fit *Fit, opt Options) (*Contrasts, error) {
	opt = opt.withDefaults()
	uniform, _, units, err := splitObs(sp, obs)
	if err != nil {
		return nil, err
	}
	if len(units) == 0 {
		return nil, nil
	}
	if len(uniform) == 0 {
		return nil, fmt.Errorf("analysis: whole-unit contrasts need uniform archs as the baseline")
	}
	B := opt.Boot
	base := bootstrap(uniform, nil, B, seedFor(opt.Seed, -1)).mean
	bm := mean(uniform)
	c := &Contrasts{}
	var obsv, pred []float64
	// Residuals of the whole-unit records against the fit, per group.
	resid := map[model.Fix][]float64{}
	if fit != nil {
		for _, o := range obs {
			if o.Fix == nil || o.Fix.Layer != 0 || math.IsNaN(o.Value) || math.IsInf(o.Value, 0) {
				continue
			}
			if e, err := fit.Predict(o.Arch); err == nil {
				k := model.Fix{Unit: o.Fix.Unit, Block: o.Fix.Block}
				resid[k] = append(resid[k], o.Value-e.Value)
			}
		}
	}
	residEst := func(rs []float64, k int) *Estimate {
		if len(rs) == 0 {
			return nil
		}
		e := noCI(mean(rs), len(rs))
		if len(rs) >= 2 {
			e.Lo, e.Hi = stats.Bootstrap(model.NewRand(seedFor(opt.Seed, k)), rs, stats.Mean, B, opt.Level)
		}
		return &e
	}
	for k, g := range units {
		uc := UnitContrast{Unit: g.fix.Unit, Block: g.fix.Block, Key: contrastKey(sp, g.fix.Block)}
		uc.Residual = residEst(resid[g.fix], 400000+k)
		uc.Rel = noCI(mean(g.vals)-bm, len(g.vals))
		if len(g.vals) >= 2 {
			bs := bootstrap(g.vals, nil, B, seedFor(opt.Seed, 100000+k)).mean
			uc.Rel.Lo, uc.Rel.Hi = diffCI(bs, base, opt.Level)
		}
		if fit != nil {
			if e, err := fit.PredictUnitFix(g.fix.Unit, g.fix.Block); err == nil {
				uc.Predicted = &e
				obsv = append(obsv, uc.Rel.Value)
				pred = append(pred, e.Value)
			}
		}
		c.Units = append(c.Units, uc)
	}
	c.SpearmanN = len(obsv)
	c.Spearman = fp(Spearman(obsv, pred))
	if fit != nil {
		var ys, ps, res []float64
		within := 0
		for _, o := range obs {
			if o.Fix == nil || o.Fix.Layer != 0 || math.IsNaN(o.Value) || math.IsInf(o.Value, 0) {
				continue
			}
			e, err := fit.Predict(o.Arch)
			if err != nil {
				continue
			}
			ys, ps, res = append(ys, o.Value), append(ps, e.Value), append(res, o.Value-e.Value)
			if math.Abs(e.Value-o.Value) <= 0.1*math.Abs(o.Value) {
				within++
			}
		}
		if len(res) > 0 {
			h := &Holdout{N: len(res), MeanResidual: noCI(mean(res), len(res)), Spearman: fp(Spearman(ys, ps)), Within10: float64(within) / float64(len(res))}
			ss := 0.0
			for _, r := range res {
				ss += r * r
			}
			h.RMSE = math.Sqrt(ss / float64(len(res)))
			if len(res) >= 2 {
				h.MeanResidual.Lo, h.MeanResidual.Hi = stats.Bootstrap(model.NewRand(seedFor(opt.Seed, 300000)), res, stats.Mean, B, opt.Level)
			}
			c.Holdout = h
		}
	}
	// Groups by attribute level.
	type attr struct {
		name string
		get  func(model.Block) float64
	}
	attrs := []attr{{"e", func(b model.Block) float64 { return b.E }}}
	if sp.Family == model.Bottleneck {
		attrs = append(attrs, attr{"c", func(b model.Block) float64 { return b.W }})
	} else {
		attrs = append([]attr{{"k", func(b model.Block) float64 { return float64(b.K) }}}, attrs...)
	}
	gi := 0
	for _, a := range attrs {
		var levels []float64
		for _, g := range units {
			if v := a.get(g.fix.Block); v != 0 && !slices.Contains(levels, v) {
				levels = append(levels, v)
			}
		}
		slices.Sort(levels)
		if len(levels) < 2 {
			continue
		}
		for _, lv := range levels {
			var vals, rs []float64
			var fixes []model.Fix
			for _, g := range units {
				if a.get(g.fix.Block) == lv {
					vals = append(vals, g.vals...)
					rs = append(rs, resid[g.fix]...)
					for range g.vals {
						fixes = append(fixes, g.fix)
					}
				}
			}
			e := noCI(mean(vals)-bm, len(vals))
			if len(vals) >= 2 {
				bs := bootstrap(vals, nil, B, seedFor(opt.Seed, 200000+gi)).mean
				e.Lo, e.Hi = diffCI(bs, base, opt.Level)
			}
			cg := ContrastGroup{Attr: a.name, Level: lv, Key: fmt.Sprintf("%s=%s", a.name, fmtLevel(lv)), Rel: e}
			if fit != nil {
				if pe, err := fit.MeanUnitFix(fixes); err == nil {
					pe.N = len(vals)
					cg.Predicted = &pe
				}
				cg.Residual = residEst(rs, 500000+gi)
			}
			gi++
			c.Groups = append(c.Groups, cg)
		}
	}
	return c, nil
}

func fmtLevel(v float64) string {
	return fmt.Sprintf("%g", v)
}
