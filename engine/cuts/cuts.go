// Package cuts holds the current cuts of one search space: per unit the
// pruned blocks and the allowed depth range [min, max], each cut with the
// reasons behind it. It is data only (no I/O): the explorer edits it, the
// session stores it, suggestions become one and merge into one, and it
// converts to and from the reduced-space TOML (model.Reduction), which is
// also its stored form.
//
// A Cuts is a value. Every edit returns a new Cuts and never changes the
// receiver, so copies may be kept and shared freely.
//
// # Reasons
//
// A reduced-space file holds a unit's reasons as lines. A line that starts
// with the key of one of the unit's cuts belongs to that cut:
//
//	remove <block>: <text>    the unit prunes <block> (its key, e.g. e6k7)
//	min depth <d>: <text>     the unit's depth range starts at d (above the space's smallest depth)
//	max depth <d>: <text>     the unit's depth range ends at d (below the space's largest depth)
//
// Any other line, including a keyed line that names a cut the unit does not
// make, is a reason of the unit's cuts as a whole. Un-pruning a block (or
// widening a bound back to the space's) removes that cut's lines; the
// unit-wide lines go when the unit has no cut left (no pruned block, the
// space's full depth range and the space's mutation probability).
// Reduction writes the unit-wide lines first, then each pruned block's in
// the space's block order, then the min bound's, then the max bound's, so
// Reduction → FromReduction → Reduction gives the same file.
package cuts

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"blockprof/model"
)

// Cuts are the current cuts of one space. The zero value has no space and
// refuses edits.
type Cuts struct {
	sp *model.Space
	// name is the reduced space's name (a loaded file's, or a default).
	name string
	// origin says where the cuts came from; it is the file's description.
	origin string
	// Provenance of a loaded file or suggestion, written back unchanged.
	device, statistic, version string
	units                      []unit
}

// unit is one unit's cuts. Reason slices hold what follows "key:" on each
// line (usually a space and the text), so a line keeps its exact bytes
// when its key changes; why holds whole unit-wide lines.
type unit struct {
	pruned         []pruned // in the space's block order
	min, max       int
	minWhy, maxWhy []string
	why            []string
	mutation       float64
}

type pruned struct {
	key string
	why []string
}

// BlockKey is the reason key of pruning block (a block key, e.g. "e6k7"):
// "remove e6k7".
func BlockKey(block string) string { return "remove " + block }

// MinDepthKey is the reason key of a unit's depth range starting at d:
// "min depth 3".
func MinDepthKey(d int) string { return "min depth " + strconv.Itoa(d) }

// MaxDepthKey is the reason key of a unit's depth range ending at d:
// "max depth 3".
func MaxDepthKey(d int) string { return "max depth " + strconv.Itoa(d) }

// New returns no cuts of sp: every block and depth allowed.
func New(sp *model.Space) Cuts {
	if sp == nil {
		return Cuts{}
	}
	c := Cuts{sp: sp, name: sp.Name + "-cuts", units: make([]unit, len(sp.Units))}
	for i, u := range sp.Units {
		c.units[i] = unit{min: u.MinDepth(), max: u.MaxDepth(), mutation: u.MutationProb}
	}
	return c
}

// Space is the space the cuts apply to (nil for the zero value).
func (c Cuts) Space() *model.Space { return c.sp }

// Parent is the space's name ("" for the zero value).
func (c Cuts) Parent() string {
	if c.sp == nil {
		return ""
	}
	return c.sp.Name
}

// Origin says where the cuts came from, e.g. a loaded file's description
// or "suggested from cpu latency (measured) and proxy"; "" for cuts made by
// hand only. Reduction writes it as the description.
func (c Cuts) Origin() string { return c.origin }

// WithOrigin returns c with its origin replaced.
func (c Cuts) WithOrigin(origin string) Cuts {
	c.origin = origin
	return c
}

// Units is the number of units (0 for the zero value).
func (c Cuts) Units() int { return len(c.units) }

// unitAt checks a 1-based unit number.
func (c Cuts) unitAt(u int) error {
	if c.sp == nil {
		return errors.New("cuts: no search space")
	}
	if u < 1 || u > len(c.units) {
		return fmt.Errorf("cuts: unit %d outside 1..%d of space %s", u, len(c.units), c.sp.Name)
	}
	return nil
}

// Pruned reports whether unit (1-based) prunes block (a key).
func (c Cuts) Pruned(u int, block string) bool {
	if c.unitAt(u) != nil {
		return false
	}
	return c.units[u-1].find(block) >= 0
}

// Depths is unit's allowed depth range (0, 0 for a unit that does not
// exist).
func (c Cuts) Depths(u int) (lo, hi int) {
	if c.unitAt(u) != nil {
		return 0, 0
	}
	return c.units[u-1].min, c.units[u-1].max
}

// Why lists the reason lines of unit's pruned block (nil when not pruned).
func (c Cuts) Why(u int, block string) []string {
	if c.unitAt(u) != nil {
		return nil
	}
	cu := c.units[u-1]
	if i := cu.find(block); i >= 0 {
		return lines(BlockKey(block), cu.pruned[i].why)
	}
	return nil
}

// DepthWhy lists the reason lines of unit's min and max bound.
func (c Cuts) DepthWhy(u int) (lo, hi []string) {
	if c.unitAt(u) != nil {
		return nil, nil
	}
	cu := c.units[u-1]
	return lines(MinDepthKey(cu.min), cu.minWhy), lines(MaxDepthKey(cu.max), cu.maxWhy)
}

// UnitWhy lists unit's reasons that name no single cut.
func (c Cuts) UnitWhy(u int) []string {
	if c.unitAt(u) != nil {
		return nil
	}
	return slices.Clone(c.units[u-1].why)
}

// Counts is the number of pruned (unit, block) cells and of units whose
// depth range is narrower than the space's.
func (c Cuts) Counts() (blocks, depths int) {
	for i, cu := range c.units {
		blocks += len(cu.pruned)
		if c.depthCut(i) {
			depths++
		}
	}
	return blocks, depths
}

// Equal reports whether c and o are the same cuts of the same space (by
// name) with the same reasons and provenance: the same stored form.
func (c Cuts) Equal(o Cuts) bool { return bytes.Equal(c.Marshal(), o.Marshal()) }

func (c Cuts) depthCut(i int) bool {
	u := c.sp.Units[i]
	return c.units[i].min != u.MinDepth() || c.units[i].max != u.MaxDepth()
}

// changed reports whether unit i differs from the space at all.
func (c Cuts) changed(i int) bool {
	return len(c.units[i].pruned) > 0 || c.depthCut(i) || c.units[i].mutation != c.sp.Units[i].MutationProb
}

// normalize drops the unit-wide reasons of a unit that no longer differs
// from the space.
func (c *Cuts) normalize(i int) {
	if !c.changed(i) {
		c.units[i].why = nil
	}
}

func (u unit) find(block string) int {
	return slices.IndexFunc(u.pruned, func(p pruned) bool { return p.key == block })
}

func (u unit) clone() unit {
	u.pruned = slices.Clone(u.pruned)
	for i := range u.pruned {
		u.pruned[i].why = slices.Clone(u.pruned[i].why)
	}
	u.minWhy, u.maxWhy, u.why = slices.Clone(u.minWhy), slices.Clone(u.maxWhy), slices.Clone(u.why)
	return u
}

// edit returns a copy of c whose unit u (1-based) may be changed in place.
func (c Cuts) edit(u int) (Cuts, *unit) {
	c.units = slices.Clone(c.units)
	c.units[u-1] = c.units[u-1].clone()
	return c, &c.units[u-1]
}

// rest turns a reason given by a caller into what follows its key: the
// text after "key:" when it already starts with the key, else " text".
func rest(key, reason string) []string {
	if strings.TrimSpace(reason) == "" {
		return nil
	}
	if r, ok := strings.CutPrefix(reason, key+":"); ok {
		return []string{r}
	}
	return []string{" " + reason}
}

func lines(key string, rests []string) []string {
	if len(rests) == 0 {
		return nil
	}
	out := make([]string, len(rests))
	for i, r := range rests {
		out[i] = key + ":" + r
	}
	return out
}

// addNew appends the entries of add not already in to.
func addNew(to, add []string) []string {
	for _, s := range add {
		if !slices.Contains(to, s) {
			to = append(to, s)
		}
	}
	return to
}

// blockOf checks that block is a choice of unit u (1-based) and returns
// its key.
func (c Cuts) blockOf(u int, block string) (string, error) {
	b, err := model.ParseBlock(block)
	if err != nil {
		return "", fmt.Errorf("cuts: unit %d: %w", u, err)
	}
	su := c.sp.Units[u-1]
	if !su.Allows(b) {
		keys := make([]string, len(su.Blocks))
		for i, x := range su.Blocks {
			keys[i] = x.Key()
		}
		return "", fmt.Errorf("cuts: %s is not a choice of unit %d in %s (choices: %s)", b.Key(), u, c.sp.Name, strings.Join(keys, " "))
	}
	return b.Key(), nil
}

// prune adds block (a checked key) to unit u's pruned blocks, keeping the
// space's order; it refuses to prune the unit's last block.
func (c Cuts) prune(cu *unit, u int, block string, why []string) error {
	su := c.sp.Units[u-1]
	if len(cu.pruned)+1 >= len(su.Blocks) {
		return fmt.Errorf("cuts: unit %d needs at least one block: %s is its last", u, block)
	}
	cu.pruned = append(cu.pruned, pruned{key: block, why: why})
	order := func(k string) int {
		return slices.IndexFunc(su.Blocks, func(b model.Block) bool { return b.Key() == k })
	}
	slices.SortStableFunc(cu.pruned, func(a, b pruned) int { return order(a.key) - order(b.key) })
	return nil
}

// TogglePrune prunes block (a key such as "e6k7") from unit u (1-based)
// with reason, or keeps it again (dropping its reasons) when it is pruned.
// It refuses to prune a unit's last block.
func (c Cuts) TogglePrune(u int, block, reason string) (Cuts, error) {
	if err := c.unitAt(u); err != nil {
		return c, err
	}
	key, err := c.blockOf(u, block)
	if err != nil {
		return c, err
	}
	out, cu := c.edit(u)
	if i := cu.find(key); i >= 0 {
		cu.pruned = slices.Delete(cu.pruned, i, i+1)
	} else if err := out.prune(cu, u, key, rest(BlockKey(key), reason)); err != nil {
		return c, err
	}
	out.normalize(u - 1)
	return out, nil
}

// SetDepths sets unit u's (1-based) depth range to [lo, hi], both depths
// of the space's unit. A bound that changes takes reason (a bound back at
// the space's own has none); an unchanged bound keeps its reasons.
func (c Cuts) SetDepths(u, lo, hi int, reason string) (Cuts, error) {
	if err := c.unitAt(u); err != nil {
		return c, err
	}
	su := c.sp.Units[u-1]
	for _, d := range []int{lo, hi} {
		if !slices.Contains(su.Depths, d) {
			return c, fmt.Errorf("cuts: depth %d is not a choice of unit %d in %s (choices %v)", d, u, c.sp.Name, su.Depths)
		}
	}
	if lo > hi {
		return c, fmt.Errorf("cuts: unit %d: min depth %d above max depth %d", u, lo, hi)
	}
	cur := c.units[u-1]
	if cur.min == lo && cur.max == hi {
		return c, nil
	}
	out, cu := c.edit(u)
	if lo != cu.min {
		cu.min, cu.minWhy = lo, nil
		if lo != su.MinDepth() {
			cu.minWhy = rest(MinDepthKey(lo), reason)
		}
	}
	if hi != cu.max {
		cu.max, cu.maxWhy = hi, nil
		if hi != su.MaxDepth() {
			cu.maxWhy = rest(MaxDepthKey(hi), reason)
		}
	}
	out.normalize(u - 1)
	return out, nil
}

// MergeReport says what Merge did, one line per cut ("unit 4: remove
// e6k7", "unit 2: max depth 3 (was 4)").
type MergeReport struct {
	// Added are the cuts that were new.
	Added []string
	// Held are the cuts the current cuts already made (or made tighter);
	// their reasons gained the merged ones.
	Held []string
	// Skipped are the cuts left out because they conflict with the
	// current ones, each with why.
	Skipped []string
}

// String summarises the report, e.g. "added 9 cuts, 2 already held, 1
// skipped (unit 1: remove e6k5 would leave the unit without a block)".
func (r MergeReport) String() string {
	s := fmt.Sprintf("added %d %s, %d already held", len(r.Added), plural(len(r.Added), "cut"), len(r.Held))
	if len(r.Skipped) > 0 {
		s += fmt.Sprintf(", %d skipped (%s)", len(r.Skipped), strings.Join(r.Skipped, "; "))
	}
	return s
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// Merge adds the cuts of s (typically a suggestion) to c. It never removes
// or widens a cut of c: a block both prune keeps c's reasons and gains
// s's, a bound s tightens takes s's reasons first and keeps c's, and a cut
// of s that would empty a unit (or cross its bounds) is skipped. Origin and
// provenance that c lacks come from s.
func (c Cuts) Merge(s Cuts) (Cuts, MergeReport) {
	var rep MergeReport
	if c.sp == nil || s.sp == nil || s.sp.Name != c.sp.Name || len(s.units) != len(c.units) {
		rep.Skipped = append(rep.Skipped, fmt.Sprintf("cuts of space %q cannot merge into cuts of space %q", s.Parent(), c.Parent()))
		return c, rep
	}
	out := c
	out.units = slices.Clone(c.units)
	for i := range out.units {
		u := i + 1
		su := s.units[i]
		sp := c.sp.Units[i]
		cu := out.units[i].clone()
		for _, p := range su.pruned {
			what := fmt.Sprintf("unit %d: %s", u, BlockKey(p.key))
			if j := cu.find(p.key); j >= 0 {
				cu.pruned[j].why = addNew(cu.pruned[j].why, p.why)
				rep.Held = append(rep.Held, what)
				continue
			}
			if err := out.prune(&cu, u, p.key, slices.Clone(p.why)); err != nil {
				rep.Skipped = append(rep.Skipped, what+" would leave the unit without a block")
				continue
			}
			rep.Added = append(rep.Added, what)
		}
		if su.max != sp.MaxDepth() {
			what := fmt.Sprintf("unit %d: %s", u, MaxDepthKey(su.max))
			switch {
			case su.max >= cu.max:
				if su.max == cu.max {
					cu.maxWhy = addNew(cu.maxWhy, su.maxWhy)
				}
				rep.Held = append(rep.Held, what)
			case su.max < cu.min:
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s is below the unit's min depth %d", what, cu.min))
			default:
				rep.Added = append(rep.Added, fmt.Sprintf("%s (was %d)", what, cu.max))
				cu.max, cu.maxWhy = su.max, addNew(slices.Clone(su.maxWhy), cu.maxWhy)
			}
		}
		if su.min != sp.MinDepth() {
			what := fmt.Sprintf("unit %d: %s", u, MinDepthKey(su.min))
			switch {
			case su.min <= cu.min:
				if su.min == cu.min {
					cu.minWhy = addNew(cu.minWhy, su.minWhy)
				}
				rep.Held = append(rep.Held, what)
			case su.min > cu.max:
				rep.Skipped = append(rep.Skipped, fmt.Sprintf("%s is above the unit's max depth %d", what, cu.max))
			default:
				rep.Added = append(rep.Added, fmt.Sprintf("%s (was %d)", what, cu.min))
				cu.min, cu.minWhy = su.min, addNew(slices.Clone(su.minWhy), cu.minWhy)
			}
		}
		cu.why = addNew(cu.why, su.why)
		out.units[i] = cu
		out.normalize(i)
	}
	if len(rep.Added) > 0 || len(rep.Held) > 0 {
		switch {
		case out.origin == "":
			out.origin = s.origin
		case s.origin != "" && !strings.Contains(out.origin, s.origin):
			out.origin += "; merged: " + s.origin
		}
		if out.device == "" {
			out.device = s.device
		}
		if out.statistic == "" {
			out.statistic = s.statistic
		}
	}
	return out, rep
}

// Reduction is the reduced space the cuts describe, named name (the
// loaded file's name, or "<space>-cuts", when name is empty). Its reasons
// are exactly the cuts' (see the package comment for their order); its
// description is the origin; Created stays empty for the writer to set.
func (c Cuts) Reduction(name string) model.Reduction {
	if name == "" {
		name = c.name
	}
	r := model.Reduction{Name: name, Parent: c.Parent(), Description: c.origin, Device: c.device, Statistic: c.statistic, Version: c.version}
	if c.sp == nil {
		return r
	}
	for i, su := range c.sp.Units {
		cu := c.units[i]
		ur := model.UnitReduction{MutationProb: cu.mutation}
		for _, b := range su.Blocks {
			if cu.find(b.Key()) < 0 {
				ur.Blocks = append(ur.Blocks, b.Key())
			}
		}
		for _, d := range su.Depths {
			if d >= cu.min && d <= cu.max {
				ur.Depths = append(ur.Depths, d)
			}
		}
		ur.Reasons = append(ur.Reasons, cu.why...)
		for _, p := range cu.pruned {
			ur.Reasons = append(ur.Reasons, lines(BlockKey(p.key), p.why)...)
		}
		ur.Reasons = append(ur.Reasons, lines(MinDepthKey(cu.min), cu.minWhy)...)
		ur.Reasons = append(ur.Reasons, lines(MaxDepthKey(cu.max), cu.maxWhy)...)
		r.Units = append(r.Units, ur)
	}
	return r
}

// FromReduction reads a reduced space (a file parsed by
// model.ParseReduction, whose parent is sp or compatible with it) as cuts
// of sp, keeping its reasons (keyed lines go to their cuts, see the package
// comment), name, description (as the origin) and provenance. Each unit's
// depths must be a range of the space's depths (no gaps).
func FromReduction(sp *model.Space, r model.Reduction) (Cuts, error) {
	if sp == nil {
		return Cuts{}, errors.New("cuts: no search space to apply the reduced space to")
	}
	applied, err := r.ApplyTo(sp)
	if err != nil {
		return Cuts{}, err
	}
	c := New(sp)
	c.name, c.origin, c.device, c.statistic, c.version = r.Name, r.Description, r.Device, r.Statistic, r.Version
	if c.name == "" {
		c.name = sp.Name + "-cuts"
	}
	for i, su := range sp.Units {
		au := applied.Units[i]
		cu := &c.units[i]
		cu.mutation = au.MutationProb
		for _, b := range su.Blocks {
			if !au.Allows(b) {
				cu.pruned = append(cu.pruned, pruned{key: b.Key()})
			}
		}
		lo := slices.Index(su.Depths, au.Depths[0])
		if lo < 0 || len(su.Depths) < lo+len(au.Depths) || !slices.Equal(su.Depths[lo:lo+len(au.Depths)], au.Depths) {
			return Cuts{}, &model.FieldError{Path: []string{"reduced", "units", strconv.Itoa(i + 1), "depths"},
				Err: fmt.Errorf("depths %v of unit %d skip a depth of the space's %v: cuts keep a range of depths per unit, so list every depth from %d to %d",
					au.Depths, i+1, su.Depths, au.Depths[0], au.Depths[len(au.Depths)-1])}
		}
		cu.min, cu.max = au.Depths[0], au.Depths[len(au.Depths)-1]
		for _, line := range r.Units[i].Reasons {
			cu.attach(su, line)
		}
		c.normalize(i)
	}
	return c, nil
}

// attach gives a reason line to the cut its key names, or to the unit.
func (cu *unit) attach(su model.Unit, line string) {
	for j, p := range cu.pruned {
		if r, ok := strings.CutPrefix(line, BlockKey(p.key)+":"); ok {
			cu.pruned[j].why = append(cu.pruned[j].why, r)
			return
		}
	}
	if cu.min != su.MinDepth() {
		if r, ok := strings.CutPrefix(line, MinDepthKey(cu.min)+":"); ok {
			cu.minWhy = append(cu.minWhy, r)
			return
		}
	}
	if cu.max != su.MaxDepth() {
		if r, ok := strings.CutPrefix(line, MaxDepthKey(cu.max)+":"); ok {
			cu.maxWhy = append(cu.maxWhy, r)
			return
		}
	}
	cu.why = append(cu.why, line)
}

// Parse reads a reduced-space TOML file (an export, spaces/*.toml) as cuts
// of sp. Its parent must be one of spaces and sp compatible with it.
// Errors name the file, line and key.
func Parse(sp *model.Space, spaces *model.Spaces, data []byte, file string) (Cuts, error) {
	r, err := model.ParseReduction(data, file, spaces)
	if err != nil {
		return Cuts{}, err
	}
	c, err := FromReduction(sp, r)
	if err != nil {
		return Cuts{}, model.TOMLError(file, data, err)
	}
	return c, nil
}

// Marshal is the stored form of c: the reduced-space TOML of
// c.Reduction("") (nil for the zero value).
func (c Cuts) Marshal() []byte {
	if c.sp == nil {
		return nil
	}
	return c.Reduction("").Marshal()
}

// Unmarshal reads cuts of sp stored by Marshal.
func Unmarshal(sp *model.Space, data []byte) (Cuts, error) {
	if sp == nil {
		return Cuts{}, errors.New("cuts: no search space to read stored cuts for")
	}
	return Parse(sp, model.NewSpaces(sp), data, "stored cuts of "+sp.Name)
}

// Describe lists the cuts for a preview, one line per cut ("unit 4:
// remove e6k7: <reasons>", "unit 2: max depth 3 (of 4): <reasons>"), then
// per unit the reasons that name no single cut and a mutation probability
// of its own.
func (c Cuts) Describe() []string {
	var out []string
	for i := range c.units {
		cu, su, u := c.units[i], c.sp.Units[i], i+1
		why := func(rs []string) string {
			if len(rs) == 0 {
				return " (no reason given)"
			}
			t := make([]string, len(rs))
			for i, r := range rs {
				t[i] = strings.TrimSpace(r)
			}
			return ": " + strings.Join(t, "; ")
		}
		for _, p := range cu.pruned {
			out = append(out, fmt.Sprintf("unit %d: %s%s", u, BlockKey(p.key), why(p.why)))
		}
		if cu.min != su.MinDepth() {
			out = append(out, fmt.Sprintf("unit %d: %s (of %d)%s", u, MinDepthKey(cu.min), su.MinDepth(), why(cu.minWhy)))
		}
		if cu.max != su.MaxDepth() {
			out = append(out, fmt.Sprintf("unit %d: %s (of %d)%s", u, MaxDepthKey(cu.max), su.MaxDepth(), why(cu.maxWhy)))
		}
		if cu.mutation != su.MutationProb {
			out = append(out, fmt.Sprintf("unit %d: mutation probability %g", u, cu.mutation))
		}
		for _, w := range cu.why {
			out = append(out, fmt.Sprintf("unit %d: %s", u, w))
		}
	}
	return out
}
