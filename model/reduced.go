package model

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Reduction is a reduced search space: per unit the allowed blocks and
// depths (and optionally a mutation probability for search), plus the
// provenance of every cut. It applies to any space whose units and block
// choices it fits (the OFA-NPU reduction to ofa-mbv3 and ofa-mbv3-w1.0).
type Reduction struct {
	Name        string `toml:"name"`
	Parent      string `toml:"parent"`
	Description string `toml:"description,omitempty"`
	// Provenance: the device and statistic that motivated the cuts, when,
	// and by which blockprof.
	Device    string `toml:"device,omitempty"`
	Statistic string `toml:"statistic,omitempty"`
	Created   string `toml:"created,omitempty"`
	Version   string `toml:"blockprof_version,omitempty"`
	// Stem restricts a bottleneck space's stem (optional).
	Units []UnitReduction `toml:"units"`
}

// UnitReduction is one unit of a reduced space.
type UnitReduction struct {
	Blocks       []string `toml:"blocks"`
	Depths       []int    `toml:"depths"`
	MutationProb float64  `toml:"mutation_prob,omitempty"`
	// Reasons are the evidence behind the unit's cuts, one line each.
	Reasons []string `toml:"reasons,omitempty"`
}

// ReductionOf describes space s (typically a reduced one) relative to its
// parent as a Reduction.
func ReductionOf(s *Space, name string) Reduction {
	r := Reduction{Name: name, Parent: s.Name}
	for _, u := range s.Units {
		ur := UnitReduction{Depths: slices.Clone(u.Depths), MutationProb: u.MutationProb}
		for _, b := range u.Blocks {
			ur.Blocks = append(ur.Blocks, b.Key())
		}
		r.Units = append(r.Units, ur)
	}
	return r
}

// Apply returns the space reduced as r says. The space must have as many
// units as r, and every block and depth of r must be allowed by the space.
// Slots and BaseDepth stay the space's, so OFA encodings stay comparable.
func (r Reduction) Apply(s *Space) (*Space, error) {
	where := "reduced space " + r.Name
	if len(r.Units) != len(s.Units) {
		return nil, &FieldError{Path: []string{"units"}, Err: fmt.Errorf("%s has %d units, space %s has %d", where, len(r.Units), s.Name, len(s.Units))}
	}
	out := s.Clone()
	out.Reduced = r.Name
	for i, ur := range r.Units {
		at := func(key string, err error) error {
			return &FieldError{Path: []string{"units", strconv.Itoa(i + 1), key}, Err: err}
		}
		u := &out.Units[i]
		if len(ur.Blocks) == 0 {
			return nil, at("blocks", fmt.Errorf("unit %d of %s allows no block: keep at least one", i+1, where))
		}
		var blocks []Block
		for _, k := range ur.Blocks {
			b, err := ParseBlock(k)
			if err != nil {
				return nil, at("blocks", err)
			}
			if !s.Units[i].Allows(b) {
				return nil, at("blocks", fmt.Errorf("block %s is not a choice of unit %d in %s (choices: %s)", b.Key(), i+1, s.Name, blockKeys(s.Units[i].Blocks)))
			}
			if slices.Contains(blocks, b) {
				return nil, at("blocks", fmt.Errorf("block %s listed twice", b.Key()))
			}
			blocks = append(blocks, b)
		}
		if len(ur.Depths) == 0 {
			return nil, at("depths", fmt.Errorf("unit %d of %s allows no depth", i+1, where))
		}
		depths := slices.Clone(ur.Depths)
		slices.Sort(depths)
		for j, d := range depths {
			if !slices.Contains(s.Units[i].Depths, d) {
				return nil, at("depths", fmt.Errorf("depth %d outside unit %d's choices %v in %s", d, i+1, s.Units[i].Depths, s.Name))
			}
			if j > 0 && depths[j-1] == d {
				return nil, at("depths", fmt.Errorf("depth %d listed twice", d))
			}
		}
		if err := inRangeF(ur.MutationProb, 0, 1, false, "mutation probability; 0: the search default"); err != nil {
			return nil, at("mutation_prob", err)
		}
		// Keep the parent's block order so reduced spaces list blocks alike.
		u.Blocks = slices.DeleteFunc(u.Blocks, func(b Block) bool { return !slices.Contains(blocks, b) })
		u.Depths = depths
		u.MutationProb = ur.MutationProb
	}
	if err := out.Validate(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseReduction decodes a reduced-space TOML file and checks it against the
// known spaces (its parent must be one of them, or compatible with the
// space picked later). Errors name the file, line and key.
func ParseReduction(data []byte, file string, spaces *Spaces) (Reduction, error) {
	var doc struct {
		Reduced Reduction `toml:"reduced"`
	}
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return Reduction{}, TOMLError(file, data, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		path := strings.Split(und[0].String(), ".")
		return Reduction{}, fmt.Errorf("%s:%d: unknown key %s", file, LineOf(data, path), und[0])
	}
	r := doc.Reduced
	fe := func(err error, path ...string) error {
		return TOMLError(file, data, &FieldError{Path: append([]string{"reduced"}, path...), Err: err})
	}
	if r.Name == "" {
		return Reduction{}, fe(fmt.Errorf("missing: every reduced space needs a name"), "name")
	}
	parent, err := spaces.Get(r.Parent)
	if err != nil {
		return Reduction{}, fe(err, "parent")
	}
	if _, err := r.Apply(parent); err != nil {
		if f, ok := err.(*FieldError); ok {
			f.Path = append([]string{"reduced"}, f.Path...)
		}
		return Reduction{}, TOMLError(file, data, err)
	}
	return r, nil
}

// ApplyTo applies r to the named space, which may be the parent or any
// space compatible with it.
func (r Reduction) ApplyTo(s *Space) (*Space, error) {
	out, err := r.Apply(s)
	if err != nil {
		return nil, fmt.Errorf("reduced space %s (parent %s) does not fit space %s: %w", r.Name, r.Parent, s.Name, err)
	}
	return out, nil
}

// Marshal writes r as TOML with its provenance as comments. The output is
// deterministic: export → import → export gives identical bytes.
func (r Reduction) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# blockprof reduced search space %q (parent %s).\n", r.Name, r.Parent)
	if r.Device != "" || r.Statistic != "" {
		fmt.Fprintf(&b, "# Cuts motivated by device %s, statistic %s.\n", orDash(r.Device), orDash(r.Statistic))
	}
	b.WriteString("# Load it with `blockprof search --reduced FILE` or the explorer; it applies to any space with the same units.\n\n")
	b.WriteString("[reduced]\n")
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s = %s\n", k, strconv.Quote(v))
		}
	}
	kv("name", r.Name)
	kv("parent", r.Parent)
	kv("description", r.Description)
	kv("device", r.Device)
	kv("statistic", r.Statistic)
	kv("created", r.Created)
	kv("blockprof_version", r.Version)
	for i, u := range r.Units {
		fmt.Fprintf(&b, "\n# unit %d\n[[reduced.units]]\n", i+1)
		q := make([]string, len(u.Blocks))
		for j, k := range u.Blocks {
			q[j] = strconv.Quote(k)
		}
		fmt.Fprintf(&b, "blocks = [%s]\n", strings.Join(q, ", "))
		d := make([]string, len(u.Depths))
		for j, x := range u.Depths {
			d[j] = strconv.Itoa(x)
		}
		fmt.Fprintf(&b, "depths = [%s]\n", strings.Join(d, ", "))
		if u.MutationProb != 0 {
			fmt.Fprintf(&b, "mutation_prob = %s\n", strconv.FormatFloat(u.MutationProb, 'g', -1, 64))
		}
		if len(u.Reasons) > 0 {
			b.WriteString("reasons = [\n")
			for _, rs := range u.Reasons {
				fmt.Fprintf(&b, "  %s,\n", strconv.Quote(rs))
			}
			b.WriteString("]\n")
		}
	}
	return b.Bytes()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
