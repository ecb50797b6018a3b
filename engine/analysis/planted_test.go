package analysis

import (
	"math"
	"testing"

	"blockprof/model"
	"blockprof/model/modeltest"
)

func spaces(t testing.TB) *model.Spaces {
	t.Helper()
	return modeltest.Spaces(t)
}

func space(t testing.TB, name string) *model.Space {
	t.Helper()
	sp, err := spaces(t).Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// planted is a synthetic additive metric with known per-(unit, block)
// costs, per-(unit, depth) terms, per-(unit, ratio) terms (bottleneck) and
// Gaussian noise.
type planted struct {
	sp    *model.Space
	base  float64
	cost  []map[model.Block]float64 // per unit
	depth []map[int]float64
	width []map[float64]float64
	noise float64
}

func newPlanted(sp *model.Space, seed uint64, costScale, noise float64) *planted {
	rng := model.NewRand(seed)
	p := &planted{sp: sp, base: 20, noise: noise}
	for _, u := range sp.Units {
		c := map[model.Block]float64{}
		for _, b := range u.Blocks {
			c[b] = costScale * rng.Float64()
		}
		d := map[int]float64{}
		for _, dd := range u.Depths {
			d[dd] = costScale * rng.Float64()
		}
		w := map[float64]float64{}
		for _, r := range u.Widths() {
			w[r] = costScale * rng.Float64()
		}
		p.cost, p.depth, p.width = append(p.cost, c), append(p.depth, d), append(p.width, w)
	}
	return p
}

func (p *planted) value(a model.Arch) float64 {
	v := p.base
	for i, blocks := range a.Units {
		v += p.depth[i][len(blocks)]
		for _, b := range blocks {
			v += p.cost[i][b]
		}
		if p.sp.Family == model.Bottleneck {
			v += p.width[i][blocks[0].W]
		}
	}
	return v
}

// trueRel is c(u, b) − mean_b' c(u, b'): the planted per-(unit, block)
// effect (MBConv spaces).
func (p *planted) trueRel(u int, b model.Block) float64 {
	m := 0.0
	for _, c := range p.cost[u] {
		m += c / float64(len(p.cost[u]))
	}
	return p.cost[u][b] - m
}

func (p *planted) observe(items []model.PlanItem, seed uint64) []Obs {
	rng := model.NewRand(seed)
	out := make([]Obs, len(items))
	for i, it := range items {
		out[i] = Obs{Arch: it.Arch, Fix: it.Fix, Value: p.value(it.Arch) + p.noise*rng.NormFloat64()}
	}
	return out
}

func plan(t testing.TB, sp *model.Space, uniform, perLoc int, seed uint64, mode model.FixMode) []model.PlanItem {
	t.Helper()
	items, err := sp.Plan(model.PlanSpec{Uniform: uniform, PerLocation: perLoc, Seed: seed, Mode: mode})
	if err != nil {
		t.Fatal(err)
	}
	return items
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }
