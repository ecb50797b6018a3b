// Package compare puts the friendliness analyses of several devices of one
// search space side by side: each device's per-(unit, block) and
// per-(unit, depth) regression effects on its own scale, where the devices
// agree and where they differ beyond their intervals, the rank correlation
// of their arch latencies and of their effects, the archs every device
// measured (for Pareto plots), and the cuts that hold on every device.
//
// It only reads analysis reports and observations made elsewhere (the
// session's Analyze, through its one Series function): it never turns
// records into numbers itself.
package compare

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/cuts"
)

// Normalisation says how effects are put on one scale across devices.
const Normalisation = "each device's effects and their intervals are divided by that device's own E[M(A)] (the regression's mean latency over uniform draws): an effect of +0.05 makes an arch 5% of the device's mean latency slower; the baseline's own uncertainty is not carried into the intervals"

// MinArchs is the fewest archs two devices must share for their latency
// rank correlation to be reported.
const MinArchs = 3

// Device is one device's latency analysis.
type Device struct {
	// Name is the device (a store device, or FILE:KEY for a recorded file).
	Name string
	// Label is the provenance label of its numbers, as Series gives it.
	Label string
	// Records were read, Obs analysed.
	Records int
	Report  *analysis.Report
	Obs     []analysis.Obs
}

// Side is one device's effect on its own scale.
type Side struct {
	// Effect is the regression effect in the metric's unit (ms).
	Effect analysis.Estimate `json:"effect"`
	// Rel, Lo and Hi are Effect, and its interval, divided by the device's
	// baseline (see Normalisation); Lo and Hi are NaN without an interval.
	Rel float64 `json:"-"`
	Lo  float64 `json:"-"`
	Hi  float64 `json:"-"`
}

// Verdicts of a cell.
const (
	// Agree: every pair of devices' normalised intervals overlap.
	Agree = "agree"
	// Differ: some pair's normalised intervals do not overlap.
	Differ = "differ"
	// Unknown: a device gives no interval for this effect.
	Unknown = "no interval"
)

// Cell is one (unit, block) or (unit, depth) effect on every device, in
// the order of Result.Devices.
type Cell struct {
	Unit  int    `json:"unit"`
	Block string `json:"block,omitempty"`
	Depth int    `json:"depth,omitempty"`
	Sides []Side `json:"devices"`
	// Verdict is Agree, Differ or Unknown; Pairs names the pairs of
	// devices whose intervals do not overlap ("a/b").
	Verdict string   `json:"verdict"`
	Pairs   []string `json:"differ_pairs,omitempty"`
	// SameSign: every device's interval excludes 0 on the same side (the
	// block, or depth, is faster, or slower, than average on all of them).
	SameSign bool `json:"same_sign"`
}

// Pair is the rank agreement of two devices.
type Pair struct {
	A string `json:"a"`
	B string `json:"b"`
	// Archs both measured, and the Spearman correlation of their
	// latencies on them (NaN below MinArchs).
	Archs   int     `json:"archs"`
	Latency float64 `json:"-"`
	// Spearman of the two devices' block and depth effects over the cells.
	Blocks      int     `json:"block_effects"`
	BlockEffect float64 `json:"-"`
	Depths      int     `json:"depth_effects"`
	DepthEffect float64 `json:"-"`
	// Differ counts the cells whose intervals do not overlap for this pair.
	Differ int `json:"differ"`
	// Moves are the block effects that move most from A to B in
	// normalised terms (B's Rel − A's Rel), largest first, at most MaxMoves:
	// what the blocks gain or lose on B against A (e.g. int8 against fp32
	// on the same CPU). A positive move makes the block relatively costlier
	// on B.
	Moves []Move `json:"largest_moves"`
}

// MaxMoves bounds Pair.Moves.
const MaxMoves = 5

// Move is one block effect's change from a pair's A to its B.
type Move struct {
	Unit  int    `json:"unit"`
	Block string `json:"block"`
	// Delta is B's normalised effect minus A's (0.05: 5 points of the
	// device's mean latency more on B).
	Delta float64 `json:"delta"`
	// Differ: the two intervals do not overlap.
	Differ bool `json:"differ"`
}

// Point is an arch every device measured.
type Point struct {
	Arch string `json:"arch"`
	// Latency per device (Result.Devices order), its value relative to the
	// device's mean over the shared archs, and the worst (largest) of the
	// relative values.
	Latency  []float64 `json:"latency"`
	Relative []float64 `json:"relative"`
	Worst    float64   `json:"worst_relative"`
	// Quality is the arch's quality metric (Result.Quality) where known.
	Quality *float64 `json:"quality,omitempty"`
}

// DeviceSummary is what the result says of each device.
type DeviceSummary struct {
	Name     string            `json:"name"`
	Label    string            `json:"provenance"`
	Records  int               `json:"records"`
	Analysed int               `json:"analysed"`
	Baseline analysis.Estimate `json:"baseline"`
	Unit     string            `json:"unit"`
	Q2       float64           `json:"loo_r2"`
}

// Result is the comparison.
type Result struct {
	Space         string          `json:"space"`
	Resolution    int             `json:"resolution"`
	Level         float64         `json:"level"`
	Normalisation string          `json:"normalisation"`
	Devices       []DeviceSummary `json:"devices"`
	Blocks        []Cell          `json:"block_effects"`
	Depths        []Cell          `json:"depth_effects"`
	Pairs         []Pair          `json:"pairs"`
	// Points are the archs every device measured (Pareto plots).
	Points []Point `json:"shared_archs"`
	// Quality names the metric of Point.Quality ("" when none was set).
	Quality      string `json:"quality,omitempty"`
	QualityLabel string `json:"quality_provenance,omitempty"`
}

// SetQuality attaches a quality metric (accuracy, or a capacity proxy such
// as MACs) to the shared archs that have it, for the plot of quality
// against the worst device.
func (r *Result) SetQuality(metric, label string, obs []analysis.Obs) {
	q := archMeans(obs)
	r.Quality, r.QualityLabel = metric, label
	for i := range r.Points {
		if v, ok := q[r.Points[i].Arch]; ok {
			r.Points[i].Quality = &v
		}
	}
}

// Compare compares two or more devices of one space. Each needs a
// regression fit (the effects are the regression's).
func Compare(devs []Device) (*Result, error) {
	if len(devs) < 2 {
		return nil, fmt.Errorf("compare needs at least two devices (got %d)", len(devs))
	}
	seen := map[string]bool{}
	for _, d := range devs {
		if seen[d.Name] {
			return nil, fmt.Errorf("device %q is named twice", d.Name)
		}
		seen[d.Name] = true
		if d.Report == nil {
			return nil, fmt.Errorf("device %s: no analysis", d.Name)
		}
		if d.Report.Regression == nil {
			return nil, fmt.Errorf("device %s: too few records for the effects (%d analysed of %d): %s; measure more uniform archs",
				d.Name, len(d.Obs), d.Records, strings.Join(d.Report.Notes, "; "))
		}
	}
	first := devs[0].Report
	for _, d := range devs[1:] {
		if d.Report.Space != first.Space {
			return nil, fmt.Errorf("devices of different spaces: %s measured %s, %s measured %s; compare devices of one space", devs[0].Name, first.Space, d.Name, d.Report.Space)
		}
		if d.Report.Resolution != first.Resolution {
			return nil, fmt.Errorf("devices at different resolutions: %s at %d px, %s at %d px; pass --resolution", devs[0].Name, first.Resolution, d.Name, d.Report.Resolution)
		}
	}
	r := &Result{Space: first.Space, Resolution: first.Resolution, Level: first.Level, Normalisation: Normalisation}
	for _, d := range devs {
		g := d.Report.Regression
		if !(g.Baseline.Value > 0) {
			return nil, fmt.Errorf("device %s: mean latency %g is not positive: its effects cannot be normalised", d.Name, g.Baseline.Value)
		}
		r.Devices = append(r.Devices, DeviceSummary{Name: d.Name, Label: d.Label, Records: d.Records, Analysed: len(d.Obs),
			Baseline: g.Baseline, Unit: d.Report.Unit, Q2: g.Q2})
	}
	r.Blocks = cells(devs, func(g *analysis.Regression) []analysis.Effect { return g.BlockEffects })
	r.Depths = cells(devs, func(g *analysis.Regression) []analysis.Effect { return g.DepthEffects })
	lat := make([]map[string]float64, len(devs))
	for i, d := range devs {
		lat[i] = archMeans(d.Obs)
	}
	for i := range devs {
		for j := i + 1; j < len(devs); j++ {
			r.Pairs = append(r.Pairs, pairOf(r, lat, i, j))
		}
	}
	r.Points = points(lat)
	return r, nil
}

type cellKey struct {
	unit  int
	block string
	depth int
}

// cells lines up the effects every device has (in the first device's
// order).
func cells(devs []Device, of func(*analysis.Regression) []analysis.Effect) []Cell {
	idx := make([]map[cellKey]analysis.Effect, len(devs))
	for i, d := range devs {
		idx[i] = map[cellKey]analysis.Effect{}
		for _, e := range of(d.Report.Regression) {
			idx[i][cellKey{e.Unit, e.Block, e.Depth}] = e
		}
	}
	var out []Cell
	for _, e := range of(devs[0].Report.Regression) {
		k := cellKey{e.Unit, e.Block, e.Depth}
		c := Cell{Unit: e.Unit, Block: e.Block, Depth: e.Depth}
		ok := true
		for i, d := range devs {
			f, has := idx[i][k]
			if !has {
				ok = false
				break
			}
			b := d.Report.Regression.Baseline.Value
			s := Side{Effect: f.Estimate, Rel: f.Value / b, Lo: math.NaN(), Hi: math.NaN()}
			if f.HasCI() {
				s.Lo, s.Hi = f.Lo/b, f.Hi/b
			}
			c.Sides = append(c.Sides, s)
		}
		if !ok {
			continue
		}
		c.Verdict, c.Pairs = verdict(c.Sides, devs)
		c.SameSign = sameSign(c.Sides)
		out = append(out, c)
	}
	return out
}

func verdict(sides []Side, devs []Device) (string, []string) {
	for _, s := range sides {
		if math.IsNaN(s.Lo) || math.IsNaN(s.Hi) {
			return Unknown, nil
		}
	}
	var pairs []string
	for i := range sides {
		for j := i + 1; j < len(sides); j++ {
			if !overlap(sides[i], sides[j]) {
				pairs = append(pairs, devs[i].Name+"/"+devs[j].Name)
			}
		}
	}
	if len(pairs) > 0 {
		return Differ, pairs
	}
	return Agree, nil
}

func overlap(a, b Side) bool { return a.Lo <= b.Hi && b.Lo <= a.Hi }

func sameSign(sides []Side) bool {
	pos, neg := 0, 0
	for _, s := range sides {
		switch {
		case s.Lo > 0:
			pos++
		case s.Hi < 0:
			neg++
		}
	}
	return pos == len(sides) || neg == len(sides)
}

// archMeans keys observations by arch; an arch observed in
// several roles (uniform and fixed) has the mean of its values.
func archMeans(obs []analysis.Obs) map[string]float64 {
	sum := map[string]float64{}
	n := map[string]int{}
	for _, o := range obs {
		k := o.Arch.String()
		sum[k] += o.Value
		n[k]++
	}
	for k := range sum {
		sum[k] /= float64(n[k])
	}
	return sum
}

func pairOf(r *Result, lat []map[string]float64, i, j int) Pair {
	p := Pair{A: r.Devices[i].Name, B: r.Devices[j].Name}
	var x, y []float64
	for _, k := range sortedKeys(lat[i]) {
		if v, ok := lat[j][k]; ok {
			x, y = append(x, lat[i][k]), append(y, v)
		}
	}
	p.Archs = len(x)
	p.Latency = math.NaN()
	if p.Archs >= MinArchs {
		p.Latency = analysis.Spearman(x, y)
	}
	effects := func(cs []Cell) (int, float64) {
		var u, v []float64
		for _, c := range cs {
			u, v = append(u, c.Sides[i].Rel), append(v, c.Sides[j].Rel)
		}
		return len(u), analysis.Spearman(u, v)
	}
	p.Blocks, p.BlockEffect = effects(r.Blocks)
	p.Depths, p.DepthEffect = effects(r.Depths)
	name := p.A + "/" + p.B
	for _, c := range r.Blocks {
		d := c.Sides[j].Rel - c.Sides[i].Rel
		if !math.IsNaN(d) && !math.IsInf(d, 0) {
			p.Moves = append(p.Moves, Move{Unit: c.Unit, Block: c.Block, Delta: d, Differ: slices.Contains(c.Pairs, name)})
		}
	}
	slices.SortStableFunc(p.Moves, func(a, b Move) int { return cmp.Compare(math.Abs(b.Delta), math.Abs(a.Delta)) })
	p.Moves = p.Moves[:min(len(p.Moves), MaxMoves)]
	for _, cs := range [][]Cell{r.Blocks, r.Depths} {
		for _, c := range cs {
			if slices.Contains(c.Pairs, name) {
				p.Differ++
			}
		}
	}
	return p
}

func sortedKeys(m map[string]float64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// points lists the archs every device measured, in arch order.
func points(lat []map[string]float64) []Point {
	var out []Point
	for _, k := range sortedKeys(lat[0]) {
		p := Point{Arch: k}
		for _, m := range lat {
			v, ok := m[k]
			if !ok {
				p.Latency = nil
				break
			}
			p.Latency = append(p.Latency, v)
		}
		if p.Latency != nil {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil
	}
	means := make([]float64, len(lat))
	for _, p := range out {
		for i, v := range p.Latency {
			means[i] += v / float64(len(out))
		}
	}
	for i := range out {
		out[i].Relative = make([]float64, len(lat))
		for d, v := range out[i].Latency {
			out[i].Relative[d] = v / means[d]
			out[i].Worst = max(out[i].Worst, out[i].Relative[d])
		}
	}
	return out
}

// Counts tallies the verdicts of cells.
func Counts(cs []Cell) (agree, differ, unknown int) {
	for _, c := range cs {
		switch c.Verdict {
		case Agree:
			agree++
		case Differ:
			differ++
		default:
			unknown++
		}
	}
	return agree, differ, unknown
}

// CommonCuts are the cuts that hold on every device: a block pruned from a
// unit on all of them, and the widest of their depth ranges per unit.
// names label the devices in the reasons.
func CommonCuts(per []cuts.Cuts, names []string) (cuts.Cuts, error) {
	if len(per) == 0 || len(per) != len(names) {
		return cuts.Cuts{}, errors.New("compare: common cuts need one set of cuts per device")
	}
	sp := per[0].Space()
	if sp == nil {
		return cuts.Cuts{}, errors.New("compare: cuts without a space")
	}
	for i, c := range per[1:] {
		if c.Space() == nil || c.Space().Name != sp.Name {
			return cuts.Cuts{}, fmt.Errorf("compare: cuts of %s are not of space %s", names[i+1], sp.Name)
		}
	}
	reason := "holds on every device compared (" + strings.Join(names, ", ") + ")"
	out := cuts.New(sp)
	var err error
	for i, u := range sp.Units {
		n := i + 1
		for _, b := range sp.BlockChoices() {
			if !u.Allows(b) {
				continue
			}
			all := true
			for _, c := range per {
				all = all && c.Pruned(n, b.Key())
			}
			if all {
				if out, err = out.TogglePrune(n, b.Key(), reason); err != nil {
					return cuts.Cuts{}, err
				}
			}
		}
		lo, hi := u.MaxDepth(), u.MinDepth()
		for _, c := range per {
			l, h := c.Depths(n)
			lo, hi = min(lo, l), max(hi, h)
		}
		if out, err = out.SetDepths(n, lo, hi, reason); err != nil {
			return cuts.Cuts{}, err
		}
	}
	return out.WithOrigin("cuts that hold on every device: " + strings.Join(names, ", ")), nil
}

// finite is &x, or nil for NaN and ±Inf (JSON has no NaN).
func finite(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

// MarshalJSON writes the normalised effect beside the raw one (null where
// undefined).
func (s Side) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Effect analysis.Estimate `json:"effect"`
		Rel    *float64          `json:"relative"`
		Lo     *float64          `json:"relative_lo"`
		Hi     *float64          `json:"relative_hi"`
	}{s.Effect, finite(s.Rel), finite(s.Lo), finite(s.Hi)})
}

// MarshalJSON writes the correlations (null where undefined).
func (p Pair) MarshalJSON() ([]byte, error) {
	type plain Pair
	return json.Marshal(struct {
		plain
		Latency     *float64 `json:"latency_spearman"`
		BlockEffect *float64 `json:"block_effect_spearman"`
		DepthEffect *float64 `json:"depth_effect_spearman"`
	}{plain(p), finite(p.Latency), finite(p.BlockEffect), finite(p.DepthEffect)})
}
