package analysis

import (
	"cmp"
	"fmt"
	"math"
	"slices"

	"blockprof/engine/stats"
	"blockprof/model"
)

// TauEstimate is a relative τ-percentile (Eq. 3) or a plain percentile.
type TauEstimate struct {
	Tau float64 `json:"tau"`
	Estimate
}

// MarshalJSON flattens the estimate next to tau.
func (t TauEstimate) MarshalJSON() ([]byte, error) {
	e, err := t.Estimate.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return append([]byte(fmt.Sprintf(`{"tau":%v,`, t.Tau)), e[1:]...), nil
}

// Location is one (unit, layer, block) of Eq. 2 and 3.
type Location struct {
	Unit  int         `json:"unit"`
	Layer int         `json:"layer"`
	Block model.Block `json:"-"`
	Key   string      `json:"block"`
	// N is the number of A_{u,l,b}; Active of them really hold the block at
	// the location (fewer than N only with the BlockProfile sampler).
	N      int `json:"n"`
	Active int `json:"active"`
	// Mean is E[M(A_{u,l,b})] (absolute), Rel the paper's Eq. 2.
	Mean Estimate `json:"mean"`
	Rel  Estimate `json:"rel"`
	// RelQ are the Eq. 3 relative percentiles, one per τ.
	RelQ []TauEstimate `json:"rel_q"`
	// Predicted is the regression's Eq. 2 for the same location (nil
	// without a fit).
	Predicted *Estimate `json:"predicted,omitempty"`
}

// BlockResponse is the block-wise response M_b of Eq. 1 for one block.
type BlockResponse struct {
	Block model.Block `json:"-"`
	Key   string      `json:"block"`
	Label string      `json:"label"`
	// Eq1 is the paper's M_b from the A_{u,l,b} samples (N counts them;
	// nil without fixed samples); Locations is how many locations it
	// averages (all Σ_u d_u that allow the block when the plan is complete).
	Eq1       *Estimate `json:"eq1,omitempty"`
	Locations int       `json:"locations"`
	// Regression is the regression's M_b (nil without a fit), and
	// RegressionRel that M_b minus the regression's own E[M(A)]
	// (Regression.Baseline of the report): the two expectations are taken
	// the same way, over uniform draws of the fitted model.
	Regression    *Estimate `json:"regression,omitempty"`
	RegressionRel *Estimate `json:"regression_rel,omitempty"`
}

// Profile is the paper's estimator: Eq. 1–3 from uniform and fixed
// samples, with bootstrap intervals.
type Profile struct {
	// Baseline is E[M(A)] over the uniform samples; BaselineQ their
	// τ-percentiles.
	Baseline  Estimate        `json:"baseline"`
	BaselineQ []TauEstimate   `json:"baseline_q"`
	Locations []Location      `json:"locations"`
	Blocks    []BlockResponse `json:"blocks"`
	// reps keeps the bootstrap replicates of every location's mean (and of
	// the baseline) so that derived statistics get intervals too.
	baseReps []float64
	locReps  [][]float64
}

// group collects the values of one location.
type group struct {
	fix    model.Fix
	vals   []float64
	active int
}

// splitObs separates uniform values, per-location groups (in the space's
// Locations order) and whole-unit groups.
func splitObs(sp *model.Space, obs []Obs) (uniform []float64, locs []*group, units []*group, err error) {
	idx := map[model.Fix]*group{}
	uidx := map[model.Fix]*group{}
	res := 0
	for _, o := range obs {
		if math.IsNaN(o.Value) || math.IsInf(o.Value, 0) {
			continue
		}
		if res == 0 {
			res = o.Arch.Resolution
		} else if o.Arch.Resolution != res {
			return nil, nil, nil, fmt.Errorf("analysis: observations at resolutions %d and %d: analyse one resolution at a time", res, o.Arch.Resolution)
		}
		switch {
		case o.Fix == nil:
			if !o.NonUniform {
				uniform = append(uniform, o.Value)
			}
		case o.Fix.Layer == 0:
			k := model.Fix{Unit: o.Fix.Unit, Block: o.Fix.Block}
			if k.Unit < 1 || k.Unit > len(sp.Units) {
				return nil, nil, nil, fmt.Errorf("analysis: whole-unit fix of unit %d outside 1..%d", k.Unit, len(sp.Units))
			}
			g := uidx[k]
			if g == nil {
				g = &group{fix: k}
				uidx[k] = g
				units = append(units, g)
			}
			g.vals = append(g.vals, o.Value)
			g.active++
		default:
			k := *o.Fix
			if err := sp.CheckFix(k); err != nil {
				return nil, nil, nil, fmt.Errorf("analysis: %w", err)
			}
			g := idx[k]
			if g == nil {
				g = &group{fix: k}
				idx[k] = g
			}
			g.vals = append(g.vals, o.Value)
			if k.Active(o.Arch) {
				g.active++
			}
		}
	}
	for _, f := range sp.Locations() {
		if g := idx[f]; g != nil {
			locs = append(locs, g)
		}
	}
	slices.SortStableFunc(units, func(a, b *group) int {
		if c := cmp.Compare(a.fix.Unit, b.fix.Unit); c != 0 {
			return c
		}
		return cmp.Compare(blockOrder(sp, a.fix.Block), blockOrder(sp, b.fix.Block))
	})
	return uniform, locs, units, nil
}

func blockOrder(sp *model.Space, b model.Block) int {
	for i, c := range sp.BlockChoices() {
		if c == b {
			return i
		}
	}
	// A partial (expansion-only) block sorts by its expansion.
	return 1000 + int(b.E*100)
}

// bootStats holds a group's bootstrap replicates of the mean and of every τ.
type bootStats struct {
	mean []float64
	q    [][]float64 // per tau
}

func bootstrap(vals []float64, taus []float64, B int, seed uint64) bootStats {
	rng := model.NewRand(seed)
	bs := bootStats{mean: stats.BootstrapReplicates(rng, vals, stats.Mean, B, nil)}
	for _, tau := range taus {
		bs.q = append(bs.q, stats.BootstrapReplicates(rng, vals, quantileStat(tau), B, nil))
	}
	return bs
}

func sortedCopy(xs []float64) []float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s
}

// diffCI is the percentile interval of a[i] − b[i].
func diffCI(a, b []float64, level float64) (float64, float64) {
	d := make([]float64, len(a))
	for i := range a {
		d[i] = a[i] - b[i]
	}
	return percentileCI(d, level)
}

// ProfileOf computes Eq. 1–3 from the observations (uniform and fixed;
// whole-unit fixes are ignored here, see Contrasts).
func ProfileOf(sp *model.Space, obs []Obs, opt Options) (*Profile, error) {
	opt = opt.withDefaults()
	if err := opt.check(); err != nil {
		return nil, err
	}
	uniform, locs, _, err := splitObs(sp, obs)
	if err != nil {
		return nil, err
	}
	if len(uniform) == 0 {
		return nil, fmt.Errorf("analysis: no uniform architectures: Eq. 2 and 3 are relative to E[M(A)] (plan some uniform archs)")
	}
	B := opt.Boot
	p := &Profile{}
	base := bootstrap(uniform, opt.Taus, B, seedFor(opt.Seed, -1))
	p.baseReps = base.mean
	lo, hi := percentileCI(slices.Clone(base.mean), opt.Level)
	p.Baseline = Estimate{Value: mean(uniform), Lo: lo, Hi: hi, SE: math.NaN(), N: len(uniform)}
	us := sortedCopy(uniform)
	for t, tau := range opt.Taus {
		lo, hi := percentileCI(slices.Clone(base.q[t]), opt.Level)
		p.BaselineQ = append(p.BaselineQ, TauEstimate{tau, Estimate{Value: quantileSorted(us, tau), Lo: lo, Hi: hi, SE: math.NaN(), N: len(uniform)}})
	}
	order := map[model.Fix]int{}
	for i, f := range sp.Locations() {
		order[f] = i
	}
	for _, g := range locs {
		bs := bootstrap(g.vals, opt.Taus, B, seedFor(opt.Seed, order[g.fix]))
		gs := sortedCopy(g.vals)
		m := mean(g.vals)
		l := Location{Unit: g.fix.Unit, Layer: g.fix.Layer, Block: g.fix.Block, Key: g.fix.Block.Key(), N: len(g.vals), Active: g.active}
		mlo, mhi := percentileCI(slices.Clone(bs.mean), opt.Level)
		l.Mean = Estimate{Value: m, Lo: mlo, Hi: mhi, SE: math.NaN(), N: len(g.vals)}
		rlo, rhi := diffCI(bs.mean, base.mean, opt.Level)
		l.Rel = Estimate{Value: m - p.Baseline.Value, Lo: rlo, Hi: rhi, SE: math.NaN(), N: len(g.vals)}
		for t, tau := range opt.Taus {
			qlo, qhi := diffCI(bs.q[t], base.q[t], opt.Level)
			l.RelQ = append(l.RelQ, TauEstimate{tau, Estimate{
				Value: quantileSorted(gs, tau) - p.BaselineQ[t].Value, Lo: qlo, Hi: qhi, SE: math.NaN(), N: len(g.vals)}})
		}
		if len(g.vals) < 2 {
			l.Mean.Lo, l.Mean.Hi, l.Rel.Lo, l.Rel.Hi = math.NaN(), math.NaN(), math.NaN(), math.NaN()
			for t := range l.RelQ {
				l.RelQ[t].Lo, l.RelQ[t].Hi = math.NaN(), math.NaN()
			}
		}
		p.Locations = append(p.Locations, l)
		p.locReps = append(p.locReps, bs.mean)
	}
	// Eq. 1: per block, the mean over its locations of E[M(A_{u,l,b})].
	for _, b := range sp.BlockChoices() {
		br := BlockResponse{Block: b, Key: b.Key(), Label: b.Label()}
		var idx []int
		n := 0
		for i, l := range p.Locations {
			if l.Block == b {
				idx = append(idx, i)
				n += l.N
			}
		}
		br.Locations = len(idx)
		if len(idx) > 0 {
			v := 0.0
			for _, i := range idx {
				v += p.Locations[i].Mean.Value / float64(len(idx))
			}
			reps := make([]float64, B)
			for r := range B {
				for _, i := range idx {
					reps[r] += p.locReps[i][r] / float64(len(idx))
				}
			}
			lo, hi := percentileCI(reps, opt.Level)
			br.Eq1 = &Estimate{Value: v, Lo: lo, Hi: hi, SE: math.NaN(), N: n}
		}
		p.Blocks = append(p.Blocks, br)
	}
	return p, nil
}

// meanRel averages Eq. 2, and per bootstrap replicate its replicates, over
// the sampled locations that keep selects; ok is false when none does.
func (p *Profile) meanRel(keep func(unit, layer int, b model.Block) bool) (v float64, reps []float64, n int, ok bool) {
	var idx []int
	for i, l := range p.Locations {
		if keep(l.Unit, l.Layer, l.Block) {
			idx = append(idx, i)
			n += l.N
		}
	}
	if len(idx) == 0 {
		return 0, nil, 0, false
	}
	B := len(p.baseReps)
	reps = make([]float64, B)
	for _, i := range idx {
		v += p.Locations[i].Rel.Value / float64(len(idx))
		for r := range B {
			reps[r] += (p.locReps[i][r] - p.baseReps[r]) / float64(len(idx))
		}
	}
	return v, reps, n, true
}

// unitBlock is Eq. 2 averaged over the layers of unit u holding block b.
func (p *Profile) unitBlock(unit int, b model.Block) (v float64, reps []float64, n int, ok bool) {
	return p.meanRel(func(u, _ int, blk model.Block) bool { return u == unit && blk == b })
}

// UnitBlock is Eq. 2 averaged over the layers of unit u (1-based) that hold
// block b, with a bootstrap interval: the paper estimator's per-(unit,
// block) effect.
func (p *Profile) UnitBlock(unit int, b model.Block, level float64) (Estimate, bool) {
	v, reps, n, ok := p.unitBlock(unit, b)
	if !ok {
		return Estimate{}, false
	}
	lo, hi := percentileCI(reps, level)
	return Estimate{Value: v, Lo: lo, Hi: hi, SE: math.NaN(), N: n}, true
}

// UnitBlockDiff is UnitBlock(unit, b) − UnitBlock(unit, ref) with a paired
// bootstrap interval.
func (p *Profile) UnitBlockDiff(unit int, b, ref model.Block, level float64) (Estimate, bool) {
	v1, r1, n1, ok1 := p.unitBlock(unit, b)
	v2, r2, n2, ok2 := p.unitBlock(unit, ref)
	if !ok1 || !ok2 {
		return Estimate{}, false
	}
	lo, hi := diffCI(r1, r2, level)
	return Estimate{Value: v1 - v2, Lo: lo, Hi: hi, SE: math.NaN(), N: n1 + n2}, true
}

// layerSignal is the mean over blocks of Eq. 2 at layer l of unit u.
func (p *Profile) layerSignal(unit, layer int) (v float64, reps []float64, n int, ok bool) {
	return p.meanRel(func(u, l int, _ model.Block) bool { return u == unit && l == layer })
}
