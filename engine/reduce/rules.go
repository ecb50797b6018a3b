package reduce

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"blockprof/model"
)

// The rule language writes a reduction as statements, one per line or
// separated by ";" ("#" starts a comment):
//
//	remove SEL[,SEL...] [in UNITS]   drop the selected blocks
//	keep SEL[,SEL...] [in UNITS]     keep only the selected blocks
//	max-depth N [in UNITS]           at most N layers
//	min-depth N|max [in UNITS]       at least N layers (max: the unit's largest)
//	mutate P [in UNITS]              the search's per-unit mutation probability
//
// SEL is a block (e6k7, MBConv6-7, B9, c100b35, C100-B35) or an attribute
// level: k=7 (kernel), e=3 (expansion; for ResNet the layer ratio, e=0.35),
// b=0.35 (ResNet layer ratio), c=1.0 or c=100 (ResNet unit channel ratio).
// UNITS is "all" (the default) or 1-based units and ranges: 2,4,5 or 1-3.
// Statements apply in order to the parent space.

// Rule is one parsed statement.
type Rule struct {
	Op    string     // remove, keep, max-depth, min-depth, mutate
	Sel   []Selector // remove, keep
	Depth int        // max-depth, min-depth; -1 for "max"
	Prob  float64    // mutate
	// Units are 1-based; nil means every unit.
	Units []int
	Text  string
}

// Selector picks blocks: one block, or every block with an attribute level.
type Selector struct {
	Block *model.Block
	Attr  string // k, e, c ("" for a block)
	Level float64
}

// Match reports whether b is selected.
func (s Selector) Match(b model.Block) bool {
	switch s.Attr {
	case "":
		return *s.Block == b
	case "k":
		return float64(b.K) == s.Level
	case "e":
		return b.E == s.Level
	case "c":
		return b.W == s.Level
	}
	return false
}

func (s Selector) String() string {
	if s.Attr == "" {
		return s.Block.Key()
	}
	return fmt.Sprintf("%s=%g", s.Attr, s.Level)
}

// ParseRules reads rule statements (see the package's rule language).
func ParseRules(text string) ([]Rule, error) {
	var out []Rule
	for ln, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		for _, st := range strings.Split(line, ";") {
			st = strings.TrimSpace(st)
			if st == "" {
				continue
			}
			r, err := parseRule(st)
			if err != nil {
				return nil, fmt.Errorf("rule line %d %q: %w", ln+1, st, err)
			}
			out = append(out, r)
		}
	}
	return out, nil
}

func parseRule(st string) (Rule, error) {
	r := Rule{Text: st}
	fields := strings.Fields(st)
	if len(fields) < 2 {
		return r, fmt.Errorf("want OP ARG [in UNITS], OP one of remove, keep, max-depth, min-depth, mutate")
	}
	arg := fields[1]
	rest := fields[2:]
	if len(rest) > 0 {
		if rest[0] != "in" || len(rest) < 2 {
			return r, fmt.Errorf("after %q want \"in UNITS\" (e.g. in 2,4,5 or in all)", fields[0]+" "+arg)
		}
		units, err := parseUnits(strings.Join(rest[1:], ""))
		if err != nil {
			return r, err
		}
		r.Units = units
	}
	r.Op = strings.ToLower(fields[0])
	switch r.Op {
	case "remove", "keep":
		for _, s := range strings.Split(arg, ",") {
			sel, err := parseSelector(s)
			if err != nil {
				return r, err
			}
			r.Sel = append(r.Sel, sel)
		}
	case "max-depth", "min-depth":
		if arg == "max" && r.Op == "min-depth" {
			r.Depth = -1
			break
		}
		d, err := strconv.Atoi(arg)
		if err != nil || d < 1 {
			return r, fmt.Errorf("depth %q: want a positive number (or max for min-depth)", arg)
		}
		r.Depth = d
	case "mutate":
		p, err := strconv.ParseFloat(arg, 64)
		if err != nil || p < 0 || p > 1 {
			return r, fmt.Errorf("mutation probability %q: want a number in [0, 1]", arg)
		}
		r.Prob = p
	default:
		return r, fmt.Errorf("unknown operation %q: want remove, keep, max-depth, min-depth or mutate", fields[0])
	}
	return r, nil
}

func parseUnits(s string) ([]int, error) {
	if s == "all" {
		return nil, nil
	}
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(lo)
		b := a
		var err2 error
		if isRange {
			b, err2 = strconv.Atoi(hi)
		}
		if err1 != nil || err2 != nil || a < 1 || b < a || b-a > 64 {
			return nil, fmt.Errorf("units %q: want all, or 1-based units and ranges like 2,4,5 or 1-3", s)
		}
		for u := a; u <= b; u++ {
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out, nil
}

func parseSelector(s string) (Selector, error) {
	s = strings.TrimSpace(s)
	if a, v, ok := strings.Cut(s, "="); ok {
		a = strings.ToLower(strings.TrimSpace(a))
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || f <= 0 {
			return Selector{}, fmt.Errorf("selector %q: the level must be a positive number", s)
		}
		switch a {
		case "k":
			return Selector{Attr: "k", Level: f}, nil
		case "e", "b":
			if f >= 10 && a == "b" { // b=35 means 0.35, as in C100-B35
				f /= 100
			}
			return Selector{Attr: "e", Level: f}, nil
		case "c", "w":
			if f > 1.5 { // c=100 means 1.0
				f /= 100
			}
			return Selector{Attr: "c", Level: f}, nil
		}
		return Selector{}, fmt.Errorf("selector %q: attribute %q: want k, e, b or c", s, a)
	}
	b, err := model.ParseBlock(s)
	if err != nil {
		return Selector{}, fmt.Errorf("selector %q: %w (or an attribute level like k=7)", s, err)
	}
	return Selector{Block: &b}, nil
}

// FromRules applies rules, in order, to space sp and names the result.
func FromRules(sp *model.Space, name, description string, rules []Rule) (Reduction, error) {
	r := Identity(sp, name)
	r.Description = description
	for _, rule := range rules {
		units := rule.Units
		if units == nil {
			for i := range sp.Units {
				units = append(units, i+1)
			}
		}
		for _, u := range units {
			if u > len(sp.Units) {
				return Reduction{}, fmt.Errorf("rule %q: unit %d outside 1..%d of %s", rule.Text, u, len(sp.Units), sp.Name)
			}
			ur := &r.Units[u-1]
			switch rule.Op {
			case "remove", "keep":
				matched := false
				keep := rule.Op == "keep"
				ur.Blocks = slices.DeleteFunc(ur.Blocks, func(b model.Block) bool {
					m := slices.ContainsFunc(rule.Sel, func(s Selector) bool { return s.Match(b) })
					matched = matched || m
					return m != keep
				})
				if !matched && rule.Units != nil {
					return Reduction{}, fmt.Errorf("rule %q: selects no block of unit %d", rule.Text, u)
				}
				if len(ur.Blocks) == 0 {
					return Reduction{}, fmt.Errorf("rule %q leaves unit %d without blocks", rule.Text, u)
				}
			case "max-depth":
				ur.Depths = slices.DeleteFunc(ur.Depths, func(d int) bool { return d > rule.Depth })
				if len(ur.Depths) == 0 {
					return Reduction{}, fmt.Errorf("rule %q leaves unit %d without depths (its smallest is %d)", rule.Text, u, sp.Units[u-1].MinDepth())
				}
			case "min-depth":
				d := rule.Depth
				if d < 0 {
					d = sp.Units[u-1].MaxDepth()
				}
				ur.Depths = slices.DeleteFunc(ur.Depths, func(x int) bool { return x < d })
				if len(ur.Depths) == 0 {
					return Reduction{}, fmt.Errorf("rule %q leaves unit %d without depths (its largest is %d)", rule.Text, u, sp.Units[u-1].MaxDepth())
				}
			case "mutate":
				ur.MutationProb = rule.Prob
			}
		}
	}
	if _, err := r.Apply(sp); err != nil {
		return Reduction{}, err
	}
	return r, nil
}

// PaperRule is one of the paper's reduced spaces written as rules.
type PaperRule struct {
	Name   string
	Parent string
	Rules  string
	// Source quotes the paper section.
	Source string
}

// PaperRules are the paper's §5.1 (Pareto search) and §5.2 (maximum
// accuracy) spaces, with the official code's constants where the text is
// vague (mutation probabilities, per-unit maximum depths).
var PaperRules = []PaperRule{
	{"OFA-NPU", "ofa-mbv3", "remove k=7; mutate 0.25 in 1-3; mutate 0.5 in 4,5", "§5.1: remove kernel-7 blocks in all units; prioritise block choice in the final 2 units"},
	{"OFA-GPU", "ofa-mbv3", "max-depth 3 in 2,4,5; remove e3k3,e3k7,e4k3", "§5.1: units 2, 4 and 5 have at most 3 layers; remove MBConv3-3, 3-7 and 4-3"},
	{"OFA-CPU", "ofa-mbv3", "max-depth 3 in 1-3", "§5.1: units 1, 2 and 3 have at most 3 layers"},
	{"OFA-Note10", "ofa-mbv3", "max-depth 3 in 1; remove e3k7,e4k7", "§5.1: unit 1 has at most 3 layers; remove MBConv3-7 and 4-7"},
	{"PN-NPU", "ofa-pn-w1.3", "remove k=7; mutate 0.25 in 1-3; mutate 0.5 in 4-6", "§5.1: as OFA-NPU"},
	{"PN-GPU", "ofa-pn-w1.3", "max-depth 3 in 1-3; remove e3k3,e3k7,e4k3", "§5.1: units 1, 2 and 3 have at most 3 layers; remove MBConv3-3, 3-7 and 4-3"},
	{"PN-CPU", "ofa-pn-w1.3", "max-depth 3 in 1,2", "§5.1: units 1 and 2 have at most 3 layers"},
	{"OFA-max-accuracy", "ofa-mbv3", "remove e=3,e4k3", "§5.2: remove every expansion-3 block and MBConv4-3"},
	{"PN-max-accuracy", "ofa-pn-w1.3", "remove e=3,e4k3", "§5.2: remove every expansion-3 block and MBConv4-3"},
	{"ResNet50-max-accuracy", "ofa-resnet50", "min-depth max in 3,4; keep c=1.0 in 3,4", "§5.2: the last two units always have the maximum layers and channels"},
}

// Paper builds the paper's reduced space name (case-insensitive) on sp,
// which must be its parent or compatible with it.
func Paper(name string, sp *model.Space) (Reduction, error) {
	for _, p := range PaperRules {
		if !strings.EqualFold(p.Name, name) {
			continue
		}
		rules, err := ParseRules(p.Rules)
		if err != nil {
			return Reduction{}, err
		}
		r, err := FromRules(sp, p.Name, "paper "+p.Source, rules)
		if err != nil {
			return Reduction{}, fmt.Errorf("paper space %s on %s: %w", p.Name, sp.Name, err)
		}
		r.Statistic = "paper rule"
		return r, nil
	}
	names := make([]string, len(PaperRules))
	for i, p := range PaperRules {
		names[i] = p.Name
	}
	return Reduction{}, fmt.Errorf("no paper space %q (known: %s)", name, strings.Join(names, ", "))
}
