package reduce

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/model"
)

// Evidence is one statistic behind a suggestion.
type Evidence struct {
	// Statistic says what was estimated, e.g. "latency: e6k7 − e6k5 in
	// unit 3 (regression per-(unit, block) effect difference)".
	Statistic string            `json:"statistic"`
	Estimate  analysis.Estimate `json:"estimate"`
}

// Impact is what a reduction changes, for uniform draws of the reduced
// space against uniform draws of the parent, by the regression estimator.
type Impact struct {
	// Latency is the change of the mean (negative: faster).
	Latency analysis.Estimate `json:"latency"`
	// Quality is the change of the quality metric's mean (nil without
	// one); QualityLabel names it ("accuracy (table)", "proxy", "MACs").
	Quality      *analysis.Estimate `json:"quality,omitempty"`
	QualityLabel string             `json:"quality_label,omitempty"`
}

// Suggestion is one proposed cut with its evidence.
type Suggestion struct {
	// Kind is "remove-blocks", "max-depth" or "min-depth".
	Kind  string `json:"kind"`
	Units []int  `json:"units"`
	// Blocks (remove-blocks) and Selector: "k=7" when every block of a
	// level goes, else the block keys joined by ",".
	Blocks   []string `json:"blocks,omitempty"`
	Selector string   `json:"selector,omitempty"`
	// Depth is the cap (max-depth) or floor (min-depth).
	Depth int `json:"depth,omitempty"`
	// Rule is the statement in the rule language.
	Rule     string     `json:"rule"`
	Text     string     `json:"text"`
	Impact   Impact     `json:"impact"`
	Evidence []Evidence `json:"evidence"`
}

// Options tune Suggest.
type Options struct {
	// LatencyTol is the smallest latency difference that counts, as a
	// fraction of the baseline mean latency (default 0.005).
	LatencyTol float64
	// QualityTol is the smallest quality difference that counts, in the
	// quality metric's units (default 0.05 for a metric in %, else 0.1% of
	// the quality baseline).
	QualityTol float64
	// Name of the reduction (default "<space>-<device>-suggested").
	Name string
}

// Suggest proposes a reduction for the device of lat from the regression
// estimator's friendliness tables.
//
// A block b is removed from unit u when another block b' of the unit
// dominates it: b' is significantly faster (the interval of lat(b') − lat(b)
// lies below −LatencyTol) at a quality no worse than b's within QualityTol,
// or b' is significantly better in quality (beyond QualityTol) at a latency
// no worse than b's within LatencyTol. A unit's largest depth is capped when
// the step to it costs significant latency for a quality gain within
// QualityTol; its smallest depth is raised when the step up costs no
// latency (within LatencyTol) and gains significant quality. Without a
// quality report nothing is dominated (a faster block may be a worse one),
// so Suggest returns no cuts and says so. Removals of the same block (or
// of every block of one kernel or expansion) across units are grouped into
// one suggestion, each with its impact on the mean latency and quality of
// uniform archs, with intervals.
func Suggest(lat, quality *analysis.Report, opt Options) (Reduction, error) {
	if lat == nil || lat.Fit() == nil {
		return Reduction{}, errors.New("reduce: suggestions need the regression estimator on the latency series (plan enough uniform archs: a few more than half the model's coefficients)")
	}
	sp := lat.SpaceDef()
	var qf *analysis.Fit
	if quality != nil {
		if quality.Fit() == nil {
			return Reduction{}, fmt.Errorf("reduce: the quality series %s has no regression fit (%s)", quality.Metric, strings.Join(quality.Notes, "; "))
		}
		if !quality.SpaceDef().Compatible(sp) || len(quality.SpaceDef().Units) != len(sp.Units) {
			return Reduction{}, fmt.Errorf("reduce: the quality series is of space %s, the latency series of %s", quality.Space, lat.Space)
		}
		qf = quality.Fit()
	}
	lf := lat.Fit()
	if opt.LatencyTol <= 0 {
		opt.LatencyTol = 0.005
	}
	latTol := opt.LatencyTol * math.Abs(lat.Baseline.Value)
	qTol := opt.QualityTol
	if quality != nil && qTol <= 0 {
		qTol = 0.001 * math.Abs(quality.Baseline.Value)
		if quality.Unit == "%" {
			qTol = 0.05
		}
	}
	if opt.Name == "" {
		opt.Name = sp.Name + "-" + orMetric(lat.Device, lat.Metric) + "-suggested"
	}
	red := Identity(sp, opt.Name)
	red.Device = lat.Device
	red.Statistic = "regression estimator (additive model on uniform archs)"
	red.Description = fmt.Sprintf("suggested from %s %s (%s)", orMetric(lat.Device, ""), lat.Metric, lat.Label)
	if quality == nil {
		red.Description += "; no quality metric given, so no block is dominated and nothing is cut"
		return red, nil
	}
	qLabel := qualityLabel(quality)
	red.Description += fmt.Sprintf(" and %s", qLabel)
	latName := orMetric(lat.Device, lat.Metric)

	// Block dominance, per unit.
	type removal struct {
		unit int
		b    model.Block
		ev   []Evidence
	}
	var removals []removal
	for i, u := range sp.Units {
		var gone []removal
		for _, b := range u.Blocks {
			for _, b2 := range u.Blocks {
				if b2 == b {
					continue
				}
				dl, err1 := lf.BlockDiff(i+1, b2, b)
				dq, err2 := qf.BlockDiff(i+1, b2, b)
				if err1 != nil || err2 != nil {
					continue
				}
				faster := dl.HasCI() && dl.Hi < -latTol && dq.Value >= -qTol
				better := dq.HasCI() && dq.Lo > qTol && dl.Value <= latTol
				if !faster && !better {
					continue
				}
				why := "faster at no worse " + qLabel
				if !faster {
					why = "better " + qLabel + " at no higher latency"
				}
				gone = append(gone, removal{i + 1, b, []Evidence{
					{fmt.Sprintf("unit %d: %s dominated by %s (%s): latency %s − %s on %s", i+1, b.Key(), b2.Key(), why, b2.Key(), b.Key(), latName), dl},
					{fmt.Sprintf("unit %d: %s %s − %s", i+1, qLabel, b2.Key(), b.Key()), dq},
				}})
				break
			}
		}
		if len(gone) == len(u.Blocks) { // a cycle of near-ties: keep the unit whole
			continue
		}
		removals = append(removals, gone...)
	}
	// Group removals: the same set of units per block, then whole levels.
	byBlock := map[model.Block][]int{}
	var order []model.Block
	for _, r := range removals {
		if _, ok := byBlock[r.b]; !ok {
			order = append(order, r.b)
		}
		byBlock[r.b] = append(byBlock[r.b], r.unit)
	}
	slices.SortStableFunc(order, func(a, b model.Block) int {
		return slices.Index(sp.BlockChoices(), a) - slices.Index(sp.BlockChoices(), b)
	})
	type group struct {
		units  []int
		blocks []model.Block
	}
	var groups []group
	for _, b := range order {
		us := byBlock[b]
		gi := slices.IndexFunc(groups, func(g group) bool { return slices.Equal(g.units, us) })
		if gi < 0 {
			groups = append(groups, group{units: us})
			gi = len(groups) - 1
		}
		groups[gi].blocks = append(groups[gi].blocks, b)
	}
	var sugg []Suggestion
	for _, g := range groups {
		for _, part := range splitByLevel(sp, g.units, g.blocks) {
			sel := selectorFor(sp, g.units, part)
			s := Suggestion{Kind: "remove-blocks", Units: g.units, Selector: sel}
			for _, b := range part {
				s.Blocks = append(s.Blocks, b.Key())
			}
			s.Rule = "remove " + sel + unitsClause(sp, g.units)
			for _, r := range removals {
				if slices.Contains(part, r.b) && slices.Contains(g.units, r.unit) {
					s.Evidence = append(s.Evidence, r.ev...)
				}
			}
			sugg = append(sugg, s)
		}
	}
	// Depth caps and floors.
	type depthCut struct {
		unit, depth int
		kind        string
		ev          []Evidence
	}
	var cuts []depthCut
	for i, u := range sp.Units {
		ds := u.Depths
		top := len(ds) - 1
		var ev []Evidence
		for top > 0 {
			dl, err1 := lf.DepthDiff(i+1, ds[top], ds[top-1])
			dq, err2 := qf.DepthDiff(i+1, ds[top], ds[top-1])
			if err1 != nil || err2 != nil || !(dl.HasCI() && dl.Lo > latTol && dq.Value <= qTol) {
				break
			}
			ev = append(ev,
				Evidence{fmt.Sprintf("unit %d: latency of depth %d − depth %d on %s (regression per-(unit, depth) effect difference)", i+1, ds[top], ds[top-1], latName), dl},
				Evidence{fmt.Sprintf("unit %d: %s of depth %d − depth %d", i+1, qLabel, ds[top], ds[top-1]), dq})
			top--
		}
		if top < len(ds)-1 {
			cuts = append(cuts, depthCut{i + 1, ds[top], "max-depth", ev})
			continue
		}
		floor := 0
		ev = nil
		for floor < len(ds)-1 {
			dl, err1 := lf.DepthDiff(i+1, ds[floor+1], ds[floor])
			dq, err2 := qf.DepthDiff(i+1, ds[floor+1], ds[floor])
			if err1 != nil || err2 != nil || !(dq.HasCI() && dq.Lo > qTol && dl.Value <= latTol) {
				break
			}
			ev = append(ev,
				Evidence{fmt.Sprintf("unit %d: %s of depth %d − depth %d", i+1, qLabel, ds[floor+1], ds[floor]), dq},
				Evidence{fmt.Sprintf("unit %d: latency of depth %d − depth %d on %s", i+1, ds[floor+1], ds[floor], latName), dl})
			floor++
		}
		if floor > 0 {
			cuts = append(cuts, depthCut{i + 1, ds[floor], "min-depth", ev})
		}
	}
	for _, kind := range []string{"max-depth", "min-depth"} {
		var depths []int
		for _, c := range cuts {
			if c.kind == kind && !slices.Contains(depths, c.depth) {
				depths = append(depths, c.depth)
			}
		}
		slices.Sort(depths)
		for _, d := range depths {
			s := Suggestion{Kind: kind, Depth: d}
			for _, c := range cuts {
				if c.kind == kind && c.depth == d {
					s.Units = append(s.Units, c.unit)
					s.Evidence = append(s.Evidence, c.ev...)
				}
			}
			s.Rule = fmt.Sprintf("%s %d%s", kind, d, unitsClause(sp, s.Units))
			sugg = append(sugg, s)
		}
	}
	// Impacts, texts and the combined reduction.
	var all []Rule
	for i := range sugg {
		s := &sugg[i]
		rules, err := ParseRules(s.Rule)
		if err != nil {
			return Reduction{}, fmt.Errorf("reduce: internal rule %q: %w", s.Rule, err)
		}
		all = append(all, rules...)
		one, err := FromRules(sp, s.Rule, "", rules)
		if err != nil {
			return Reduction{}, err
		}
		if s.Impact, err = Evaluate(one, lat, quality); err != nil {
			return Reduction{}, err
		}
		s.Text = describe(*s, len(sp.Units), lat.Level, latName, lat.Unit, qLabel, quality.Unit)
	}
	out, err := FromRules(sp, red.Name, red.Description, all)
	if err != nil {
		return Reduction{}, err
	}
	out.Device, out.Statistic = red.Device, red.Statistic
	out.Suggestions = sugg
	for _, s := range sugg {
		for _, u := range s.Units {
			out.Units[u-1].Reasons = append(out.Units[u-1].Reasons, s.Text)
		}
	}
	return out, nil
}

// Evaluate is the impact of reduction r on the mean latency (and quality)
// of uniform archs, from the reports' regression fits. It expresses any
// reduction, the paper's rules included, in the device's numbers.
func Evaluate(r Reduction, lat, quality *analysis.Report) (Impact, error) {
	if lat == nil || lat.Fit() == nil {
		return Impact{}, errors.New("reduce: evaluating a reduction needs the regression estimator on the latency series")
	}
	red, err := r.Apply(lat.SpaceDef())
	if err != nil {
		return Impact{}, err
	}
	var im Impact
	if im.Latency, err = lat.Fit().Delta(red); err != nil {
		return Impact{}, err
	}
	if quality != nil && quality.Fit() != nil {
		qred, err := r.Apply(quality.SpaceDef())
		if err != nil {
			return Impact{}, err
		}
		q, err := quality.Fit().Delta(qred)
		if err != nil {
			return Impact{}, err
		}
		im.Quality, im.QualityLabel = &q, qualityLabel(quality)
	}
	return im, nil
}

func qualityLabel(r *analysis.Report) string {
	if r.Label != "" && r.Label != r.Metric {
		return fmt.Sprintf("%s (%s)", r.Metric, r.Label)
	}
	return r.Metric
}

func orMetric(device, metric string) string {
	if device != "" {
		return device
	}
	return metric
}

// levels are the attribute levels a block belongs to, in the order they
// are tried as selectors.
func levels(sp *model.Space, b model.Block) []Selector {
	if sp.Family == model.Bottleneck {
		return []Selector{{Attr: "c", Level: b.W}, {Attr: "e", Level: b.E}}
	}
	return []Selector{{Attr: "k", Level: float64(b.K)}, {Attr: "e", Level: b.E}}
}

// exactLevel reports whether s selects exactly blocks (among all of
// blocks' members) in every listed unit.
func exactLevel(sp *model.Space, units []int, s Selector, blocks []model.Block) bool {
	for _, u := range units {
		for _, b := range sp.Units[u-1].Blocks {
			if s.Match(b) && !slices.Contains(blocks, b) {
				return false
			}
		}
	}
	return true
}

// splitByLevel splits blocks removed from the same units into whole
// attribute levels (every kernel-7 block, say) and the rest.
func splitByLevel(sp *model.Space, units []int, blocks []model.Block) [][]model.Block {
	var parts [][]model.Block
	left := slices.Clone(blocks)
	for _, b := range blocks {
		if !slices.Contains(left, b) {
			continue
		}
		for _, s := range levels(sp, b) {
			var members []model.Block
			for _, x := range left {
				if s.Match(x) {
					members = append(members, x)
				}
			}
			if len(members) > 1 && exactLevel(sp, units, s, members) {
				parts = append(parts, members)
				left = slices.DeleteFunc(left, func(x model.Block) bool { return slices.Contains(members, x) })
				break
			}
		}
	}
	if len(left) > 0 {
		parts = append(parts, left)
	}
	return parts
}

// selectorFor names the blocks as a level ("k=7") when they are exactly the
// blocks of that level in every listed unit, else as keys.
func selectorFor(sp *model.Space, units []int, blocks []model.Block) string {
	if len(blocks) > 1 {
		for _, s := range levels(sp, blocks[0]) {
			all := !slices.ContainsFunc(blocks, func(b model.Block) bool { return !s.Match(b) })
			if all && exactLevel(sp, units, s, blocks) {
				return s.String()
			}
		}
	}
	keys := make([]string, len(blocks))
	for i, b := range blocks {
		keys[i] = b.Key()
	}
	return strings.Join(keys, ",")
}

func unitsClause(sp *model.Space, units []int) string {
	if len(units) == len(sp.Units) {
		return ""
	}
	return " in " + ints(units)
}

func describe(s Suggestion, nUnits int, level float64, latName, latUnit, qLabel, qUnit string) string {
	var what string
	where := "in all units"
	switch {
	case len(s.Units) == 1:
		where = fmt.Sprintf("in unit %d", s.Units[0])
	case len(s.Units) != nUnits:
		where = "in units " + ints(s.Units)
	}
	switch s.Kind {
	case "remove-blocks":
		what = "remove " + s.Selector + " " + where
	case "max-depth":
		what = fmt.Sprintf("at most %d layers %s", s.Depth, where)
	case "min-depth":
		what = fmt.Sprintf("at least %d layers %s", s.Depth, where)
	}
	text := fmt.Sprintf("%s on %s: %s mean latency", what, latName, signed(s.Impact.Latency, latUnit, level))
	if q := s.Impact.Quality; q != nil {
		text += fmt.Sprintf(", %s mean %s", signed(*q, qUnit, level), qLabel)
	}
	return text
}

func signed(e analysis.Estimate, unit string, level float64) string {
	u := ""
	if unit != "" {
		u = " " + unit
	}
	if !e.HasCI() {
		return fmt.Sprintf("%+.4g%s (n=%d)", e.Value, u, e.N)
	}
	return fmt.Sprintf("%+.4g%s (%g%% CI %+.4g…%+.4g, n=%d)", e.Value, u, 100*level, e.Lo, e.Hi, e.N)
}
