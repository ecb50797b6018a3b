package analysis

import (
	"errors"
	"fmt"
	"math"
	"slices"

	"blockprof/model"
)

// Effect is one per-(unit, block) or per-(unit, depth) effect of the
// regression estimator.
type Effect struct {
	Unit  int    `json:"unit"`
	Block string `json:"block,omitempty"`
	Depth int    `json:"depth,omitempty"`
	Estimate
}

// MarshalJSON flattens the estimate beside the coordinates.
func (e Effect) MarshalJSON() ([]byte, error) {
	est, err := e.Estimate.MarshalJSON()
	if err != nil {
		return nil, err
	}
	head := fmt.Sprintf(`{"unit":%d,`, e.Unit)
	if e.Block != "" {
		head += fmt.Sprintf(`"block":%q,`, e.Block)
	}
	if e.Depth != 0 {
		head += fmt.Sprintf(`"depth":%d,`, e.Depth)
	}
	return append([]byte(head), est[1:]...), nil
}

// StrongRidge is the relative ridge penalty from which a report warns that
// its regression intervals are too narrow.
const StrongRidge = 1.0

// Regression summarises the fit and its effects.
type Regression struct {
	N       int     `json:"n"`
	P       int     `json:"coefficients"`
	DF      float64 `json:"df"`
	Lambda  float64 `json:"lambda"`
	R2      float64 `json:"r2"`
	Q2      float64 `json:"q2"`
	LOORMSE float64 `json:"loo_rmse"`
	Sigma   float64 `json:"residual_sd"`
	SD      float64 `json:"sd"`
	// Baseline is the model's E[M(A)].
	Baseline     Estimate `json:"baseline"`
	BlockEffects []Effect `json:"block_effects"`
	DepthEffects []Effect `json:"depth_effects"`
}

// UnitSummary says how sensitive one unit is to block choice and to depth,
// by each estimator. Ranges are the difference between the unit's largest
// and smallest effect, with the interval of that difference.
type UnitSummary struct {
	Unit int `json:"unit"`
	// Regression: the block range (MaxBlock − MinBlock), the standard
	// deviation of the unit's block effects, and the depth range (effect
	// at MaxDepth − effect at MinDepth, the depths with the largest and
	// smallest effect).
	BlockRange *Estimate `json:"block_range,omitempty"`
	MaxBlock   string    `json:"max_block,omitempty"`
	MinBlock   string    `json:"min_block,omitempty"`
	BlockSD    *float64  `json:"block_sd,omitempty"`
	DepthRange *Estimate `json:"depth_range,omitempty"`
	MaxDepth   int       `json:"max_depth,omitempty"`
	MinDepth   int       `json:"min_depth,omitempty"`
	// Paper estimator: the range of Eq. 2 averaged over the unit's layers,
	// and the depth signal: mean over blocks of Eq. 2 at the unit's last
	// layer minus at its first (what the optional layers add).
	Eq2BlockRange *Estimate `json:"eq2_block_range,omitempty"`
	Eq2MaxBlock   string    `json:"eq2_max_block,omitempty"`
	Eq2MinBlock   string    `json:"eq2_min_block,omitempty"`
	Eq2Depth      *Estimate `json:"eq2_depth_signal,omitempty"`
}

// Sensitive names the unit most sensitive to block choice and to depth
// by each estimator (0 when it cannot say).
type Sensitive struct {
	Block    int `json:"block"`
	Depth    int `json:"depth"`
	Eq2Block int `json:"eq2_block"`
	Eq2Depth int `json:"eq2_depth"`
}

// Report.BaselineSource values.
const (
	BaselineUniform    = "uniform mean"
	BaselineRegression = "regression"
)

// Report is every table of one series.
type Report struct {
	Space      string    `json:"space"`
	Device     string    `json:"device,omitempty"`
	Metric     string    `json:"metric"`
	Unit       string    `json:"unit,omitempty"`
	Label      string    `json:"label,omitempty"`
	Resolution int       `json:"resolution"`
	Sampler    string    `json:"sampler"`
	Level      float64   `json:"level"`
	Taus       []float64 `json:"taus"`
	Boot       int       `json:"bootstrap"`
	Seed       uint64    `json:"seed"`
	// Uniform, Fixed, UnitFixed and NonUniform count the observations by
	// role.
	Uniform    int `json:"uniform"`
	Fixed      int `json:"fixed"`
	UnitFixed  int `json:"unit_fixed"`
	NonUniform int `json:"non_uniform"`

	// Baseline is E[M(A)]: the mean of the uniform archs (BaselineSource
	// "uniform mean") or, without any, the regression's E[M(A)] over uniform
	// draws ("regression"), which the regression's M_b is compared with.
	Baseline       Estimate        `json:"baseline"`
	BaselineSource string          `json:"baseline_source"`
	BaselineQ      []TauEstimate   `json:"baseline_q"`
	Blocks         []BlockResponse `json:"blocks"`
	Locations      []Location      `json:"locations,omitempty"`
	// Regression is nil when it was skipped (see Notes).
	Regression *Regression   `json:"regression,omitempty"`
	Contrasts  *Contrasts    `json:"contrasts,omitempty"`
	Units      []UnitSummary `json:"units"`
	Most       Sensitive     `json:"most_sensitive"`
	Matrices   []Matrix      `json:"matrices"`
	Notes      []string      `json:"notes,omitempty"`

	fit     *Fit
	profile *Profile
	space   *model.Space
}

// Fit is the regression behind the report (nil when skipped).
func (r *Report) Fit() *Fit { return r.fit }

// Profile is the paper estimator behind the report (nil without fixed
// samples).
func (r *Report) Profile() *Profile { return r.profile }

// SpaceDef is the analysed space.
func (r *Report) SpaceDef() *model.Space { return r.space }

// Analyze computes every table of the series.
func Analyze(s Series, opt Options) (*Report, error) {
	opt = opt.withDefaults()
	if err := opt.check(); err != nil {
		return nil, err
	}
	sp := s.Space
	if sp == nil {
		return nil, errors.New("analysis: series without a space")
	}
	r := &Report{Space: sp.Name, Device: s.Device, Metric: s.Metric, Unit: s.Unit, Label: s.Label,
		Sampler: samplerName(opt.Mode), Level: opt.Level, Taus: opt.Taus, Boot: opt.Boot, Seed: opt.Seed, space: sp}
	for _, o := range s.Obs {
		if o.Arch.Space != "" && o.Arch.Space != sp.Name {
			return nil, fmt.Errorf("analysis: an observation of space %s in a series of %s", o.Arch.Space, sp.Name)
		}
		if r.Resolution == 0 {
			r.Resolution = o.Arch.Resolution
		}
		switch {
		case o.Fix == nil && o.NonUniform:
			r.NonUniform++
		case o.Fix == nil:
			r.Uniform++
		case o.Fix.Layer == 0:
			r.UnitFixed++
		default:
			r.Fixed++
		}
	}
	if r.Uniform == 0 && (r.NonUniform == 0 || opt.NoRegression) {
		return nil, fmt.Errorf("analysis: %s %s: no uniform architectures (every table is relative to E[M(A)]; plan uniform archs)", sp.Name, s.Metric)
	}
	var prof *Profile
	if r.Uniform > 0 {
		p, err := ProfileOf(sp, s.Obs, opt)
		if err != nil {
			return nil, err
		}
		prof = p
		r.Baseline, r.BaselineQ, r.BaselineSource = p.Baseline, p.BaselineQ, BaselineUniform
		r.Blocks = p.Blocks
		if r.Fixed > 0 {
			r.profile = p
			r.Locations = p.Locations
		}
	} else {
		for _, b := range sp.BlockChoices() {
			r.Blocks = append(r.Blocks, BlockResponse{Block: b, Key: b.Key(), Label: b.Label()})
		}
		r.Notes = append(r.Notes, fmt.Sprintf("no uniform archs: the %d archs were not drawn uniformly (e.g. by a search), so only the regression uses them; E[M(A)] is the regression's over uniform draws, and the sample tables (Eq. 1–3, whole-unit contrasts) are left out", r.NonUniform))
	}
	if r.NonUniform > 0 && r.Uniform > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d archs not drawn uniformly enter the regression only, not the baseline or Eq. 1–3", r.NonUniform))
	}
	if !opt.NoRegression {
		fit, err := FitAdditive(sp, s.Obs, opt)
		switch {
		case errors.Is(err, ErrTooFew) && r.Uniform > 0:
			r.Notes = append(r.Notes, "regression skipped: "+err.Error())
		case err != nil:
			return nil, err
		default:
			r.fit = fit
		}
	}
	if r.profile == nil {
		for i := range r.Blocks {
			r.Blocks[i].Eq1 = nil
			r.Blocks[i].Locations = 0
		}
	}
	if f := r.fit; f != nil {
		reg := &Regression{N: f.N, P: f.P, DF: f.DF, Lambda: f.Lambda, R2: f.R2, Q2: f.Q2, LOORMSE: f.LOORMSE, Sigma: f.Sigma, SD: f.SD}
		if f.Lambda >= StrongRidge {
			r.Notes = append(r.Notes, fmt.Sprintf("strong ridge shrinkage (λ=%g): the effects are pulled toward 0 and their intervals are too narrow; sample more uniform archs", f.Lambda))
		}
		var err error
		if reg.Baseline, err = f.Mean(sp); err != nil {
			return nil, err
		}
		for i, u := range sp.Units {
			for _, b := range sp.BlockChoices() {
				if !u.Allows(b) {
					continue
				}
				e, err := f.BlockEffect(i+1, b)
				if err != nil {
					return nil, err
				}
				reg.BlockEffects = append(reg.BlockEffects, Effect{Unit: i + 1, Block: b.Key(), Estimate: e})
			}
			for _, d := range u.Depths {
				e, err := f.DepthEffect(i+1, d)
				if err != nil {
					return nil, err
				}
				reg.DepthEffects = append(reg.DepthEffects, Effect{Unit: i + 1, Depth: d, Estimate: e})
			}
		}
		r.Regression = reg
		if r.Uniform == 0 {
			r.Baseline, r.BaselineSource = reg.Baseline, BaselineRegression
		}
		for i := range r.Blocks {
			e, err := f.Blockwise(r.Blocks[i].Block, opt.Mode)
			if err != nil {
				return nil, err
			}
			rel, err := f.BlockwiseRel(r.Blocks[i].Block, opt.Mode)
			if err != nil {
				return nil, err
			}
			r.Blocks[i].Regression, r.Blocks[i].RegressionRel = &e, &rel
		}
		for i := range r.Locations {
			l := &r.Locations[i]
			e, err := f.PredictLocation(model.Fix{Unit: l.Unit, Layer: l.Layer, Block: l.Block}, opt.Mode)
			if err == nil {
				l.Predicted = &e
			}
		}
	}
	if prof != nil {
		c, err := ContrastsOf(sp, s.Obs, r.fit, opt)
		if err != nil {
			return nil, err
		}
		r.Contrasts = c
	}
	r.summarizeUnits(opt.Level)
	r.Matrices = r.matrices()
	return r, nil
}

func samplerName(m model.FixMode) string {
	if m == model.FixBlockProfile {
		return "blockprofile"
	}
	return "paper"
}

func (r *Report) summarizeUnits(level float64) {
	sp := r.space
	bestBlock, bestDepth, bestEq2B, bestEq2D := -1.0, -1.0, -1.0, -1.0
	for i, u := range sp.Units {
		us := UnitSummary{Unit: i + 1}
		var blocks []model.Block
		for _, b := range sp.BlockChoices() {
			if u.Allows(b) {
				blocks = append(blocks, b)
			}
		}
		if f := r.fit; f != nil && len(blocks) > 1 {
			var vals []float64
			hi, lo := -1, -1
			for j, b := range blocks {
				e, err := f.BlockEffect(i+1, b)
				if err != nil {
					continue
				}
				vals = append(vals, e.Value)
				if hi < 0 || e.Value > vals[hi] {
					hi = j
				}
				if lo < 0 || e.Value < vals[lo] {
					lo = j
				}
			}
			if hi >= 0 && lo >= 0 && len(vals) == len(blocks) {
				if d, err := f.BlockDiff(i+1, blocks[hi], blocks[lo]); err == nil {
					us.BlockRange, us.MaxBlock, us.MinBlock = &d, blocks[hi].Key(), blocks[lo].Key()
					s := sd(vals)
					us.BlockSD = &s
					if d.Value > bestBlock {
						bestBlock, r.Most.Block = d.Value, i+1
					}
				}
			}
		}
		if f := r.fit; f != nil && len(u.Depths) > 1 {
			hi, lo := u.Depths[0], u.Depths[0]
			var hv, lv float64
			for j, d := range u.Depths {
				e, err := f.DepthEffect(i+1, d)
				if err != nil {
					continue
				}
				if j == 0 || e.Value > hv {
					hi, hv = d, e.Value
				}
				if j == 0 || e.Value < lv {
					lo, lv = d, e.Value
				}
			}
			if d, err := f.DepthDiff(i+1, hi, lo); err == nil {
				us.DepthRange, us.MaxDepth, us.MinDepth = &d, hi, lo
				if d.Value > bestDepth {
					bestDepth, r.Most.Depth = d.Value, i+1
				}
			}
		}
		if p := r.profile; p != nil && len(blocks) > 1 {
			var hb, lb model.Block
			hv, lv := math.Inf(-1), math.Inf(1)
			for _, b := range blocks {
				e, ok := p.UnitBlock(i+1, b, level)
				if !ok {
					continue
				}
				if e.Value > hv {
					hb, hv = b, e.Value
				}
				if e.Value < lv {
					lb, lv = b, e.Value
				}
			}
			if hb != lb {
				if d, ok := p.UnitBlockDiff(i+1, hb, lb, level); ok {
					us.Eq2BlockRange, us.Eq2MaxBlock, us.Eq2MinBlock = &d, hb.Key(), lb.Key()
					if d.Value > bestEq2B {
						bestEq2B, r.Most.Eq2Block = d.Value, i+1
					}
				}
			}
			v1, r1, n1, ok1 := p.layerSignal(i+1, 1)
			vL, rL, nL, okL := p.layerSignal(i+1, u.MaxDepth())
			if ok1 && okL && u.MaxDepth() > 1 {
				lo, hi := diffCI(rL, r1, level)
				e := Estimate{Value: vL - v1, Lo: lo, Hi: hi, SE: math.NaN(), N: n1 + nL}
				us.Eq2Depth = &e
				if math.Abs(e.Value) > bestEq2D {
					bestEq2D, r.Most.Eq2Depth = math.Abs(e.Value), i+1
				}
			}
		}
		r.Units = append(r.Units, us)
	}
}

// BlockEffectOf returns the regression's per-(unit, block) effect from the
// report's table (ok false without a fit or for a block the unit lacks).
func (r *Report) BlockEffectOf(unit int, key string) (Estimate, bool) {
	if r.Regression == nil {
		return Estimate{}, false
	}
	i := slices.IndexFunc(r.Regression.BlockEffects, func(e Effect) bool { return e.Unit == unit && e.Block == key })
	if i < 0 {
		return Estimate{}, false
	}
	return r.Regression.BlockEffects[i].Estimate, true
}
