package model

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Spaces is an ordered set of spaces by name.
type Spaces struct {
	byName map[string]*Space
	names  []string
}

// NewSpaces collects spaces in the given order.
func NewSpaces(ss ...*Space) *Spaces {
	out := &Spaces{byName: map[string]*Space{}}
	for _, s := range ss {
		out.Add(s)
	}
	return out
}

// Add inserts or replaces a space.
func (s *Spaces) Add(sp *Space) {
	if _, ok := s.byName[sp.Name]; !ok {
		s.names = append(s.names, sp.Name)
	}
	s.byName[sp.Name] = sp
}

// Names lists the space names in file order.
func (s *Spaces) Names() []string { return slices.Clone(s.names) }

// Get returns a space by name, or an error listing the known names.
func (s *Spaces) Get(name string) (*Space, error) {
	if sp, ok := s.byName[name]; ok {
		return sp, nil
	}
	return nil, fmt.Errorf("unknown space %q (known: %s)", name, strings.Join(s.names, ", "))
}

// ParseSpaces decodes the [spaces.NAME] tables of a TOML document (other
// top-level tables are ignored). Errors name the file, line and key.
func ParseSpaces(data []byte, file string) (*Spaces, error) {
	var doc struct {
		Spaces map[string]SpaceTOML `toml:"spaces"`
	}
	md, err := toml.Decode(string(data), &doc)
	if err != nil {
		return nil, TOMLError(file, data, err)
	}
	// Keep file order: MetaData.Keys is in document order.
	var order []string
	for _, k := range md.Keys() {
		if len(k) == 2 && k[0] == "spaces" && !slices.Contains(order, k[1]) {
			order = append(order, k[1])
		}
	}
	out := NewSpaces()
	for _, name := range order {
		sp, err := doc.Spaces[name].Space(name)
		if err != nil {
			return nil, TOMLError(file, data, err)
		}
		out.Add(sp)
	}
	return out, nil
}

// TOMLError turns a decoding or field error into one that names the file,
// line and key.
func TOMLError(file string, data []byte, err error) error {
	var pe toml.ParseError
	if errors.As(err, &pe) {
		key := ""
		if pe.LastKey != "" {
			key = fmt.Sprintf(" (key %s)", pe.LastKey)
		}
		return fmt.Errorf("%s:%d:%d: %s%s", file, pe.Position.Line, pe.Position.Col, pe.Message, key)
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		if line := LineOf(data, fe.Path); line > 0 {
			return fmt.Errorf("%s:%d: %s: %v", file, line, keyPath(fe.Path), fe.Err)
		}
		return fmt.Errorf("%s: %s: %v", file, keyPath(fe.Path), fe.Err)
	}
	if m := decodeErr.FindStringSubmatch(err.Error()); m != nil {
		return fmt.Errorf("%s:%s: %s: %s", file, m[1], m[2], m[3])
	}
	return fmt.Errorf("%s: %w", file, err)
}

// decodeErr matches BurntSushi/toml's type errors, which carry the line and
// key only in their text.
var decodeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// LineOf finds the 1-based line of a key path in a TOML document, or of the
// closest table that holds it; 0 if not found. Numeric path elements are
// 1-based indices of array tables ([[...]]). It understands the subset of
// TOML that config files use (tables, array tables, dotted keys).
func LineOf(data []byte, path []string) int {
	// Split the path into the table part and a trailing key.
	type want struct {
		table string
		index int // 1-based array-table index, 0 for a plain table
	}
	var wants []want
	cur := ""
	for i := 0; i < len(path); i++ {
		if n, err := strconv.Atoi(path[i]); err == nil && i > 0 {
			wants = append(wants, want{cur, n})
			continue
		}
		if cur != "" {
			cur += "."
		}
		cur += path[i]
	}
	key := ""
	if len(path) > 0 {
		if _, err := strconv.Atoi(path[len(path)-1]); err != nil {
			key = path[len(path)-1]
		}
	}
	lines := strings.Split(string(data), "\n")
	best := 0
	counts := map[string]int{}
	inTarget := false
	for i, raw := range lines {
		l := strings.TrimSpace(raw)
		if strings.HasPrefix(l, "[") {
			arr := strings.HasPrefix(l, "[[")
			name := strings.Trim(strings.SplitN(l, "]", 2)[0], "[ ")
			if arr {
				name = strings.Trim(strings.SplitN(strings.TrimPrefix(l, "[["), "]]", 2)[0], " ")
				counts[name]++
			}
			inTarget = false
			// A table header matches when it is a prefix of the wanted path
			// with the right array index.
			full := strings.Join(nonNumeric(path), ".")
			if strings.HasPrefix(full+".", name+".") {
				ok := true
				for _, w := range wants {
					if strings.HasPrefix(name+".", w.table+".") && counts[w.table] != w.index {
						ok = false
					}
				}
				if ok {
					best = i + 1
					inTarget = name == strings.TrimSuffix(full, "."+key) || name == full
				}
			}
			continue
		}
		if inTarget && key != "" {
			k, _, ok := strings.Cut(l, "=")
			if ok && strings.Trim(strings.TrimSpace(k), `"`) == key {
				return i + 1
			}
		}
	}
	return best
}

func nonNumeric(p []string) []string {
	var out []string
	for i, s := range p {
		if _, err := strconv.Atoi(s); err == nil && i > 0 {
			continue
		}
		out = append(out, s)
	}
	return out
}
