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

// Validate checks the space's internal consistency and that every number
// lies within its bound (bounds.go). Errors are *FieldError with the key
// path relative to the space's table (e.g. units[2].depths).
func (s *Space) Validate() error {
	if s.Name == "" {
		return fmt.Errorf("space has no name")
	}
	if s.Family != MBConv && s.Family != Bottleneck {
		return fieldErr(fmt.Errorf("%q: want %q or %q", s.Family, MBConv, Bottleneck), "family")
	}
	if err := inRangeF(s.WidthMult, 0, MaxWidthMult, true, "width multiplier"); err != nil {
		return fieldErr(err, "width_mult")
	}
	if len(s.Resolutions) == 0 {
		return fieldErr(fmt.Errorf("empty; list the input resolutions, e.g. [224]"), "resolutions")
	}
	if len(s.Resolutions) > MaxResolutions {
		return fieldErr(fmt.Errorf("%d resolutions; at most %d", len(s.Resolutions), MaxResolutions), "resolutions")
	}
	for _, r := range s.Resolutions {
		if err := inRange(r, MinResolution, MaxResolution, "input resolution in pixels"); err != nil {
			return fieldErr(err, "resolutions")
		}
	}
	if !slices.Contains(s.Resolutions, s.Resolution) {
		return fieldErr(fmt.Errorf("default resolution %d is not among resolutions %v", s.Resolution, s.Resolutions), "resolution")
	}
	if err := inRange(s.Classes, 1, MaxClasses, "classes"); err != nil {
		return fieldErr(err, "classes")
	}
	if err := s.validateStem(); err != nil {
		return err
	}
	if len(s.Units) == 0 {
		return fieldErr(fmt.Errorf("no units"), "units")
	}
	if len(s.Units) > MaxUnits {
		return fieldErr(fmt.Errorf("%d units; at most %d", len(s.Units), MaxUnits), "units")
	}
	for i, u := range s.Units {
		if err := s.validateUnit(i, u); err != nil {
			return err
		}
	}
	if len(s.Head) > MaxHeadLayers {
		return fieldErr(fmt.Errorf("%d head layers; at most %d", len(s.Head), MaxHeadLayers), "head")
	}
	for i, h := range s.Head {
		at := func(err error, key ...string) error {
			return fieldErr(err, append([]string{"head", strconv.Itoa(i + 1)}, key...)...)
		}
		switch h.Kind {
		case "conv":
			if err := inRange(h.Width, 1, MaxWidth, "base channel count before width_mult"); err != nil {
				return at(err, "width")
			}
		case "linear":
			if err := inRange(h.Width, 1, MaxClasses, "classifier outputs"); err != nil {
				return at(err, "width")
			}
		case "gap":
		default:
			return at(fmt.Errorf("%q: want conv, gap or linear", h.Kind), "kind")
		}
		if h.Act != "" && h.Act != "none" && !validAct(h.Act) {
			return at(fmt.Errorf("%q: want relu, relu6, h_swish or none", h.Act), "act")
		}
	}
	if len(s.Head) == 0 || s.Head[len(s.Head)-1].Kind != "linear" {
		return fieldErr(fmt.Errorf("the head must end with a linear classifier"), "head")
	}
	return nil
}

func (s *Space) validateStem() error {
	st := s.Stem
	if err := inRange(st.Width, 1, MaxWidth, "base channel count"); err != nil {
		return fieldErr(err, "stem", "width")
	}
	if err := inRange(st.Stride, 1, MaxStemStride, "stem stride"); err != nil {
		return fieldErr(err, "stem", "stride")
	}
	if err := inRange(st.FirstBlock, 0, MaxWidth, "base channel count of the first block, 0 for none"); err != nil {
		return fieldErr(err, "stem", "first_block")
	}
	if s.Family != Bottleneck {
		if len(st.Ratios) > 0 || len(st.SkipDepths) > 0 {
			return fieldErr(fmt.Errorf("ratios and skip_depths belong to bottleneck stems"), "stem")
		}
		return nil
	}
	if len(st.Ratios) == 0 || len(st.SkipDepths) == 0 {
		return fieldErr(fmt.Errorf("a bottleneck stem needs ratios and skip_depths"), "stem")
	}
	if len(st.Ratios) > MaxStemChoices || len(st.SkipDepths) > MaxStemChoices {
		return fieldErr(fmt.Errorf("%d ratios and %d skip_depths; at most %d each", len(st.Ratios), len(st.SkipDepths), MaxStemChoices), "stem")
	}
	for j, r := range st.Ratios {
		if err := inRangeF(r, 0.01, MaxRatio, false, "channel ratio"); err != nil {
			return fieldErr(err, "stem", "ratios")
		}
		if !wholePercent(r) {
			return fieldErr(fmt.Errorf("%v: want a whole percent like 0.65", r), "stem", "ratios")
		}
		if slices.Contains(st.Ratios[:j], r) {
			return fieldErr(fmt.Errorf("ratio %v listed twice", r), "stem", "ratios")
		}
	}
	for j, d := range st.SkipDepths {
		if err := inRange(d, 0, MaxStemChoices-1, "stem depth, one digit"); err != nil {
			return fieldErr(err, "stem", "skip_depths")
		}
		if slices.Contains(st.SkipDepths[:j], d) {
			return fieldErr(fmt.Errorf("skip depth %d listed twice", d), "stem", "skip_depths")
		}
	}
	return nil
}

func (s *Space) validateUnit(i int, u Unit) error {
	if err := inRange(u.Width, 1, MaxWidth, "base channel count"); err != nil {
		return fieldErr(err, unitPath(i, "width")...)
	}
	if u.Stride != 1 && u.Stride != 2 {
		return fieldErr(fmt.Errorf("%d: want 1 or 2", u.Stride), unitPath(i, "stride")...)
	}
	if !validAct(u.Act) {
		return fieldErr(fmt.Errorf("%q: want relu, relu6 or h_swish", u.Act), unitPath(i, "act")...)
	}
	if len(u.Depths) == 0 {
		return fieldErr(fmt.Errorf("no depth choices"), unitPath(i, "depths")...)
	}
	for j, d := range u.Depths {
		if err := inRange(d, 1, MaxDepth, "layers"); err != nil {
			return fieldErr(err, unitPath(i, "depths")...)
		}
		if j > 0 && d <= u.Depths[j-1] {
			return fieldErr(fmt.Errorf("%v must be strictly ascending", u.Depths), unitPath(i, "depths")...)
		}
	}
	if err := inRange(u.Slots, u.MaxDepth(), MaxDepth, "layer slots, at least the largest depth"); err != nil {
		return fieldErr(err, unitPath(i, "slots")...)
	}
	if len(u.Blocks) == 0 {
		return fieldErr(fmt.Errorf("no block choices"), unitPath(i, "blocks")...)
	}
	if len(u.Blocks) > MaxBlocks {
		return fieldErr(fmt.Errorf("%d block choices; at most %d", len(u.Blocks), MaxBlocks), unitPath(i, "blocks")...)
	}
	for j, b := range u.Blocks {
		if err := checkBlock(s.Family, b); err != nil {
			return fieldErr(err, unitPath(i, "blocks")...)
		}
		if slices.Contains(u.Blocks[:j], b) {
			return fieldErr(fmt.Errorf("block %s listed twice", b.Key()), unitPath(i, "blocks")...)
		}
	}
	if err := inRangeF(u.MutationProb, 0, 1, false, "mutation probability"); err != nil {
		return fieldErr(err, unitPath(i, "mutation_prob")...)
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
