package cuts

import (
	"fmt"
	"slices"
	"strings"

	"blockprof/engine/reduce"
	"blockprof/model"
)

// FromSuggestion turns reduce.Suggest's proposals into cuts of sp: each
// suggestion becomes the cuts it names (every kind: remove-blocks,
// max-depth and min-depth), each cut with its own reason (the suggestion's
// text, its rule and the evidence about that unit and block). The result
// must make exactly the cuts of r's combined units (what `analyze
// --suggest` writes); a reduction with cuts that no suggestion names is an
// error (read it with FromReduction instead).
func FromSuggestion(sp *model.Space, r reduce.Reduction) (Cuts, error) {
	c := New(sp)
	if sp == nil {
		return c, fmt.Errorf("cuts: no search space for the suggestion %s", r.Name)
	}
	if len(r.Units) > 0 && len(r.Units) != len(sp.Units) {
		return Cuts{}, fmt.Errorf("cuts: the suggestion %s has %d units, space %s has %d", r.Name, len(r.Units), sp.Name, len(sp.Units))
	}
	if r.Name != "" {
		c.name = r.Name
	}
	c.origin, c.device, c.statistic = r.Description, r.Device, r.Statistic
	for _, s := range r.Suggestions {
		for _, u := range s.Units {
			if err := c.unitAt(u); err != nil {
				return Cuts{}, fmt.Errorf("cuts: suggestion %q: %w", s.Rule, err)
			}
			su := sp.Units[u-1]
			cu := &c.units[u-1]
			switch s.Kind {
			case "remove-blocks":
				for _, b := range s.Blocks {
					key, err := c.blockOf(u, b)
					if err != nil {
						return Cuts{}, fmt.Errorf("cuts: suggestion %q: %w", s.Rule, err)
					}
					why := []string{" " + reason(s, u, key)}
					if i := cu.find(key); i >= 0 {
						cu.pruned[i].why = addNew(cu.pruned[i].why, why)
						continue
					}
					if err := c.prune(cu, u, key, why); err != nil {
						return Cuts{}, fmt.Errorf("cuts: suggestion %q: %w", s.Rule, err)
					}
				}
			case "max-depth", "min-depth":
				if !slices.Contains(su.Depths, s.Depth) {
					return Cuts{}, fmt.Errorf("cuts: suggestion %q: depth %d is not a choice of unit %d (choices %v)", s.Rule, s.Depth, u, su.Depths)
				}
				why := []string{" " + reason(s, u, "")}
				if s.Kind == "max-depth" {
					switch {
					case s.Depth == cu.max:
						cu.maxWhy = addNew(cu.maxWhy, why)
					case s.Depth < cu.max:
						cu.max, cu.maxWhy = s.Depth, why
					}
				} else {
					switch {
					case s.Depth == cu.min:
						cu.minWhy = addNew(cu.minWhy, why)
					case s.Depth > cu.min:
						cu.min, cu.minWhy = s.Depth, why
					}
				}
				if cu.min > cu.max {
					return Cuts{}, fmt.Errorf("cuts: suggestion %q: unit %d would allow no depth (min %d, max %d)", s.Rule, u, cu.min, cu.max)
				}
				// A bound back at the space's own is no cut.
				if cu.max == su.MaxDepth() {
					cu.maxWhy = nil
				}
				if cu.min == su.MinDepth() {
					cu.minWhy = nil
				}
			default:
				return Cuts{}, fmt.Errorf("cuts: suggestion %q: unknown kind %q (want remove-blocks, max-depth or min-depth)", s.Rule, s.Kind)
			}
		}
	}
	// The suggested cuts are the reduction's, cut for cut.
	for i, ur := range r.Units {
		got := c.Reduction("").Units[i]
		if !slices.Equal(got.Blocks, ur.BlockKeys()) || !slices.Equal(got.Depths, ur.Depths) {
			return Cuts{}, fmt.Errorf("cuts: the suggestions of %s give unit %d blocks %v and depths %v, but the reduction keeps %v and %v: a cut without a suggestion (read such a reduction with FromReduction)",
				r.Name, i+1, got.Blocks, got.Depths, ur.BlockKeys(), ur.Depths)
		}
	}
	return c, nil
}

// reason is a suggested cut's reason: the suggestion's text, its rule and
// the evidence about unit u (and block, for a removal).
func reason(s reduce.Suggestion, u int, block string) string {
	var ev []string
	prefix := fmt.Sprintf("unit %d: ", u)
	for _, e := range s.Evidence {
		what, ok := strings.CutPrefix(e.Statistic, prefix)
		if !ok || (block != "" && !names(what, block)) {
			continue
		}
		v := fmt.Sprintf("%s %+.4g", what, e.Estimate.Value)
		if e.Estimate.HasCI() {
			v += fmt.Sprintf(" [%+.4g, %+.4g]", e.Estimate.Lo, e.Estimate.Hi)
		}
		ev = append(ev, v)
	}
	out := s.Text
	if out == "" {
		out = s.Rule
	}
	out += " (rule " + s.Rule
	if len(ev) > 0 {
		out += "; evidence: " + strings.Join(ev, "; ")
	}
	return out + ")"
}

// names reports whether text names block as a word.
func names(text, block string) bool {
	return slices.ContainsFunc(strings.Fields(text), func(w string) bool {
		return strings.Trim(w, ",;:()") == block
	})
}
