// Package reduce proposes and expresses reduced search spaces: per unit the
// blocks kept, the depths allowed and an optional mutation probability,
// each cut with the evidence behind it.
//
// A Reduction is data. It converts to and from model.Reduction (the TOML
// file format of reduced spaces) and applies to any space with the same
// units (Apply). Reductions come from three places: Suggest (from the
// friendliness tables of engine/analysis), the rule language of ParseRules
// ("remove k=7", "max-depth 3 in 2,4,5", ...), in which the paper's §5.1
// and §5.2 spaces are written (Paper), and model.Reduction files.
package reduce

import (
	"fmt"
	"slices"
	"strings"

	"blockprof/model"
)

// UnitRule is one unit of a reduction.
type UnitRule struct {
	// Blocks kept, in the parent's order.
	Blocks []model.Block `json:"-"`
	// Depths allowed, ascending.
	Depths []int `json:"depths"`
	// MutationProb is the search's per-unit mutation probability (0: the
	// search default).
	MutationProb float64 `json:"mutation_prob,omitempty"`
	// Reasons are the evidence behind the unit's cuts, one line each.
	Reasons []string `json:"reasons,omitempty"`
}

// BlockKeys lists the kept blocks' keys.
func (u UnitRule) BlockKeys() []string {
	out := make([]string, len(u.Blocks))
	for i, b := range u.Blocks {
		out[i] = b.Key()
	}
	return out
}

// Reduction is a reduced space as data.
type Reduction struct {
	Name        string `json:"name"`
	Parent      string `json:"parent"`
	Description string `json:"description,omitempty"`
	// Device and Statistic record what motivated the cuts.
	Device    string     `json:"device,omitempty"`
	Statistic string     `json:"statistic,omitempty"`
	Units     []UnitRule `json:"units"`
	// Suggestions are the proposals behind the cuts (empty for a rule or a
	// file), with their evidence.
	Suggestions []Suggestion `json:"suggestions,omitempty"`
}

// Identity is the reduction that keeps all of sp.
func Identity(sp *model.Space, name string) Reduction {
	r := Reduction{Name: name, Parent: sp.Name}
	for _, u := range sp.Units {
		r.Units = append(r.Units, UnitRule{Blocks: slices.Clone(u.Blocks), Depths: slices.Clone(u.Depths), MutationProb: u.MutationProb})
	}
	return r
}

// Clone is a deep copy.
func (r Reduction) Clone() Reduction {
	c := r
	c.Units = make([]UnitRule, len(r.Units))
	for i, u := range r.Units {
		u.Blocks = slices.Clone(u.Blocks)
		u.Depths = slices.Clone(u.Depths)
		u.Reasons = slices.Clone(u.Reasons)
		c.Units[i] = u
	}
	c.Suggestions = slices.Clone(r.Suggestions)
	return c
}

// Model converts r to the reduced-space file format.
func (r Reduction) Model() model.Reduction {
	mr := model.Reduction{Name: r.Name, Parent: r.Parent, Description: r.Description, Device: r.Device, Statistic: r.Statistic}
	for _, u := range r.Units {
		mr.Units = append(mr.Units, model.UnitReduction{Blocks: u.BlockKeys(), Depths: slices.Clone(u.Depths),
			MutationProb: u.MutationProb, Reasons: slices.Clone(u.Reasons)})
	}
	return mr
}

// FromModel reads a reduced-space file's content.
func FromModel(mr model.Reduction) (Reduction, error) {
	r := Reduction{Name: mr.Name, Parent: mr.Parent, Description: mr.Description, Device: mr.Device, Statistic: mr.Statistic}
	for i, u := range mr.Units {
		ur := UnitRule{Depths: slices.Clone(u.Depths), MutationProb: u.MutationProb, Reasons: slices.Clone(u.Reasons)}
		for _, k := range u.Blocks {
			b, err := model.ParseBlock(k)
			if err != nil {
				return Reduction{}, fmt.Errorf("reduced space %s unit %d: %w", mr.Name, i+1, err)
			}
			ur.Blocks = append(ur.Blocks, b)
		}
		r.Units = append(r.Units, ur)
	}
	return r, nil
}

// Apply returns sp reduced as r says: a clone of sp whose units keep only
// r's blocks and depths (Slots and BaseDepth stay sp's, so OFA encodings
// stay comparable). sp must have r's units; every block and depth of r must
// be a choice of sp.
func (r Reduction) Apply(sp *model.Space) (*model.Space, error) {
	return r.Model().ApplyTo(sp)
}

// Removed lists, per unit (0-based), the blocks of sp that r drops.
func (r Reduction) Removed(sp *model.Space) [][]model.Block {
	out := make([][]model.Block, len(sp.Units))
	for i, u := range sp.Units {
		if i >= len(r.Units) {
			break
		}
		for _, b := range u.Blocks {
			if !slices.Contains(r.Units[i].Blocks, b) {
				out[i] = append(out[i], b)
			}
		}
	}
	return out
}

// Summary is one line per changed unit, e.g. "unit 2: depths 2,3 (of
// 2,3,4); drops e3k3 e3k7".
func (r Reduction) Summary(sp *model.Space) string {
	var lines []string
	for i, u := range sp.Units {
		if i >= len(r.Units) {
			break
		}
		ru := r.Units[i]
		var parts []string
		if !slices.Equal(ru.Depths, u.Depths) {
			parts = append(parts, fmt.Sprintf("depths %s (of %s)", ints(ru.Depths), ints(u.Depths)))
		}
		var gone []string
		for _, b := range u.Blocks {
			if !slices.Contains(ru.Blocks, b) {
				gone = append(gone, b.Key())
			}
		}
		if len(gone) > 0 {
			parts = append(parts, "drops "+strings.Join(gone, " "))
		}
		if ru.MutationProb != u.MutationProb {
			parts = append(parts, fmt.Sprintf("mutation probability %g", ru.MutationProb))
		}
		if len(parts) > 0 {
			lines = append(lines, fmt.Sprintf("unit %d: %s", i+1, strings.Join(parts, "; ")))
		}
	}
	if len(lines) == 0 {
		return "no change"
	}
	return strings.Join(lines, "\n")
}

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
