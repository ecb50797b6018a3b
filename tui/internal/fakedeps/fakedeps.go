// Package fakedeps is a deterministic tui.Deps for the explorer's tests:
// hand-made friendliness tables, points and search results, a broker of
// engine events the test publishes into, recorded intents, and exports
// written to real files. It is for tests only: the explorer runs on
// tui/app in production.
package fakedeps

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"blockprof/devices"
	"blockprof/engine"
	"blockprof/engine/analysis"
	"blockprof/engine/cuts"
	"blockprof/engine/pareto"
	"blockprof/engine/reduce"
	"blockprof/model"
	"blockprof/tui/common"
	"blockprof/tui/export"
	"blockprof/tui/friendliness"
	paretoview "blockprof/tui/pareto"
)

// Space loads a space of the repository's config.toml.
func Space(name string) (*model.Space, error) {
	ss, err := Spaces()
	if err != nil {
		return nil, err
	}
	return ss.Get(name)
}

// Spaces loads the spaces of the repository's config.toml.
func Spaces() (*model.Spaces, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
	path := filepath.Join(dir, "config.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return model.ParseSpaces(data, path)
}

// Deps is the fake.
type Deps struct {
	Sp   *model.Space
	Devs []common.DeviceInfo
	// NoLive makes Live false.
	NoLive bool
	// Points is the number of archs of Points (default 200).
	NPoints int
	// WeakSuggest marks the suggestions as made from weak evidence.
	WeakSuggest bool
	// NoMinSupport leaves the tables' MinSupport unset (0): only cells
	// without an interval are marked.
	NoMinSupport bool

	mu      sync.Mutex
	subs    []chan engine.Event
	intents []string
	exports []string
	tables  int
	// cuts are the session's cuts (set: SetCuts was called or StoreCuts).
	cuts    cuts.Cuts
	set     bool
	saves   int
	saveErr error
}

// New returns a fake over sp with two devices.
func New(sp *model.Space) *Deps {
	return &Deps{Sp: sp, Devs: []common.DeviceInfo{
		{Name: "npu", Kind: "sim", Provenance: devices.Simulated, Label: "simulated (npu)", Detail: "analytic model"},
		{Name: "cpu", Kind: "ort", Provenance: devices.Measured, Label: "measured", Detail: "onnxruntime 1.24, 1 threads"},
	}}
}

// Publish sends ev to every subscriber.
func (d *Deps) Publish(ev engine.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.subs {
		s <- ev
	}
}

// Subscribers is the number of subscriptions so far.
func (d *Deps) Subscribers() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.subs)
}

// Intents lists "pause cpu", "resume cpu", "cancel npu"... in order.
func (d *Deps) Intents() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.intents)
}

// Tables counts the Table calls.
func (d *Deps) Tables() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.tables
}

// Events implements tui.Deps.
func (d *Deps) Events(ctx context.Context) <-chan engine.Event {
	ch := make(chan engine.Event, 4096)
	d.mu.Lock()
	d.subs = append(d.subs, ch)
	d.mu.Unlock()
	return ch
}

func (d *Deps) Live() bool                   { return !d.NoLive }
func (d *Deps) Space() *model.Space          { return d.Sp }
func (d *Deps) Devices() []common.DeviceInfo { return slices.Clone(d.Devs) }
func (d *Deps) Pause(device string) error    { return d.intent("pause", device) }
func (d *Deps) Resume(device string) error   { return d.intent("resume", device) }
func (d *Deps) Cancel(device string) error   { return d.intent("cancel", device) }

// Remeasure records the intent and says 3 archs were queued.
func (d *Deps) Remeasure(device string) (int, error) { return 3, d.intent("remeasure", device) }
func (d *Deps) intent(what, dev string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.intents = append(d.intents, what+" "+dev)
	return nil
}

// Metrics implements friendliness.Source.
func (d *Deps) Metrics() []friendliness.Metric {
	return []friendliness.Metric{
		{Name: "latency", Unit: "ms", PerDevice: true},
		{Name: "proxy", Label: "proxy", HigherIsBetter: true},
		{Name: "macs", Unit: "M", Label: "computed"},
	}
}

func est(v, half float64, n int) analysis.Estimate {
	return analysis.Estimate{Value: v, Lo: v - half, Hi: v + half, SE: half / 2, N: n}
}

// Table implements friendliness.Source: value = 0.05·(u−3) + 0.1·(j−4)
// (j the block's paper index), scaled per device and metric; the first
// two blocks have few archs behind them; layer cells add 0.01·l; Eq. 2
// and 3 exist for device cpu only.
func (d *Deps) Table(ctx context.Context, device, metric string) (friendliness.Table, error) {
	d.mu.Lock()
	d.tables++
	d.mu.Unlock()
	var mt friendliness.Metric
	for _, m := range d.Metrics() {
		if m.Name == metric {
			mt = m
		}
	}
	if mt.Name == "" {
		return friendliness.Table{}, fmt.Errorf("no metric %q", metric)
	}
	scale := map[string]float64{"npu": 1, "cpu": 3}[device]
	if !mt.PerDevice {
		scale = 10
	}
	label := mt.Label
	for _, dv := range d.Devs {
		if dv.Name == device && mt.PerDevice {
			label = dv.Source()
		}
	}
	sp := d.Sp
	t := friendliness.Table{Space: sp.Name, Device: device, Metric: mt, Label: label, Resolution: 160, Uniform: 120,
		Baseline: est(10*scale, 0.3, 120), Blocks: sp.BlockChoices(), Cells: map[friendliness.Key]friendliness.Cell{},
		DepthEffects: map[[2]int]analysis.Estimate{}, MinSupport: 5, Level: 0.95}
	if d.NoMinSupport {
		t.MinSupport = 0
	}
	if device == "cpu" {
		t.Fixed = 5 * len(sp.Locations())
	}
	for i, u := range sp.Units {
		var keys []string
		for _, b := range u.Blocks {
			keys = append(keys, b.Key())
		}
		t.Allowed = append(t.Allowed, keys)
		t.Depths = append(t.Depths, slices.Clone(u.Depths))
		for _, dep := range u.Depths {
			t.DepthEffects[[2]int{i + 1, dep}] = est(scale*0.2*float64(dep-3), 0.05, 120)
		}
		for j, b := range t.Blocks {
			if !u.Allows(b) {
				continue
			}
			v := scale * (0.05*float64(i+1-3) + 0.1*float64(j-4))
			n := 3 + 4*j
			val := func(x float64, n int) *friendliness.Value {
				e := est(x, 0.02*scale, 120)
				return &friendliness.Value{Estimate: e, Support: n, Few: n < t.MinSupport || !e.HasCI()}
			}
			k := friendliness.Key{Unit: i + 1, Block: b.Key()}
			c := friendliness.Cell{}
			c[friendliness.StatRegression] = val(v, n)
			if device == "cpu" {
				c[friendliness.StatMean] = val(v*1.1, 5*u.MaxDepth())
			}
			t.Cells[k] = c
			for l := 1; l <= u.MaxDepth(); l++ {
				kl := friendliness.Key{Unit: i + 1, Layer: l, Block: b.Key()}
				cl := friendliness.Cell{}
				cl[friendliness.StatRegression] = val(v+0.01*float64(l)*scale, n/2+l)
				if device == "cpu" {
					cl[friendliness.StatMean] = val(v*1.1+0.01*float64(l), 5)
					cl[friendliness.StatP5] = val(v*0.8, 5)
					cl[friendliness.StatP95] = val(v*1.3, 5)
				}
				t.Cells[kl] = cl
			}
		}
	}
	return t, nil
}

// Details implements friendliness.Source.
func (d *Deps) Details(ctx context.Context, device, metric string, k friendliness.Key, s friendliness.Stat) (friendliness.Details, error) {
	t, err := d.Table(ctx, device, metric)
	if err != nil {
		return friendliness.Details{}, err
	}
	det := friendliness.Details{Key: k, Stat: s, Value: t.Cells[k][s], Role: "uniform archs holding " + k.Block, Total: 40}
	for i := range 3 {
		det.Archs = append(det.Archs, friendliness.ArchValue{Arch: fmt.Sprintf("%s:160:arch-%d-%s", d.Sp.Name, i, k.Block), Value: 10 + float64(i)})
	}
	return det, nil
}

// Suggest implements friendliness.Source with reduce's suggestions and
// engine/cuts, as the session does: remove every kernel-7 block from units
// 2 onwards, cap the last unit one below its largest depth and raise unit
// 1's smallest depth by one.
func (d *Deps) Suggest(ctx context.Context, device, metric string) (friendliness.Suggestion, error) {
	sp := d.Sp
	n := len(sp.Units)
	var rest []string
	for u := 2; u <= n; u++ {
		rest = append(rest, fmt.Sprint(u))
	}
	in := " in " + strings.Join(rest, ",")
	last, first := sp.Units[n-1], sp.Units[0]
	ev := func(u int, what string, v float64) reduce.Evidence {
		return reduce.Evidence{Statistic: fmt.Sprintf("unit %d: %s", u, what), Estimate: est(v, 0.05, 120)}
	}
	var k7 []string
	for _, b := range sp.BlockChoices() {
		if b.K == 7 {
			k7 = append(k7, b.Key())
		}
	}
	remove := reduce.Suggestion{Kind: "remove-blocks", Units: nil, Blocks: k7, Selector: "k=7", Rule: "remove k=7" + in,
		Text: "remove k=7" + in + " on " + device + ": slower at no better proxy"}
	for u := 2; u <= n; u++ {
		remove.Units = append(remove.Units, u)
		remove.Evidence = append(remove.Evidence, ev(u, "e6k7 dominated by e6k5 (faster at no worse proxy): latency e6k5 − e6k7 on "+device, -0.3))
	}
	capLast := reduce.Suggestion{Kind: "max-depth", Units: []int{n}, Depth: last.Depths[len(last.Depths)-2],
		Rule: fmt.Sprintf("max-depth %d in %d", last.Depths[len(last.Depths)-2], n), Text: fmt.Sprintf("at most %d layers in unit %d", last.Depths[len(last.Depths)-2], n),
		Evidence: []reduce.Evidence{ev(n, fmt.Sprintf("latency of depth %d − depth %d on %s", last.MaxDepth(), last.Depths[len(last.Depths)-2], device), 0.2)}}
	raiseFirst := reduce.Suggestion{Kind: "min-depth", Units: []int{1}, Depth: first.Depths[1],
		Rule: fmt.Sprintf("min-depth %d in 1", first.Depths[1]), Text: fmt.Sprintf("at least %d layers in unit 1", first.Depths[1]),
		Evidence: []reduce.Evidence{ev(1, fmt.Sprintf("proxy of depth %d − depth %d", first.Depths[1], first.MinDepth()), 0.4)}}
	sugg := []reduce.Suggestion{remove, capLast, raiseFirst}
	var text []string
	for _, s := range sugg {
		text = append(text, s.Rule)
	}
	rules, err := reduce.ParseRules(strings.Join(text, "\n"))
	if err != nil {
		return friendliness.Suggestion{}, err
	}
	red, err := reduce.FromRules(sp, sp.Name+"-"+device+"-suggested", "suggested from "+device+" "+metric+" and proxy", rules)
	if err != nil {
		return friendliness.Suggestion{}, err
	}
	red.Device, red.Statistic, red.Suggestions = device, "regression", sugg
	c, err := cuts.FromSuggestion(sp, red)
	if err != nil {
		return friendliness.Suggestion{}, err
	}
	return friendliness.Suggestion{Cuts: c, Lines: c.Describe(), Weak: d.WeakSuggest,
		Evidence: []string{fmt.Sprintf("regression fit on 120 uniform archs of %s (fake)", device)}}, nil
}

// StoreCuts sets the session's cuts as a previous session left them.
func (d *Deps) StoreCuts(c cuts.Cuts) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cuts, d.set = c, true
}

// FailSaves makes SetCuts fail with err (nil: succeed again).
func (d *Deps) FailSaves(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.saveErr = err
}

// Saves counts the successful SetCuts calls.
func (d *Deps) Saves() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.saves
}

// Stored is the session's cuts now.
func (d *Deps) Stored() cuts.Cuts {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.set {
		return cuts.New(d.Sp)
	}
	return d.cuts
}

// Cuts implements friendliness.Source: the stored cuts, none at first.
func (d *Deps) Cuts(ctx context.Context) (cuts.Cuts, error) { return d.Stored(), nil }

// SetCuts implements friendliness.Source (in memory).
func (d *Deps) SetCuts(ctx context.Context, c cuts.Cuts) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.saveErr != nil {
		return d.saveErr
	}
	if c.Parent() != d.Sp.Name {
		return fmt.Errorf("cuts of space %q, the session's space is %s", c.Parent(), d.Sp.Name)
	}
	d.cuts, d.set = c, true
	d.saves++
	return nil
}

// LoadReduced implements friendliness.Source: the file read as cuts of
// the space (its parent resolved among config.toml's spaces).
func (d *Deps) LoadReduced(ctx context.Context, path string) (cuts.Cuts, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return cuts.Cuts{}, err
	}
	ss, err := Spaces()
	if err != nil {
		return cuts.Cuts{}, err
	}
	return cuts.Parse(d.Sp, ss, data, path)
}

// lcg is a tiny deterministic generator.
type lcg uint64

func (g *lcg) next() float64 {
	*g = *g*6364136223846793005 + 1442695040888963407
	return float64(uint64(*g)>>11) / (1 << 53)
}

// PointsOf returns n deterministic archs: latency 5…50 ms, score rising
// with latency and noise.
func PointsOf(n int, seed uint64) []paretoview.Point {
	g := lcg(seed)
	out := make([]paretoview.Point, n)
	for i := range out {
		lat := 5 + 45*g.next()
		acc := 70 + 6*math.Log(lat/5)/math.Log(10) + 2*g.next()
		out[i] = paretoview.Point{Arch: fmt.Sprintf("arch-%04d", i), Latency: lat, Accuracy: acc}
	}
	return out
}

// FrontOf indexes the front of pts (engine/pareto), by latency.
func FrontOf(pts []paretoview.Point) []int {
	ps := make([]pareto.Point, len(pts))
	for i, p := range pts {
		ps[i] = pareto.Point{Latency: p.Latency, Accuracy: p.Accuracy, ID: i}
	}
	var out []int
	for _, p := range pareto.Front(ps) {
		out = append(out, p.ID)
	}
	return out
}

// Points implements pareto.Source.
func (d *Deps) Points(ctx context.Context, device string) (paretoview.Data, error) {
	n := d.NPoints
	if n == 0 {
		n = 200
	}
	pts := PointsOf(n, 7)
	label := "measured"
	for _, dv := range d.Devs {
		if dv.Name == device {
			label = dv.Source()
		}
	}
	return paretoview.Data{Device: device, LatencyLabel: label, AccuracyName: "proxy score", AccuracyLabel: "proxy", Points: pts, Front: FrontOf(pts)}, nil
}

// Search implements pareto.Source: two updates per space, then fronts of
// two deterministic clouds (the reduced one faster).
func (d *Deps) Search(ctx context.Context, req paretoview.SearchRequest) (<-chan paretoview.SearchUpdate, error) {
	if _, err := req.Reduction.ApplyTo(d.Sp); err != nil {
		return nil, err
	}
	ch := make(chan paretoview.SearchUpdate, 8)
	go func() {
		defer close(ch)
		for _, red := range []bool{false, true} {
			for g := range 2 {
				select {
				case ch <- paretoview.SearchUpdate{Space: d.Sp.Name, Reduced: red, Seed: 1, Generation: g, Generations: 1, Evaluations: 100 * (g + 1), FrontSize: 5 + g}:
				case <-ctx.Done():
					return
				}
			}
		}
		orig, redp := PointsOf(300, 11), PointsOf(300, 13)
		for i := range redp {
			redp[i].Latency *= 0.8
		}
		pick := func(p []paretoview.Point) []paretoview.Point {
			var out []paretoview.Point
			for _, i := range FrontOf(p) {
				out = append(out, p[i])
			}
			slices.SortFunc(out, func(a, b paretoview.Point) int { return cmp.Compare(a.Latency, b.Latency) })
			return out
		}
		res := &paretoview.SearchResult{LatencyLabel: "predicted (additive)", AccuracyName: "proxy score", AccuracyLabel: "proxy",
			Original: pick(orig), Reduced: pick(redp), HVOriginal: paretoview.Spread{Median: 100, Min: 90, Max: 110},
			HVReduced: paretoview.Spread{Median: 130, Min: 120, Max: 140}, LatencyReduction: paretoview.Spread{Median: 0.2, Min: 0.1, Max: 0.3},
			Evaluations: 1200, Seeds: 1}
		select {
		case ch <- paretoview.SearchUpdate{Result: res}:
		case <-ctx.Done():
		}
	}()
	return ch, nil
}

// Exports lists the paths written.
func (d *Deps) Exports() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.exports)
}

// EncodeReduction implements export.Encoder: the reduction's TOML once it
// applies to the space.
func (d *Deps) EncodeReduction(r model.Reduction) ([]byte, error) {
	if _, err := r.ApplyTo(d.Sp); err != nil {
		return nil, err
	}
	return r.Marshal(), nil
}

// Export implements export.Writer with real files.
func (d *Deps) Export(path string, r model.Reduction, overwrite bool) (export.Written, error) {
	if _, err := r.ApplyTo(d.Sp); err != nil {
		return export.Written{}, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return export.Written{}, err
	}
	if _, err := os.Stat(abs); err == nil && !overwrite {
		return export.Written{}, fmt.Errorf("%s: %w", abs, export.ErrExists)
	}
	data := r.Marshal()
	if err := os.WriteFile(abs, data, 0o644); err != nil {
		return export.Written{}, err
	}
	d.mu.Lock()
	d.exports = append(d.exports, abs)
	d.mu.Unlock()
	return export.Written{Path: abs, Bytes: data}, nil
}
