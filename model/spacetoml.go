package model

import (
	"errors"
	"fmt"
	"slices"
)

// SpaceTOML is a [spaces.NAME] table of config.toml.
type SpaceTOML struct {
	Description string      `toml:"description"`
	Family      string      `toml:"family"`
	WidthMult   float64     `toml:"width_mult"`
	Resolutions []int       `toml:"resolutions"`
	Resolution  int         `toml:"resolution"`
	Classes     int         `toml:"classes"`
	Stem        StemTOML    `toml:"stem"`
	Units       []UnitTOML  `toml:"units"`
	Head        []HeadTOML  `toml:"head"`
	Accuracy    AccuracyRef `toml:"accuracy"`
}

// AccuracyRef is the space's accuracy source; the engine interprets it.
type AccuracyRef struct {
	Kind    string   `toml:"kind"`
	File    string   `toml:"file"`
	Command []string `toml:"command"`
	Model   string   `toml:"model"`
}

// StemTOML is a space's stem table.
type StemTOML struct {
	Width         int       `toml:"width"`
	Stride        int       `toml:"stride"`
	Act           string    `toml:"act"`
	FirstBlock    int       `toml:"first_block"`
	FirstBlockAct string    `toml:"first_block_act"`
	Ratios        []float64 `toml:"ratios"`
	SkipDepths    []int     `toml:"skip_depths"`
}

// UnitTOML is one [[spaces.NAME.units]] entry. Blocks are either the
// product kernels × expands (MBConv) or ratios × expands (bottleneck), or an
// explicit list of block keys.
type UnitTOML struct {
	Width   int       `toml:"width"`
	Stride  int       `toml:"stride"`
	Act     string    `toml:"act"`
	SE      bool      `toml:"se"`
	Depths  []int     `toml:"depths"`
	Kernels []int     `toml:"kernels"`
	Expands []float64 `toml:"expands"`
	Ratios  []float64 `toml:"ratios"`
	Blocks  []string  `toml:"blocks"`
	Slots   int       `toml:"slots"`
}

// HeadTOML is one [[spaces.NAME.head]] layer.
type HeadTOML struct {
	Kind  string `toml:"kind"`
	Width int    `toml:"width"`
	BN    bool   `toml:"bn"`
	Bias  bool   `toml:"bias"`
	Act   string `toml:"act"`
}

// FieldError is a configuration error tied to a TOML key path, so callers
// can point at the file and line.
type FieldError struct {
	Path []string // e.g. ["spaces", "ofa-mbv3", "units", "2", "depths"]
	Err  error
}

func (e *FieldError) Error() string { return fmt.Sprintf("%s: %v", keyPath(e.Path), e.Err) }
func (e *FieldError) Unwrap() error { return e.Err }

func keyPath(p []string) string {
	s := ""
	for i, k := range p {
		if i > 0 {
			if _, err := fmt.Sscanf(k, "%d", new(int)); err == nil {
				s += "[" + k + "]"
				continue
			}
			s += "."
		}
		s += k
	}
	return s
}

// Space builds and validates a space from its TOML table.
func (t SpaceTOML) Space(name string) (*Space, error) {
	at := func(err error, p ...string) error {
		return &FieldError{Path: append([]string{"spaces", name}, p...), Err: err}
	}
	s := &Space{
		Name: name, Family: Family(t.Family), WidthMult: t.WidthMult, Resolutions: t.Resolutions,
		Resolution: t.Resolution, Classes: t.Classes, Description: t.Description, Accuracy: t.Accuracy,
		Stem: Stem{Width: t.Stem.Width, Stride: t.Stem.Stride, Act: t.Stem.Act, FirstBlock: t.Stem.FirstBlock,
			FirstBlockAct: t.Stem.FirstBlockAct, Ratios: t.Stem.Ratios, SkipDepths: t.Stem.SkipDepths},
	}
	if s.Family == "" {
		return nil, at(fmt.Errorf("missing; want %q or %q", MBConv, Bottleneck), "family")
	}
	if s.Family != MBConv && s.Family != Bottleneck {
		return nil, at(fmt.Errorf("%q: want %q or %q", t.Family, MBConv, Bottleneck), "family")
	}
	if s.WidthMult == 0 {
		s.WidthMult = 1
	}
	if s.Classes == 0 {
		s.Classes = 1000
	}
	if s.Stem.Stride == 0 {
		s.Stem.Stride = 2
	}
	if len(s.Resolutions) == 0 {
		return nil, at(fmt.Errorf("missing; list the input resolutions, e.g. [224]"), "resolutions")
	}
	if s.Resolution == 0 {
		s.Resolution = slices.Max(s.Resolutions)
	}
	if len(t.Units) == 0 {
		return nil, at(fmt.Errorf("no [[spaces.%s.units]] tables", name), "units")
	}
	for i, ut := range t.Units {
		ui := fmt.Sprint(i + 1)
		u := Unit{Width: ut.Width, Stride: ut.Stride, Act: ut.Act, SE: ut.SE, Depths: ut.Depths, Slots: ut.Slots}
		if u.Stride == 0 {
			u.Stride = 1
		}
		if len(u.Depths) == 0 {
			return nil, at(fmt.Errorf("missing; list the allowed layer counts, e.g. [2, 3, 4]"), "units", ui, "depths")
		}
		if u.Slots == 0 {
			u.Slots = slices.Max(u.Depths)
		}
		u.BaseDepth = slices.Min(u.Depths)
		if err := checkChoices(s.Family, ut); err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return nil, at(fe.Err, append([]string{"units", ui}, fe.Path...)...)
			}
			return nil, at(err, "units", ui)
		}
		switch {
		case len(ut.Blocks) > 0:
			for _, k := range ut.Blocks {
				b, err := ParseBlock(k)
				if err != nil {
					return nil, at(err, "units", ui, "blocks")
				}
				u.Blocks = append(u.Blocks, b)
			}
		case s.Family == Bottleneck:
			if len(ut.Ratios) == 0 || len(ut.Expands) == 0 {
				return nil, at(fmt.Errorf("a bottleneck unit needs ratios and expands (or blocks)"), "units", ui)
			}
			for _, w := range ut.Ratios {
				for _, e := range ut.Expands {
					u.Blocks = append(u.Blocks, Block{K: 3, W: w, E: e})
				}
			}
		default:
			if len(ut.Kernels) == 0 || len(ut.Expands) == 0 {
				return nil, at(fmt.Errorf("an mbconv unit needs kernels and expands (or blocks)"), "units", ui)
			}
			for _, e := range ut.Expands {
				for _, k := range ut.Kernels {
					u.Blocks = append(u.Blocks, Block{K: k, E: e})
				}
			}
		}
		s.Units = append(s.Units, u)
	}
	for _, h := range t.Head {
		s.Head = append(s.Head, HeadLayer(h))
	}
	if err := s.Validate(); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return nil, at(fe.Err, fe.Path...)
		}
		return nil, at(err)
	}
	if s.Family == Bottleneck {
		for i, u := range s.Units {
			for _, w := range u.Widths() {
				if !slices.Contains(s.Stem.Ratios, w) {
					return nil, at(fmt.Errorf("channel ratio %v is not among the stem's ratios %v (the OFA w index refers to them)", w, s.Stem.Ratios), "units", fmt.Sprint(i+1), "ratios")
				}
			}
		}
	}
	return s, nil
}

// checkChoices checks a unit's kernels, expands and ratios lists (each
// value within its bound, at most MaxBlocks combinations) before they are
// multiplied out into blocks. Errors are *FieldError relative to the unit.
func checkChoices(f Family, ut UnitTOML) error {
	if len(ut.Blocks) > 0 {
		if len(ut.Kernels)+len(ut.Expands)+len(ut.Ratios) > 0 {
			return fieldErr(fmt.Errorf("give either blocks or kernels/ratios and expands, not both"), "blocks")
		}
		if len(ut.Blocks) > MaxBlocks {
			return fieldErr(fmt.Errorf("%d block choices; at most %d", len(ut.Blocks), MaxBlocks), "blocks")
		}
		return nil
	}
	for _, k := range ut.Kernels {
		if k < 1 || k > MaxKernel || k%2 == 0 {
			return fieldErr(fmt.Errorf("%d: want an odd kernel size in 1..%d", k, MaxKernel), "kernels")
		}
	}
	maxE := MaxExpand
	lo, open := 0.0, true
	if f == Bottleneck {
		maxE, lo, open = MaxBottleneckExpand, 0.01, false
		if len(ut.Kernels) > 0 {
			return fieldErr(fmt.Errorf("bottleneck units have 3x3 kernels; remove kernels"), "kernels")
		}
	} else if len(ut.Ratios) > 0 {
		return fieldErr(fmt.Errorf("ratios belong to bottleneck units; remove them"), "ratios")
	}
	for _, e := range ut.Expands {
		if err := inRangeF(e, lo, maxE, open, "expansion ratio"); err != nil {
			return fieldErr(err, "expands")
		}
	}
	for _, e := range ut.Expands {
		if f == Bottleneck && !wholePercent(e) {
			return fieldErr(fmt.Errorf("%v: want a whole percent like 0.25 (block keys write it as b25)", e), "expands")
		}
	}
	for _, w := range ut.Ratios {
		if err := inRangeF(w, 0.01, MaxRatio, false, "channel ratio"); err != nil {
			return fieldErr(err, "ratios")
		}
		if !wholePercent(w) {
			return fieldErr(fmt.Errorf("%v: want a whole percent like 0.65 (block keys write it as c65)", w), "ratios")
		}
	}
	n := len(ut.Expands) * max(len(ut.Kernels), len(ut.Ratios))
	if n > MaxBlocks {
		return fieldErr(fmt.Errorf("%d combinations; at most %d block choices per unit", n, MaxBlocks), "expands")
	}
	return nil
}
