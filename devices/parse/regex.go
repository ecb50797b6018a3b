package parse

import (
	"fmt"
	"regexp"
	"strings"
)

// LatencyGroup is the name of the capturing group NewRegex reads when the
// expression has one: (?P<latency>...).
const LatencyGroup = "latency"

// Regex reads every match of a user expression as one per-run sample.
type Regex struct {
	re    *regexp.Regexp
	group int
	unit  string
	scale float64
}

// NewRegex returns a parser that reads one latency sample from each match of
// expr (RE2 syntax, matched in multi-line mode so ^ and $ match at line
// ends). The latency is the group named "latency" if expr has one, else its
// first capturing group. unit is the unit the tool prints: ms (the default
// when empty), us or s.
func NewRegex(expr, unit string) (*Regex, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, fmt.Errorf("parser regex needs an expression, e.g. `time: (\\d+\\.?\\d*) ms`")
	}
	re, err := regexp.Compile("(?m)" + expr)
	if err != nil {
		return nil, fmt.Errorf("parser regex: bad expression %q: %w", expr, err)
	}
	if re.NumSubexp() == 0 {
		return nil, fmt.Errorf("parser regex: expression %q has no capturing group: put the latency in ( ) or (?P<%s> )", expr, LatencyGroup)
	}
	if unit == "" {
		unit = "ms"
	}
	scale, ok := unitScale(unit)
	if !ok || (unit != "ms" && unit != "us" && unit != "s") {
		return nil, fmt.Errorf("parser regex: unit %q is not ms, us or s", unit)
	}
	group := 1
	if i := re.SubexpIndex(LatencyGroup); i > 0 {
		group = i
	}
	return &Regex{re: re, group: group, unit: unit, scale: scale}, nil
}

// Name implements Parser.
func (*Regex) Name() string { return nameRegex }

// String describes the parser, e.g. in error messages and logs.
func (p *Regex) String() string {
	return fmt.Sprintf("regex %q (%s)", strings.TrimPrefix(p.re.String(), "(?m)"), p.unit)
}

// Parse implements Parser.
func (p *Regex) Parse(out []byte) (Result, error) {
	expr := strings.TrimPrefix(p.re.String(), "(?m)")
	r := Result{Tool: nameRegex, Metric: "regex " + expr}
	var raw rawLines
	for _, m := range p.re.FindAllSubmatchIndex(out, -1) {
		whole := string(out[m[0]:m[1]])
		lo, hi := m[2*p.group], m[2*p.group+1]
		if lo < 0 {
			return Result{}, formatErr(nameRegex, out, "matches %q of regex %q, but its latency group captured nothing", whole, expr)
		}
		v, err := toMs(string(out[lo:hi]), p.unit)
		if err != nil {
			return Result{}, formatErr(nameRegex, out, "matches %q of regex %q, but its latency group is bad: %v", whole, expr, err)
		}
		r.SamplesMs = append(r.SamplesMs, v)
		raw.add(whole)
	}
	if len(r.SamplesMs) == 0 {
		return Result{}, formatErr(nameRegex, out, "has no match for regex %q", expr)
	}
	r.Raw = raw.String()
	return finish(r), nil
}
