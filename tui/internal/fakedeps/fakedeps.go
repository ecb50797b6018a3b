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
	"sync"

	"blockprof/devices"
	"blockprof/engine"
	"blockprof/engine/analysis"
	"blockprof/engine/pareto"
	"blockprof/model"
	"blockprof/tui/common"
	"blockprof/tui/export"
	"blockprof/tui/friendliness"
	paretoview "blockprof/tui/pareto"
)

// Space loads a space of the repository's config.toml.
func Space(name string) (*model.Space, error) {
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
	spaces, err := model.ParseSpaces(data, path)
	if err != nil {
		return nil, err
	}
	return spaces.Get(name)
}

// Deps is the fake.
type Deps struct {
	Sp   *model.Space
	Devs []common.DeviceInfo
	// NoLive makes Live false.
	NoLive bool
	// Points is the number of archs of Points (default 200).
	NPoints int

	mu      sync.Mutex
	subs    []chan engine.Event
	intents []string
	exports []string
	tables  int
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
				return &friendliness.Value{Estimate: est(x, 0.02*scale, 120), Support: n, Few: n < t.MinSupport}
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

// Suggest implements friendliness.Source: drop every kernel-7 block from
// units 2 onwards and cap the last unit one below its largest depth.
func (d *Deps) Suggest(ctx context.Context, device, metric string) (model.Reduction, error) {
	r := model.Reduction{Name: d.Sp.Name + "-" + device + "-suggested", Parent: d.Sp.Name, Device: device, Statistic: "regression"}
	for i, u := range d.Sp.Units {
		ur := model.UnitReduction{Depths: slices.Clone(u.Depths)}
		for _, b := range u.Blocks {
			if i == 0 || b.K != 7 {
				ur.Blocks = append(ur.Blocks, b.Key())
			}
		}
		if i > 0 {
			ur.Reasons = append(ur.Reasons, fmt.Sprintf("remove k=7 in unit %d: slower at no better proxy", i+1))
		}
		if i == len(d.Sp.Units)-1 {
			ur.Depths = ur.Depths[:len(ur.Depths)-1]
		}
		r.Units = append(r.Units, ur)
	}
	return r, nil
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
