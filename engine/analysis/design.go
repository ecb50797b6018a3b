package analysis

import (
	"fmt"
	"slices"

	"blockprof/model"
)

// design maps architectures (and laws over architectures) to the columns
// of the additive model. Every factor is effect-coded (sum to zero over its
// levels), so each coefficient is a level's effect relative to the mean
// level and the intercept is the mean over a uniform draw.
//
// Per unit u: a block factor counted over the unit's active layers (m_u − 1
// columns), a depth factor (q_u − 1) and, in bottleneck spaces, a width
// factor (one per arch, k_u − 1); bottleneck spaces add the stem's skip and
// two width factors.
type design struct {
	space *model.Space
	units []unitCols
	stem  []factor // bottleneck: skip depth, w0, w1
	p     int
}

type factor struct {
	col    int // first column
	levels int
}

// add adds w times the effect code of level i to x.
func (f factor) add(x []float64, i int, w float64) {
	if f.levels < 2 || w == 0 {
		return
	}
	if i < f.levels-1 {
		x[f.col+i] += w
		return
	}
	for j := 0; j < f.levels-1; j++ {
		x[f.col+j] -= w
	}
}

type unitCols struct {
	blocks []model.Block
	depths []int
	widths []float64
	block  factor
	depth  factor
	width  factor
}

func newDesign(sp *model.Space) *design {
	d := &design{space: sp}
	next := func(levels int) factor {
		f := factor{col: d.p, levels: levels}
		if levels > 1 {
			d.p += levels - 1
		}
		return f
	}
	for _, u := range sp.Units {
		uc := unitCols{blocks: slices.Clone(u.Blocks), depths: slices.Clone(u.Depths)}
		uc.block = next(len(uc.blocks))
		uc.depth = next(len(uc.depths))
		if sp.Family == model.Bottleneck {
			uc.widths = u.Widths()
			uc.width = next(len(uc.widths))
		}
		d.units = append(d.units, uc)
	}
	if sp.Family == model.Bottleneck {
		d.stem = []factor{next(len(sp.Stem.SkipDepths)), next(len(sp.Stem.Ratios)), next(len(sp.Stem.Ratios))}
	}
	return d
}

// row is the feature vector of one architecture.
func (d *design) row(a model.Arch) ([]float64, error) {
	x := make([]float64, d.p)
	if err := d.rowInto(x, a); err != nil {
		return nil, err
	}
	return x, nil
}

// rowInto writes the feature vector of a into x (len d.p, all zero).
func (d *design) rowInto(x []float64, a model.Arch) error {
	if len(a.Units) != len(d.units) {
		return fmt.Errorf("arch %s has %d units, space %s has %d", a, len(a.Units), d.space.Name, len(d.units))
	}
	for i, blocks := range a.Units {
		uc := &d.units[i]
		di := slices.Index(uc.depths, len(blocks))
		if di < 0 {
			return fmt.Errorf("arch %s: unit %d depth %d is not a choice of %s", a, i+1, len(blocks), d.space.Name)
		}
		uc.depth.add(x, di, 1)
		for _, b := range blocks {
			bi := slices.Index(uc.blocks, b)
			if bi < 0 {
				return fmt.Errorf("arch %s: unit %d block %s is not a choice of %s", a, i+1, b.Key(), d.space.Name)
			}
			uc.block.add(x, bi, 1)
		}
		if d.space.Family == model.Bottleneck && len(blocks) > 0 {
			wi := slices.Index(uc.widths, blocks[0].W)
			if wi < 0 {
				return fmt.Errorf("arch %s: unit %d ratio %v is not a choice", a, i+1, blocks[0].W)
			}
			uc.width.add(x, wi, 1)
		}
	}
	if d.space.Family == model.Bottleneck {
		si := slices.Index(d.space.Stem.SkipDepths, a.StemDepth)
		if si < 0 || a.StemW0 < 0 || a.StemW0 >= d.stem[1].levels || a.StemW1 < 0 || a.StemW1 >= d.stem[2].levels {
			return fmt.Errorf("arch %s: stem choices outside %s", a, d.space.Name)
		}
		d.stem[0].add(x, si, 1)
		d.stem[1].add(x, a.StemW0, 1)
		d.stem[2].add(x, a.StemW1, 1)
	}
	return nil
}

// unitLaw is how one unit is drawn: the blocks and depths allowed, and an
// optional fixed block at one layer (Layer ≥ 1) or at every layer
// (whole).
type unitLaw struct {
	blocks []model.Block
	depths []int
	fix    *model.Fix
	whole  bool
	mode   model.FixMode
	// depth, when > 0, pins the depth (for depth effects).
	depth int
}

// addExpected adds w times the expected feature vector of unit u under law
// to x. It follows model.Space.Sample and SampleFixed exactly: the depth is
// uniform over the allowed depths (≥ the fixed layer for FixPaper; raised to
// layer−1 for FixBlockProfile), a bottleneck unit's ratio is uniform (or the
// fixed block's) and each other layer's block uniform among the allowed
// blocks of that ratio.
func (d *design) addExpected(x []float64, u int, law unitLaw, w float64) error {
	uc := &d.units[u]
	type outcome struct {
		depth int
		p     float64
	}
	var outs []outcome
	switch {
	case law.depth > 0:
		outs = []outcome{{law.depth, 1}}
	case law.fix != nil && !law.whole && law.mode == model.FixBlockProfile:
		for _, dd := range law.depths {
			if dd < law.fix.Layer-1 {
				dd = law.fix.Layer - 1
			}
			outs = append(outs, outcome{dd, 1 / float64(len(law.depths))})
		}
	case law.fix != nil && !law.whole:
		var ok []int
		for _, dd := range law.depths {
			if dd >= law.fix.Layer {
				ok = append(ok, dd)
			}
		}
		if len(ok) == 0 {
			return fmt.Errorf("unit %d has no depth ≥ layer %d", u+1, law.fix.Layer)
		}
		for _, dd := range ok {
			outs = append(outs, outcome{dd, 1 / float64(len(ok))})
		}
	default:
		for _, dd := range law.depths {
			outs = append(outs, outcome{dd, 1 / float64(len(law.depths))})
		}
	}
	// Ratio law (bottleneck) and, per ratio, the uniform block law.
	type ratio struct {
		w      float64
		p      float64
		blocks []model.Block
	}
	var ratios []ratio
	if d.space.Family == model.Bottleneck {
		var ws []float64
		for _, b := range law.blocks {
			if !slices.Contains(ws, b.W) {
				ws = append(ws, b.W)
			}
		}
		if law.fix != nil {
			if law.fix.Block.W != 0 {
				ws = []float64{law.fix.Block.W}
			} else { // only the expansion is fixed: ratios that offer it
				ws = slices.DeleteFunc(ws, func(r float64) bool {
					return !slices.Contains(law.blocks, model.Block{K: law.fix.Block.K, W: r, E: law.fix.Block.E})
				})
			}
		}
		for _, r := range ws {
			var bs []model.Block
			for _, b := range law.blocks {
				if b.W == r {
					bs = append(bs, b)
				}
			}
			ratios = append(ratios, ratio{r, 1 / float64(len(ws)), bs})
		}
	} else {
		ratios = []ratio{{0, 1, law.blocks}}
	}
	if len(ratios) == 0 {
		return fmt.Errorf("unit %d: the fixed block %s is not allowed", u+1, law.fix.Block.Key())
	}
	blockIdx := func(b model.Block) (int, error) {
		i := slices.Index(uc.blocks, b)
		if i < 0 {
			return 0, fmt.Errorf("unit %d: block %s is not a choice of the fitted space %s", u+1, b.Key(), d.space.Name)
		}
		return i, nil
	}
	for _, o := range outs {
		di := slices.Index(uc.depths, o.depth)
		if di < 0 {
			return fmt.Errorf("unit %d: depth %d is not a choice of the fitted space %s", u+1, o.depth, d.space.Name)
		}
		uc.depth.add(x, di, w*o.p)
		for _, r := range ratios {
			pw := w * o.p * r.p
			if d.space.Family == model.Bottleneck {
				wi := slices.Index(uc.widths, r.w)
				if wi < 0 {
					return fmt.Errorf("unit %d: ratio %v is not a choice of the fitted space", u+1, r.w)
				}
				uc.width.add(x, wi, pw)
			}
			fixed := model.Block{}
			if law.fix != nil {
				fixed = law.fix.Block
				if fixed.W == 0 && d.space.Family == model.Bottleneck {
					fixed.W = r.w
				}
			}
			for l := 1; l <= o.depth; l++ {
				if law.fix != nil && (law.whole || l == law.fix.Layer) {
					bi, err := blockIdx(fixed)
					if err != nil {
						return err
					}
					uc.block.add(x, bi, pw)
					continue
				}
				if len(r.blocks) == 0 {
					return fmt.Errorf("unit %d allows no block", u+1)
				}
				for _, b := range r.blocks {
					bi, err := blockIdx(b)
					if err != nil {
						return err
					}
					uc.block.add(x, bi, pw/float64(len(r.blocks)))
				}
			}
		}
	}
	return nil
}

// uniformLaw is unit u's law in space sp (the fitted space or a reduced one).
func uniformLaw(sp *model.Space, u int) unitLaw {
	return unitLaw{blocks: sp.Units[u].Blocks, depths: sp.Units[u].Depths}
}
