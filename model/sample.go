package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// NewRand returns the deterministic generator every sampler uses for a seed.
func NewRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x626c6f636b70726f)) // "blockpro"
}

// Sample draws a uniform architecture A (paper §2): each unit's depth is
// uniform over its depth choices and each layer's block uniform over the
// unit's blocks (bottleneck units: the channel ratio is drawn once per unit,
// then each layer's expansion among the blocks with that ratio).
func (s *Space) Sample(rng *rand.Rand, r int) Arch {
	a := Arch{Space: s.Name, Resolution: r}
	if s.Family == Bottleneck {
		a.StemDepth = s.Stem.SkipDepths[rng.IntN(len(s.Stem.SkipDepths))]
		a.StemW0 = rng.IntN(len(s.Stem.Ratios))
		a.StemW1 = rng.IntN(len(s.Stem.Ratios))
	}
	a.Units = make([][]Block, len(s.Units))
	for i, u := range s.Units {
		d := u.Depths[rng.IntN(len(u.Depths))]
		a.Units[i] = s.sampleLayers(rng, i, d, nil, -1)
	}
	return a
}

// sampleLayers draws d blocks for unit i; if fixed is non-nil it is placed at
// layer index at (0-based) and, for bottleneck units, sets the unit's ratio.
func (s *Space) sampleLayers(rng *rand.Rand, i, d int, fixed *Block, at int) []Block {
	u := s.Units[i]
	choices := u.Blocks
	if s.Family == Bottleneck {
		ws := u.Widths()
		w := ws[rng.IntN(len(ws))]
		if fixed != nil {
			w = fixed.W
		}
		choices = nil
		for _, b := range u.Blocks {
			if b.W == w {
				choices = append(choices, b)
			}
		}
	}
	out := make([]Block, d)
	for j := range out {
		out[j] = choices[rng.IntN(len(choices))]
	}
	if fixed != nil && at >= 0 && at < d {
		out[at] = *fixed
	}
	return out
}

// FixMode picks how A_{u,l,b} makes room for the fixed block.
type FixMode int

const (
	// FixPaper follows the paper's text: unit u's depth is drawn uniformly
	// from its depth choices ≥ l, so the fixed block is always active.
	FixPaper FixMode = iota
	// FixBlockProfile reproduces the official BlockProfile code: the depth
	// is drawn from all choices and raised to l-1 (its 0-based index) if
	// smaller, so with a depth of l-1 the fixed block is inactive.
	FixBlockProfile
)

// Fix names a block fixed at a location: Unit and Layer are 1-based.
type Fix struct {
	Unit  int   `json:"unit"`
	Layer int   `json:"layer"`
	Block Block `json:"-"`
}

func (f Fix) String() string { return fmt.Sprintf("u%d.l%d=%s", f.Unit, f.Layer, f.Block.Key()) }

// CheckFix reports whether the fix names a location and block of the space.
func (s *Space) CheckFix(f Fix) error {
	if f.Unit < 1 || f.Unit > len(s.Units) {
		return fmt.Errorf("fix %s: unit %d outside 1..%d", f, f.Unit, len(s.Units))
	}
	u := s.Units[f.Unit-1]
	if f.Layer < 1 || f.Layer > u.MaxDepth() {
		return fmt.Errorf("fix %s: layer %d outside 1..%d of unit %d", f, f.Layer, u.MaxDepth(), f.Unit)
	}
	if !u.Allows(f.Block) {
		return fmt.Errorf("fix %s: block %s not allowed in unit %d (allowed: %s)", f, f.Block.Key(), f.Unit, blockKeys(u.Blocks))
	}
	return nil
}

// SampleFixed draws A_{u,l,b}: block f.Block at layer f.Layer of unit
// f.Unit, everything else uniform (see FixMode for the depth of unit u).
func (s *Space) SampleFixed(rng *rand.Rand, r int, f Fix, mode FixMode) (Arch, error) {
	if err := s.CheckFix(f); err != nil {
		return Arch{}, err
	}
	a := s.Sample(rng, r)
	i, at := f.Unit-1, f.Layer-1
	u := s.Units[i]
	var d int
	switch mode {
	case FixBlockProfile:
		d = u.Depths[rng.IntN(len(u.Depths))]
		if d < at {
			d = at
		}
	default:
		var ok []int
		for _, x := range u.Depths {
			if x >= f.Layer {
				ok = append(ok, x)
			}
		}
		d = ok[rng.IntN(len(ok))]
	}
	fixed := f.Block
	a.Units[i] = s.sampleLayers(rng, i, d, &fixed, at)
	return a, nil
}

// Active reports whether the fix's block is really at its location in a.
func (f Fix) Active(a Arch) bool {
	i, at := f.Unit-1, f.Layer-1
	return i < len(a.Units) && at < len(a.Units[i]) && a.Units[i][at] == f.Block
}

// UnitFix reads the "fixed" entry of a recorded line (the format of the
// project's shared data, shared/data/README.md): nil is a uniform arch,
// [unit, k, e] (MBConv) or [unit, e] (bottleneck), unit 0-based, says every
// layer of that unit holds the block. It returns the whole-unit fix (Layer
// 0; in a bottleneck space a Block with W 0 fixes only the expansion) after
// checking that every layer of a's unit holds it.
func (s *Space) UnitFix(a Arch, fixed []float64) (*Fix, error) {
	if fixed == nil {
		return nil, nil
	}
	want := 3
	if s.Family == Bottleneck {
		want = 2
	}
	if len(fixed) != want {
		return nil, fmt.Errorf("fixed %v: want [unit, k, e] (MBConv) or [unit, e] (bottleneck), unit 0-based", fixed)
	}
	u := int(fixed[0])
	if float64(u) != fixed[0] || u < 0 || u >= len(s.Units) || u >= len(a.Units) {
		return nil, fmt.Errorf("fixed %v: unit %v outside 0..%d", fixed, fixed[0], len(s.Units)-1)
	}
	var b Block
	if s.Family == Bottleneck {
		b = Block{K: 3, E: fixed[1]}
	} else {
		k := int(fixed[1])
		if float64(k) != fixed[1] {
			return nil, fmt.Errorf("fixed %v: kernel %v is not an integer", fixed, fixed[1])
		}
		b = Block{K: k, E: fixed[2]}
	}
	for j, got := range a.Units[u] {
		if got.K != b.K || got.E != b.E {
			return nil, fmt.Errorf("fixed %v says every layer of unit %d holds it, but layer %d holds %s", fixed, u+1, j+1, got.Key())
		}
	}
	return &Fix{Unit: u + 1, Layer: 0, Block: b}, nil
}

// Locations lists every (unit, layer, block) of the space in order: unit,
// then layer, then block in BlockChoices order.
func (s *Space) Locations() []Fix {
	var out []Fix
	order := s.BlockChoices()
	for i, u := range s.Units {
		for l := 1; l <= u.MaxDepth(); l++ {
			for _, b := range order {
				if u.Allows(b) {
					out = append(out, Fix{Unit: i + 1, Layer: l, Block: b})
				}
			}
		}
	}
	return out
}

// PlanSpec says what a profiling plan holds.
type PlanSpec struct {
	// Uniform is the number of uniform architectures (the baseline A).
	Uniform int
	// PerLocation is the number of A_{u,l,b} per (unit, layer, block).
	PerLocation int
	Resolution  int
	Seed        uint64
	Mode        FixMode
}

// PlanItem is one architecture of a plan with why it is there.
type PlanItem struct {
	Arch Arch
	// Fix is set for an A_{u,l,b} item.
	Fix *Fix
}

// MaxPlanArchs bounds a plan's architectures (uniform plus per_location
// per location): 11 times the paper's largest plan (18,000), and a
// plan's archs fit in a few hundred MB.
const MaxPlanArchs = 200_000

// PlanSize is the number of architectures Plan draws for p: Uniform plus
// PerLocation per location. It saturates at math.MaxInt64 instead of
// overflowing.
func (s *Space) PlanSize(p PlanSpec) int64 {
	locs := int64(len(s.Locations()))
	u, per := int64(p.Uniform), int64(p.PerLocation)
	if u < 0 || per < 0 {
		return -1
	}
	if locs > 0 && per > (math.MaxInt64-u)/locs {
		return math.MaxInt64
	}
	return u + per*locs
}

// CheckPlanSize refuses a plan with negative sizes or more than
// MaxPlanArchs architectures.
func (s *Space) CheckPlanSize(p PlanSpec) error {
	if p.Uniform < 0 || p.PerLocation < 0 {
		return fmt.Errorf("plan: negative sizes uniform=%d per-location=%d", p.Uniform, p.PerLocation)
	}
	if n := s.PlanSize(p); n > MaxPlanArchs {
		return fmt.Errorf("plan: uniform %d + per_location %d × %d locations of %s = %d architectures; at most %d", p.Uniform, p.PerLocation, len(s.Locations()), s.Name, n, MaxPlanArchs)
	}
	return nil
}

// Plan draws the plan's architectures deterministically: first the uniform
// ones, then PerLocation per location in Locations order. Each part uses its
// own stream so that growing one part keeps the other's architectures.
func (s *Space) Plan(p PlanSpec) ([]PlanItem, error) {
	if p.Resolution == 0 {
		p.Resolution = s.Resolution
	}
	if !slices.Contains(s.Resolutions, p.Resolution) {
		return nil, fmt.Errorf("plan: resolution %d not allowed in %s (allowed %v)", p.Resolution, s.Name, s.Resolutions)
	}
	if err := s.CheckPlanSize(p); err != nil {
		return nil, err
	}
	var out []PlanItem
	rng := NewRand(p.Seed)
	for range p.Uniform {
		out = append(out, PlanItem{Arch: s.Sample(rng, p.Resolution)})
	}
	for k, f := range s.Locations() {
		frng := NewRand(p.Seed ^ (uint64(k+1) * 0x9e3779b97f4a7c15))
		for range p.PerLocation {
			a, err := s.SampleFixed(frng, p.Resolution, f, p.Mode)
			if err != nil {
				return nil, err
			}
			fc := f
			out = append(out, PlanItem{Arch: a, Fix: &fc})
		}
	}
	return out, nil
}
