package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Arch is one architecture of a space: an input resolution, the blocks of the
// active layers of every unit and, for bottleneck spaces, the stem choices.
type Arch struct {
	Space      string
	Resolution int
	// Units[u] holds the blocks of unit u's active layers; len is the depth.
	Units [][]Block
	// StemDepth is the bottleneck stem's d[0] (0 skips its residual conv, 2
	// keeps it); StemW0 and StemW1 index the stem's channel ratios.
	StemDepth, StemW0, StemW1 int
}

// Depths returns the depth of every unit.
func (a Arch) Depths() []int {
	d := make([]int, len(a.Units))
	for i, u := range a.Units {
		d[i] = len(u)
	}
	return d
}

// Clone returns a deep copy.
func (a Arch) Clone() Arch {
	c := a
	c.Units = make([][]Block, len(a.Units))
	for i, u := range a.Units {
		c.Units[i] = slices.Clone(u)
	}
	return c
}

// Equal reports whether two architectures are the same.
func (a Arch) Equal(b Arch) bool { return a.String() == b.String() }

// String is the canonical encoding:
//
//	ofa-mbv3:224:e4k3,e6k5/e3k7,e3k3,e4k5/...
//	ofa-resnet50:224:d2w12/c65b20,c65b25/...
//
// units are separated by "/", layers by ","; a bottleneck arch starts its
// body with the stem token d<skip>w<w0><w1>.
func (a Arch) String() string {
	var sb strings.Builder
	sb.WriteString(a.Space)
	sb.WriteByte(':')
	sb.WriteString(strconv.Itoa(a.Resolution))
	sb.WriteByte(':')
	if a.isBottleneck() {
		fmt.Fprintf(&sb, "d%dw%d%d/", a.StemDepth, a.StemW0, a.StemW1)
	}
	for i, u := range a.Units {
		if i > 0 {
			sb.WriteByte('/')
		}
		for j, b := range u {
			if j > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(b.Key())
		}
	}
	return sb.String()
}

func (a Arch) isBottleneck() bool {
	for _, u := range a.Units {
		for _, b := range u {
			return b.W != 0
		}
	}
	return false
}

// MarshalText encodes the canonical string.
func (a Arch) MarshalText() ([]byte, error) { return []byte(a.String()), nil }

// ParseArch reads the canonical encoding and checks it against the space.
func (s *Space) ParseArch(text string) (Arch, error) {
	return s.parseArch(text, nil)
}

// UnitCache lets archs parsed with ParseArchShared share the layers of
// equal units: a series holds tens of thousands of parsed archs, and most
// of their units (a depth-2 unit of MobileNetV3 has 81 forms) are repeats.
// The shared layers are capped slices, as ParseArch's: an append to a unit
// copies it; nothing may write a parsed arch's blocks in place. The zero
// value is not usable: make one with NewUnitCache, one per batch.
type UnitCache struct{ units map[string][]Block }

// NewUnitCache returns an empty cache.
func NewUnitCache() *UnitCache { return &UnitCache{units: map[string][]Block{}} }

// ParseArchShared is ParseArch with the units shared through c.
func (s *Space) ParseArchShared(text string, c *UnitCache) (Arch, error) {
	return s.parseArch(text, c)
}

func (s *Space) parseArch(text string, c *UnitCache) (Arch, error) {
	text = strings.TrimSpace(text)
	name, rest, ok := strings.Cut(text, ":")
	if !ok {
		return Arch{}, fmt.Errorf("arch %q: want SPACE:RESOLUTION:BLOCKS, e.g. %s", clip(text), s.exampleArch())
	}
	if name != s.Name {
		return Arch{}, fmt.Errorf("arch %q names space %q, not %q", clip(text), name, s.Name)
	}
	rs, body, ok := strings.Cut(rest, ":")
	if !ok {
		return Arch{}, fmt.Errorf("arch %q: missing resolution, want SPACE:RESOLUTION:BLOCKS", clip(text))
	}
	r, err := strconv.Atoi(rs)
	if err != nil {
		return Arch{}, fmt.Errorf("arch %q: resolution %q is not a number", clip(text), rs)
	}
	a := Arch{Space: s.Name, Resolution: r}
	parts := strings.Split(body, "/")
	if s.Family == Bottleneck {
		if len(parts) == 0 || !strings.HasPrefix(parts[0], "d") {
			return Arch{}, fmt.Errorf("arch %q: a %s arch starts with the stem token d<0|2>w<w0><w1>, e.g. d2w12", clip(text), s.Name)
		}
		st := parts[0]
		if len(st) != 5 || st[2] != 'w' {
			return Arch{}, fmt.Errorf("arch %q: stem token %q: want d<0|2>w<w0><w1>, e.g. d2w12", clip(text), st)
		}
		a.StemDepth, a.StemW0, a.StemW1 = int(st[1]-'0'), int(st[3]-'0'), int(st[4]-'0')
		parts = parts[1:]
	}
	if len(parts) != len(s.Units) {
		return Arch{}, fmt.Errorf("arch %q: %d units, space %s has %d", clip(text), len(parts), s.Name, len(s.Units))
	}
	// One backing array holds every layer's block; each unit is a slice of
	// it capped at its depth (an append to one unit copies, never spills
	// into the next). Analyses hold tens of thousands of parsed archs.
	a.Units = make([][]Block, len(parts))
	layers := 0
	for i, p := range parts {
		if c != nil {
			if u, ok := c.units[p]; ok {
				a.Units[i] = u
				continue
			}
		}
		layers += 1 + strings.Count(p, ",")
	}
	blocks := make([]Block, 0, layers)
	for i, p := range parts {
		if a.Units[i] != nil {
			continue
		}
		if p == "" {
			return Arch{}, fmt.Errorf("arch %q: unit %d has no layers", clip(text), i+1)
		}
		start, j := len(blocks), 0
		for tok := range strings.SplitSeq(p, ",") {
			j++
			b, err := ParseBlock(tok)
			if err != nil {
				return Arch{}, fmt.Errorf("arch %q: unit %d layer %d: %w", clip(text), i+1, j, err)
			}
			blocks = append(blocks, b)
		}
		a.Units[i] = blocks[start:len(blocks):len(blocks)]
	}
	if err := s.Check(a); err != nil {
		return Arch{}, err
	}
	if c != nil {
		for i, p := range parts {
			if _, ok := c.units[p]; !ok {
				c.units[p] = a.Units[i]
			}
		}
	}
	return a, nil
}

func clip(s string) string {
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}

func (s *Space) exampleArch() string {
	return s.MinArch(s.Resolution).String()
}

// Check reports whether a lies in the space, naming the first problem.
func (s *Space) Check(a Arch) error {
	if a.Space != s.Name {
		return fmt.Errorf("arch of space %q checked against space %q", a.Space, s.Name)
	}
	if !slices.Contains(s.Resolutions, a.Resolution) {
		return fmt.Errorf("arch %s: resolution %d not allowed, space %s allows %v", a, a.Resolution, s.Name, s.Resolutions)
	}
	if len(a.Units) != len(s.Units) {
		return fmt.Errorf("arch %s: %d units, space %s has %d", a, len(a.Units), s.Name, len(s.Units))
	}
	if s.Family == Bottleneck {
		if !slices.Contains(s.Stem.SkipDepths, a.StemDepth) {
			return fmt.Errorf("arch %s: stem depth %d not in %v", a, a.StemDepth, s.Stem.SkipDepths)
		}
		n := len(s.Stem.Ratios)
		if a.StemW0 < 0 || a.StemW0 >= n || a.StemW1 < 0 || a.StemW1 >= n {
			return fmt.Errorf("arch %s: stem width indices %d,%d outside 0..%d", a, a.StemW0, a.StemW1, n-1)
		}
	}
	for i, blocks := range a.Units {
		u := s.Units[i]
		if !slices.Contains(u.Depths, len(blocks)) {
			return fmt.Errorf("arch %s: unit %d has %d layers, allowed depths are %v", a, i+1, len(blocks), u.Depths)
		}
		for j, b := range blocks {
			if !u.Allows(b) {
				return fmt.Errorf("arch %s: unit %d layer %d: block %s is not allowed here (allowed: %s)", a, i+1, j+1, b.Key(), blockKeys(u.Blocks))
			}
			if b.W != blocks[0].W {
				return fmt.Errorf("arch %s: unit %d layer %d: channel ratio %s differs from the unit's %s (all layers of a unit share it)", a, i+1, j+1, trimFloat(b.W), trimFloat(blocks[0].W))
			}
		}
	}
	return nil
}

func blockKeys(bs []Block) string {
	ks := make([]string, len(bs))
	for i, b := range bs {
		ks[i] = b.Key()
	}
	return strings.Join(ks, " ")
}

// OFA is the Once-for-All encoding used by OFA tools and the shared data:
// one ks/e slot per possible layer (0 where unused), d per unit (bottleneck:
// d[0] is the stem depth, then the extra depth per unit), w the bottleneck
// width indices (2 stem + one per unit), r the resolution.
type OFA struct {
	KS []int     `json:"ks,omitempty"`
	E  []float64 `json:"e"`
	D  []int     `json:"d"`
	W  []int     `json:"w,omitempty"`
	R  int       `json:"r"`
}

// ToOFA converts a to the OFA encoding.
func (s *Space) ToOFA(a Arch) OFA {
	o := OFA{R: a.Resolution}
	if s.Family == Bottleneck {
		o.D = append(o.D, a.StemDepth)
		o.W = append(o.W, a.StemW0, a.StemW1)
		for i, blocks := range a.Units {
			u := s.Units[i]
			o.D = append(o.D, len(blocks)-u.BaseDepth)
			w := 0
			if len(blocks) > 0 {
				w = slices.Index(s.Stem.Ratios, blocks[0].W)
			}
			o.W = append(o.W, w)
			for j := 0; j < u.Slots; j++ {
				if j < len(blocks) {
					o.E = append(o.E, blocks[j].E)
				} else {
					o.E = append(o.E, 0)
				}
			}
		}
		return o
	}
	for i, blocks := range a.Units {
		u := s.Units[i]
		o.D = append(o.D, len(blocks))
		for j := 0; j < u.Slots; j++ {
			if j < len(blocks) {
				o.KS = append(o.KS, blocks[j].K)
				o.E = append(o.E, blocks[j].E)
			} else {
				o.KS = append(o.KS, 0)
				o.E = append(o.E, 0)
			}
		}
	}
	return o
}

// FromOFA converts the OFA encoding to an Arch of the space and checks it.
// Slots past a unit's depth are ignored (OFA tools leave junk there).
func (s *Space) FromOFA(o OFA) (Arch, error) {
	a := Arch{Space: s.Name, Resolution: o.R}
	if o.R == 0 {
		a.Resolution = s.Resolution
	}
	slots := s.Slots()
	if s.Family == Bottleneck {
		if len(o.D) != len(s.Units)+1 {
			return Arch{}, fmt.Errorf("ofa arch: d has %d entries, %s wants %d (stem + one per unit)", len(o.D), s.Name, len(s.Units)+1)
		}
		if len(o.E) != slots {
			return Arch{}, fmt.Errorf("ofa arch: e has %d entries, %s wants %d", len(o.E), s.Name, slots)
		}
		if len(o.W) != len(s.Units)+2 {
			return Arch{}, fmt.Errorf("ofa arch: w has %d entries, %s wants %d (2 stem + one per unit)", len(o.W), s.Name, len(s.Units)+2)
		}
		a.StemDepth, a.StemW0, a.StemW1 = o.D[0], o.W[0], o.W[1]
		off := 0
		for i, u := range s.Units {
			depth := u.BaseDepth + o.D[i+1]
			wi := o.W[i+2]
			if wi < 0 || wi >= len(s.Stem.Ratios) {
				return Arch{}, fmt.Errorf("ofa arch: w[%d]=%d outside 0..%d", i+2, wi, len(s.Stem.Ratios)-1)
			}
			if depth < 0 || depth > u.Slots {
				return Arch{}, fmt.Errorf("ofa arch: unit %d depth %d outside 0..%d", i+1, depth, u.Slots)
			}
			for j := 0; j < depth; j++ {
				a.Units = appendUnit(a.Units, i, Block{K: 3, W: s.Stem.Ratios[wi], E: o.E[off+j]})
			}
			if depth == 0 {
				a.Units = appendUnit(a.Units, i)
			}
			off += u.Slots
		}
	} else {
		if len(o.D) != len(s.Units) {
			return Arch{}, fmt.Errorf("ofa arch: d has %d entries, %s wants %d (one per unit)", len(o.D), s.Name, len(s.Units))
		}
		if len(o.KS) != slots || len(o.E) != slots {
			return Arch{}, fmt.Errorf("ofa arch: ks has %d and e %d entries, %s wants %d each", len(o.KS), len(o.E), s.Name, slots)
		}
		off := 0
		for i, u := range s.Units {
			d := o.D[i]
			if d < 0 || d > u.Slots {
				return Arch{}, fmt.Errorf("ofa arch: d[%d]=%d outside 0..%d", i, d, u.Slots)
			}
			a.Units = appendUnit(a.Units, i)
			for j := 0; j < d; j++ {
				e := o.E[off+j]
				if e != math.Trunc(e) {
					return Arch{}, fmt.Errorf("ofa arch: e[%d]=%v is not an integer expansion ratio", off+j, e)
				}
				a.Units[i] = append(a.Units[i], Block{K: o.KS[off+j], E: e})
			}
			off += u.Slots
		}
	}
	if err := s.Check(a); err != nil {
		return Arch{}, err
	}
	return a, nil
}

func appendUnit(units [][]Block, i int, bs ...Block) [][]Block {
	for len(units) <= i {
		units = append(units, nil)
	}
	units[i] = append(units[i], bs...)
	return units
}

// ParseArchAny reads either the canonical string or the OFA JSON encoding
// ({"ks":[...],"e":[...],"d":[...],"r":224}).
func (s *Space) ParseArchAny(text string) (Arch, error) {
	t := strings.TrimSpace(text)
	if strings.HasPrefix(t, "{") {
		var o OFA
		dec := json.NewDecoder(strings.NewReader(t))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&o); err != nil {
			return Arch{}, fmt.Errorf("arch JSON %q: %v (want {\"ks\":[...],\"e\":[...],\"d\":[...],\"r\":224})", clip(t), err)
		}
		return s.FromOFA(o)
	}
	return s.ParseArch(t)
}

// ParseArchJSON reads an arch given as a JSON value, the "arch" field of a
// JSON line: a string holding the canonical form, or an object in the OFA
// encoding ({"ks":[...],"e":[...],"d":[...],"r":224}).
func (s *Space) ParseArchJSON(raw []byte) (Arch, error) {
	t := bytes.TrimSpace(raw)
	switch {
	case len(t) > 0 && t[0] == '"':
		var text string
		if err := json.Unmarshal(t, &text); err != nil {
			return Arch{}, fmt.Errorf("arch string %s: %v", clip(string(t)), err)
		}
		return s.ParseArch(text)
	case len(t) > 0 && t[0] == '{':
		return s.ParseArchAny(string(t))
	}
	return Arch{}, fmt.Errorf("arch %s: want a canonical string like %q or an OFA object ({\"ks\":[...],\"e\":[...],\"d\":[...],\"r\":%d})",
		clip(string(t)), clip(s.exampleArch()), s.Resolution)
}

// MinArch is the smallest architecture: minimum depth, smallest block
// everywhere (first stem choices, smallest ratios).
func (s *Space) MinArch(r int) Arch {
	return s.extremeArch(r, false)
}

// MaxArch is the largest architecture: maximum depth, largest block.
func (s *Space) MaxArch(r int) Arch {
	return s.extremeArch(r, true)
}

func (s *Space) extremeArch(r int, max bool) Arch {
	a := Arch{Space: s.Name, Resolution: r}
	if s.Family == Bottleneck {
		a.StemDepth = s.Stem.SkipDepths[0]
		if max {
			a.StemDepth = s.Stem.SkipDepths[len(s.Stem.SkipDepths)-1]
			a.StemW0, a.StemW1 = len(s.Stem.Ratios)-1, len(s.Stem.Ratios)-1
		}
	}
	for _, u := range s.Units {
		bs := slices.Clone(u.Blocks)
		slices.SortFunc(bs, func(x, y Block) int {
			if x.W != y.W {
				return cmpF(x.W, y.W)
			}
			if x.E != y.E {
				return cmpF(x.E, y.E)
			}
			return x.K - y.K
		})
		b, d := bs[0], u.MinDepth()
		if max {
			b, d = bs[len(bs)-1], u.MaxDepth()
		}
		layer := make([]Block, d)
		for j := range layer {
			layer[j] = b
		}
		a.Units = append(a.Units, layer)
	}
	return a
}
