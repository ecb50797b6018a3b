package predict

import (
	"fmt"
	"slices"

	"blockprof/model"
)

// Column kinds of the additive design.
const (
	colCount = "count" // layers of unit u holding block b
	colDepth = "depth" // unit u has depth d (interior depths only)
	colStem  = "stem"  // bottleneck stem choice
	colRes   = "res"   // input resolution
)

type column struct {
	Kind  string
	Unit  int // 0-based
	Block model.Block
	Depth int
	Name  string
}

// additiveDesign is the design matrix of the additive model
//
//	metric ≈ base + Σ_layers cost(u, b) + Σ_u depth(u, d) [+ stem + resolution]
//
// Columns: for every unit u and block b of u, the count of u's layers that
// hold b; for every unit, a 0/1 column per interior depth (neither the
// unit's smallest nor its largest depth); for bottleneck spaces one 0/1
// column per non-first stem depth, stem ratio w0 and stem ratio w1; one 0/1
// column per non-first resolution of the space.
//
// Why interior depths only: Σ_b count(u, b) is the unit's depth, so counts
// already carry a cost linear in depth, and an intercept plus one-hots of
// all depths would make the per-layer costs identifiable only up to a
// per-unit constant. Dropping the smallest and the largest depth makes
// cost(u, b) the full cost of one layer of b in u (overhead included) and
// depth(u, d) the departure from linearity at interior depths. A unit with
// a single allowed depth has no such anchor; ridge then splits the shared
// cost between the base and the blocks.
type additiveDesign struct {
	cols     []column
	countCol [][]int       // [unit][index in Units[u].Blocks]
	depthCol []map[int]int // [unit] depth → column
	stemD    map[int]int   // stem depth → column
	stemW0   map[int]int   // stem ratio index → column
	stemW1   map[int]int
	resCol   map[int]int
	units    []model.Unit
}

func newAdditiveDesign(sp *model.Space) *additiveDesign {
	d := &additiveDesign{stemD: map[int]int{}, stemW0: map[int]int{}, stemW1: map[int]int{}, resCol: map[int]int{}, units: sp.Units}
	add := func(c column) int {
		d.cols = append(d.cols, c)
		return len(d.cols) - 1
	}
	for u, unit := range sp.Units {
		cc := make([]int, len(unit.Blocks))
		for i, b := range unit.Blocks {
			cc[i] = add(column{Kind: colCount, Unit: u, Block: b, Name: fmt.Sprintf("u%d.%s", u+1, b.Key())})
		}
		d.countCol = append(d.countCol, cc)
		dc := map[int]int{}
		for _, dep := range unit.Depths {
			if dep == unit.MinDepth() || dep == unit.MaxDepth() {
				continue
			}
			dc[dep] = add(column{Kind: colDepth, Unit: u, Depth: dep, Name: fmt.Sprintf("u%d.d%d", u+1, dep)})
		}
		d.depthCol = append(d.depthCol, dc)
	}
	if sp.Family == model.Bottleneck {
		for i, v := range sp.Stem.SkipDepths {
			if i > 0 {
				d.stemD[v] = add(column{Kind: colStem, Name: fmt.Sprintf("stem.d%d", v)})
			}
		}
		for i := range sp.Stem.Ratios {
			if i > 0 {
				d.stemW0[i] = add(column{Kind: colStem, Name: fmt.Sprintf("stem.w0=%d", i)})
				d.stemW1[i] = add(column{Kind: colStem, Name: fmt.Sprintf("stem.w1=%d", i)})
			}
		}
	}
	rs := slices.Clone(sp.Resolutions)
	slices.Sort(rs)
	for i, r := range rs {
		if i > 0 {
			d.resCol[r] = add(column{Kind: colRes, Depth: r, Name: fmt.Sprintf("r%d", r)})
		}
	}
	return d
}

func (d *additiveDesign) row(a model.Arch) []float64 {
	x := make([]float64, len(d.cols))
	for u, blocks := range a.Units {
		if u >= len(d.units) {
			break
		}
		for _, b := range blocks {
			if i := slices.Index(d.units[u].Blocks, b); i >= 0 {
				x[d.countCol[u][i]]++
			}
		}
		if c, ok := d.depthCol[u][len(blocks)]; ok {
			x[c] = 1
		}
	}
	if c, ok := d.stemD[a.StemDepth]; ok {
		x[c] = 1
	}
	if c, ok := d.stemW0[a.StemW0]; ok {
		x[c] = 1
	}
	if c, ok := d.stemW1[a.StemW1]; ok {
		x[c] = 1
	}
	if c, ok := d.resCol[a.Resolution]; ok {
		x[c] = 1
	}
	return x
}

func (d *additiveDesign) matrix(archs []model.Arch) [][]float64 {
	x := make([][]float64, len(archs))
	for i, a := range archs {
		x[i] = d.row(a)
	}
	return x
}
