// Package model holds blockprof's search spaces, architectures, networks and
// sampling plans. It knows nothing about devices, the engine or the UI.
//
// Vocabulary (paper §1): a space is a stem, a body of units (stages) and a
// head. Unit u has d_u layers, chosen from the unit's depth choices, and every
// layer holds one block: an MBConv with expansion e and kernel k for the
// MobileNet spaces, a bottleneck with unit channel ratio c and layer expansion
// ratio b for ResNet50.
package model

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
)

// Family says how a space builds its layers.
type Family string

const (
	// MBConv spaces (OFA-MobileNetV3, OFA-ProxylessNAS): inverted residual
	// blocks with a kernel size and an expansion ratio per layer.
	MBConv Family = "mbconv"
	// Bottleneck spaces (OFA-ResNet50): residual bottlenecks with a unit
	// channel ratio per unit and an expansion ratio per layer.
	Bottleneck Family = "bottleneck"
)

// Block is the choice made at one layer.
//
// For MBConv spaces K is the depthwise kernel and E the expansion ratio
// (3, 4 or 6); W is zero. For bottleneck spaces W is the unit channel ratio
// (0.65, 0.8, 1.0), E the layer expansion ratio (0.2, 0.25, 0.35) and K is 3.
type Block struct {
	K int
	E float64
	W float64
}

// Key is the short stable name used in JSON, CSV and TOML: "e6k7" for
// MBConv6-7, "c100b35" for the ResNet block C100-B35.
func (b Block) Key() string {
	if b.W != 0 {
		return fmt.Sprintf("c%db%d", pct(b.W), pct(b.E))
	}
	return fmt.Sprintf("e%sk%d", trimFloat(b.E), b.K)
}

// Label is the paper's name: "MBConv6-7" or "C100-B35".
func (b Block) Label() string {
	if b.W != 0 {
		return fmt.Sprintf("C%d-B%d", pct(b.W), pct(b.E))
	}
	return fmt.Sprintf("MBConv%s-%d", trimFloat(b.E), b.K)
}

// Code is the paper's Table 1 code (B1..B9) for the nine MBConv blocks of the
// OFA spaces, or the Label for anything else.
func (b Block) Code() string {
	if b.W == 0 {
		ei := slices.Index([]float64{3, 4, 6}, b.E)
		ki := slices.Index([]int{3, 5, 7}, b.K)
		if ei >= 0 && ki >= 0 {
			return fmt.Sprintf("B%d", ei*3+ki+1)
		}
	}
	return b.Label()
}

func (b Block) String() string { return b.Key() }

func pct(x float64) int { return int(x*100 + 0.5) }

func trimFloat(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

// ParseBlock reads a block key ("e6k7", "c100b35"), a paper label
// ("MBConv6-7", "C100-B35") or a Table 1 code ("B9").
func ParseBlock(s string) (Block, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	bad := func() (Block, error) {
		return Block{}, fmt.Errorf("block %q: want a key like e6k7 or c100b35, a label like MBConv6-7 or C100-B35, or a code B1..B9", s)
	}
	switch {
	case strings.HasPrefix(t, "mbconv"):
		e, k, ok := strings.Cut(t[len("mbconv"):], "-")
		if !ok {
			return bad()
		}
		ev, err1 := strconv.ParseFloat(e, 64)
		kv, err2 := strconv.Atoi(k)
		if err1 != nil || err2 != nil || ev <= 0 || kv <= 0 {
			return bad()
		}
		return Block{K: kv, E: ev}, nil
	case len(t) == 2 && t[0] == 'b' && t[1] >= '1' && t[1] <= '9':
		i := int(t[1] - '1')
		return Block{K: []int{3, 5, 7}[i%3], E: []float64{3, 4, 6}[i/3]}, nil
	case strings.HasPrefix(t, "e"):
		e, k, ok := strings.Cut(t[1:], "k")
		if !ok {
			return bad()
		}
		ev, err1 := strconv.ParseFloat(e, 64)
		kv, err2 := strconv.Atoi(k)
		if err1 != nil || err2 != nil || ev <= 0 || kv <= 0 {
			return bad()
		}
		return Block{K: kv, E: ev}, nil
	case strings.HasPrefix(t, "c"):
		c, b, ok := strings.Cut(t[1:], "b")
		if !ok {
			c, b, ok = strings.Cut(t[1:], "-b")
		}
		c = strings.TrimSuffix(c, "-")
		if !ok {
			return bad()
		}
		cv, err1 := strconv.Atoi(c)
		bv, err2 := strconv.Atoi(b)
		if err1 != nil || err2 != nil || cv <= 0 || bv <= 0 {
			return bad()
		}
		return Block{K: 3, W: float64(cv) / 100, E: float64(bv) / 100}, nil
	}
	return bad()
}

// Unit is one stage of the body.
type Unit struct {
	// Width is the base output channel count before the width multiplier
	// (MBConv) or the maximum channel count before the unit ratio (bottleneck).
	Width int
	// Stride of the unit's first layer.
	Stride int
	// Act is the activation: "relu", "relu6" or "h_swish".
	Act string
	// SE says whether MBConv layers carry squeeze-and-excite (ratio 1/4).
	SE bool
	// Depths are the allowed layer counts, ascending.
	Depths []int
	// Blocks are the allowed blocks, in a stable order.
	Blocks []Block
	// Slots is the number of layer slots in the OFA encoding (the parent
	// space's maximum depth); a reduced space keeps its parent's slots.
	Slots int
	// BaseDepth is the depth that the OFA bottleneck encoding's d counts
	// from (the parent space's minimum depth).
	BaseDepth int
	// MutationProb is an optional per-unit mutation probability for search
	// (paper §5.1, OFA-NPU); 0 means the search default.
	MutationProb float64
}

// MaxDepth is the largest allowed depth.
func (u Unit) MaxDepth() int { return u.Depths[len(u.Depths)-1] }

// MinDepth is the smallest allowed depth.
func (u Unit) MinDepth() int { return u.Depths[0] }

// Allows reports whether b is one of the unit's blocks.
func (u Unit) Allows(b Block) bool { return slices.Contains(u.Blocks, b) }

// Widths lists the distinct channel ratios of a bottleneck unit's blocks.
func (u Unit) Widths() []float64 {
	var ws []float64
	for _, b := range u.Blocks {
		if !slices.Contains(ws, b.W) {
			ws = append(ws, b.W)
		}
	}
	return ws
}

// Stem describes the layers before the body.
type Stem struct {
	// Width is the stem conv's base output channels (MBConv) or the maximum
	// input-stem width before the ratio (bottleneck).
	Width  int
	Stride int
	Act    string
	// FirstBlock is the base width of the fixed MBConv e1-k3 block after the
	// stem conv (MBConv spaces), 0 if none.
	FirstBlock    int
	FirstBlockAct string
	// Ratios are the channel ratios of the input stem (bottleneck spaces).
	Ratios []float64
	// SkipDepths are the allowed values of the stem depth d[0] (bottleneck
	// spaces: 0 skips the stem's residual conv, 2 keeps it).
	SkipDepths []int
}

// HeadLayer is one layer after the body.
type HeadLayer struct {
	// Kind is "conv" (1×1), "gap" (global average pool) or "linear".
	Kind  string
	Width int
	BN    bool
	Bias  bool
	Act   string
}

// Space is a search space: the parent spaces from config.toml, or a reduced
// space derived from one (Reduction non-nil).
type Space struct {
	Name        string
	Family      Family
	WidthMult   float64
	Resolutions []int
	// Resolution is the default input resolution.
	Resolution int
	Classes    int
	Stem       Stem
	Units      []Unit
	Head       []HeadLayer
	// Description is free text from the config.
	Description string
	// Accuracy is the space's accuracy source; the engine interprets it.
	Accuracy AccuracyRef
	// Reduced names the reduced-space file or label this space came from; empty
	// for a parent space.
	Reduced string
}

// Width applies the space's width multiplier with OFA's make_divisible.
func (s *Space) Width(base int) int {
	return MakeDivisible(float64(base)*s.WidthMult, 8)
}

// MakeDivisible is Once-for-All's make_divisible(v, divisor): round v to the
// nearest multiple of divisor, never below divisor and never more than 10%
// below v.
func MakeDivisible(v float64, divisor int) int {
	d := float64(divisor)
	nv := float64(int(v+d/2)) / d
	n := int(nv) * divisor
	if n < divisor {
		n = divisor
	}
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// Slots is the total number of layer slots of the OFA encoding.
func (s *Space) Slots() int {
	n := 0
	for _, u := range s.Units {
		n += u.Slots
	}
	return n
}

// BlockChoices lists every distinct block of the space in the paper's figure
// order (rows expansion descending, columns kernel ascending for MBConv; rows
// channel ratio descending, columns expansion ascending for bottleneck).
func (s *Space) BlockChoices() []Block {
	var all []Block
	for _, u := range s.Units {
		for _, b := range u.Blocks {
			if !slices.Contains(all, b) {
				all = append(all, b)
			}
		}
	}
	slices.SortFunc(all, func(a, b Block) int {
		if a.W != b.W {
			return cmpF(b.W, a.W)
		}
		if a.E != b.E {
			if s.Family == Bottleneck {
				return cmpF(a.E, b.E)
			}
			return cmpF(b.E, a.E)
		}
		return a.K - b.K
	})
	return all
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Size is the number of distinct architectures at one resolution.
func (s *Space) Size() *big.Int {
	total := big.NewInt(1)
	if s.Family == Bottleneck {
		total.SetInt64(int64(len(s.Stem.SkipDepths) * len(s.Stem.Ratios) * len(s.Stem.Ratios)))
	}
	for _, u := range s.Units {
		sum := new(big.Int)
		if s.Family == Bottleneck {
			for _, w := range u.Widths() {
				n := int64(0)
				for _, b := range u.Blocks {
					if b.W == w {
						n++
					}
				}
				for _, d := range u.Depths {
					sum.Add(sum, new(big.Int).Exp(big.NewInt(n), big.NewInt(int64(d)), nil))
				}
			}
		} else {
			for _, d := range u.Depths {
				sum.Add(sum, new(big.Int).Exp(big.NewInt(int64(len(u.Blocks))), big.NewInt(int64(d)), nil))
			}
		}
		total.Mul(total, sum)
	}
	return total
}

// UnitWidth is the output channel count of unit u (0-based) for a bottleneck
// ratio w, or the scaled width for MBConv spaces.
func (s *Space) UnitWidth(u int, w float64) int {
	if s.Family == Bottleneck {
		return MakeDivisible(float64(s.Units[u].Width)*w, 8)
	}
	return s.Width(s.Units[u].Width)
}

// Validate checks the space's internal consistency.
func (s *Space) Validate() error {
	if s.Name == "" {
		return fmt.Errorf("space has no name")
	}
	where := "space " + s.Name
	if s.Family != MBConv && s.Family != Bottleneck {
		return fmt.Errorf("%s: family %q: want %q or %q", where, s.Family, MBConv, Bottleneck)
	}
	if s.WidthMult <= 0 {
		return fmt.Errorf("%s: width_mult %v must be positive", where, s.WidthMult)
	}
	if len(s.Resolutions) == 0 {
		return fmt.Errorf("%s: resolutions is empty", where)
	}
	for _, r := range s.Resolutions {
		if r < 32 || r > 1024 {
			return fmt.Errorf("%s: resolution %d outside 32..1024", where, r)
		}
	}
	if !slices.Contains(s.Resolutions, s.Resolution) {
		return fmt.Errorf("%s: default resolution %d is not among resolutions %v", where, s.Resolution, s.Resolutions)
	}
	if s.Classes <= 0 {
		return fmt.Errorf("%s: classes %d must be positive", where, s.Classes)
	}
	if s.Stem.Width <= 0 || s.Stem.Stride <= 0 {
		return fmt.Errorf("%s: stem width and stride must be positive", where)
	}
	if s.Family == Bottleneck {
		if len(s.Stem.Ratios) == 0 || len(s.Stem.SkipDepths) == 0 {
			return fmt.Errorf("%s: a bottleneck stem needs ratios and skip_depths", where)
		}
	}
	if len(s.Units) == 0 {
		return fmt.Errorf("%s: no units", where)
	}
	for i, u := range s.Units {
		uw := fmt.Sprintf("%s unit %d", where, i+1)
		if u.Width <= 0 {
			return fmt.Errorf("%s: width %d must be positive", uw, u.Width)
		}
		if u.Stride != 1 && u.Stride != 2 {
			return fmt.Errorf("%s: stride %d must be 1 or 2", uw, u.Stride)
		}
		if !validAct(u.Act) {
			return fmt.Errorf("%s: activation %q: want relu, relu6 or h_swish", uw, u.Act)
		}
		if len(u.Depths) == 0 {
			return fmt.Errorf("%s: no depth choices", uw)
		}
		for j, d := range u.Depths {
			if d < 1 || (j > 0 && d <= u.Depths[j-1]) {
				return fmt.Errorf("%s: depths %v must be positive and strictly ascending", uw, u.Depths)
			}
		}
		if u.Slots < u.MaxDepth() {
			return fmt.Errorf("%s: %d slots cannot hold depth %d", uw, u.Slots, u.MaxDepth())
		}
		if len(u.Blocks) == 0 {
			return fmt.Errorf("%s: no block choices", uw)
		}
		for _, b := range u.Blocks {
			if (s.Family == Bottleneck) != (b.W != 0) {
				return fmt.Errorf("%s: block %s does not belong to a %s space", uw, b.Key(), s.Family)
			}
			if b.K < 1 || b.K%2 == 0 || b.E <= 0 {
				return fmt.Errorf("%s: block %s: kernel must be odd and expansion positive", uw, b.Key())
			}
		}
		if u.MutationProb < 0 || u.MutationProb > 1 {
			return fmt.Errorf("%s: mutation probability %v outside [0,1]", uw, u.MutationProb)
		}
	}
	for i, h := range s.Head {
		switch h.Kind {
		case "conv", "linear":
			if h.Width <= 0 {
				return fmt.Errorf("%s head layer %d: width must be positive", where, i+1)
			}
		case "gap":
		default:
			return fmt.Errorf("%s head layer %d: kind %q: want conv, gap or linear", where, i+1, h.Kind)
		}
		if h.Act != "" && h.Act != "none" && !validAct(h.Act) {
			return fmt.Errorf("%s head layer %d: activation %q: want relu, relu6, h_swish or none", where, i+1, h.Act)
		}
	}
	if len(s.Head) == 0 || s.Head[len(s.Head)-1].Kind != "linear" {
		return fmt.Errorf("%s: the head must end with a linear classifier", where)
	}
	return nil
}

func validAct(a string) bool { return a == "relu" || a == "relu6" || a == "h_swish" }

// Clone returns a deep copy.
func (s *Space) Clone() *Space {
	c := *s
	c.Resolutions = slices.Clone(s.Resolutions)
	c.Stem.Ratios = slices.Clone(s.Stem.Ratios)
	c.Stem.SkipDepths = slices.Clone(s.Stem.SkipDepths)
	c.Head = slices.Clone(s.Head)
	c.Units = make([]Unit, len(s.Units))
	for i, u := range s.Units {
		u.Depths = slices.Clone(u.Depths)
		u.Blocks = slices.Clone(u.Blocks)
		c.Units[i] = u
	}
	return &c
}

// Compatible reports whether other has the same units, slots and block
// choices, so that a reduction or an architecture of one applies to the
// other (e.g. ofa-mbv3 and ofa-mbv3-w1.0).
func (s *Space) Compatible(other *Space) bool {
	if s.Family != other.Family || len(s.Units) != len(other.Units) {
		return false
	}
	for i := range s.Units {
		a, b := s.Units[i], other.Units[i]
		if a.Slots != b.Slots {
			return false
		}
	}
	return true
}
