// Package app adapts the engine's session (engine/session) to the
// explorer: it implements tui.Deps by turning the views' requests into
// session calls and the session's results into the views' data. It opens
// no device, fits nothing and searches nothing itself; every number it
// hands a view comes from the session, with the label of the records
// behind it.
package app

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"blockprof/engine"
	"blockprof/engine/analysis"
	"blockprof/engine/cuts"
	"blockprof/engine/exportdir"
	"blockprof/engine/pareto"
	"blockprof/engine/session"
	"blockprof/engine/store"
	"blockprof/model"
	"blockprof/tui"
	"blockprof/tui/common"
	"blockprof/tui/export"
	"blockprof/tui/friendliness"
	paretoview "blockprof/tui/pareto"
)

// MinSupport marks cells with fewer archs behind them.
const MinSupport = 5

// App implements tui.Deps over a session.
type App struct {
	s       *session.Session
	devices []common.DeviceInfo
	// acc is the accuracy source's metric (accuracy or proxy).
	acc friendliness.Metric

	mu sync.Mutex
	// last keeps what Details reads of the latest analysis: one only;
	// Details of another table analyses again.
	last *computed
}

// computed is a table with what Details lists: its series' observations
// by arch name, not parsed (a parsed series of session.MaxObs archs is
// about 10 MB, kept for as long as the table is on screen; Details parses
// the few thousand it looks at again).
type computed struct {
	device, metric string
	table          friendliness.Table
	evidence       []string
	obs            []shownObs
}

// shownObs is an observation as Details lists it.
type shownObs struct {
	arch  string // canonical
	fix   *model.Fix
	value float64
}

func newComputed(device, metric string, an *session.Analysis, table friendliness.Table) *computed {
	c := &computed{device: device, metric: metric, table: table, evidence: an.Evidence.Lines()}
	c.obs = make([]shownObs, len(an.Series.Obs))
	for i, o := range an.Series.Obs {
		c.obs[i] = shownObs{arch: o.Name(), fix: o.Fix, value: o.Value}
	}
	return c
}

// New builds the adapter over s; it reads the devices of the run (or of
// the store) and the kind of the accuracy source once.
func New(ctx context.Context, s *session.Session) (*App, error) {
	if s == nil {
		return nil, errors.New("explorer: no session")
	}
	a := &App{s: s}
	stored, err := s.Store().Devices(ctx)
	if err != nil {
		return nil, err
	}
	info := map[string]store.Device{}
	for _, d := range stored {
		info[d.Name] = d
	}
	var names []string
	if run := s.Run(); run != nil {
		names = run.Devices()
	} else {
		for _, d := range stored {
			n, err := s.Store().Count(ctx, store.Query{Device: d.Name, Space: s.Space().Name, Kind: store.KindPlan})
			if err != nil {
				return nil, err
			}
			if n > 0 {
				names = append(names, d.Name)
			}
		}
	}
	for _, n := range names {
		di := deviceInfo(n, info[n])
		if run := s.Run(); run != nil {
			var parts []string
			total := 0
			for _, g := range run.Stale(n) {
				parts = append(parts, fmt.Sprintf("%d %s", g.Count, g))
				total += g.Count
			}
			if total > 0 {
				di.Stale = fmt.Sprintf("%d records were taken with other settings (%s): kept, not used; this run measures those archs again",
					total, strings.Join(parts, "; "))
			}
		}
		a.devices = append(a.devices, di)
	}
	metric, prov, err := s.AccuracyKind(ctx)
	if err != nil {
		return nil, err
	}
	a.acc = friendliness.Metric{Name: metric, Unit: "%", Label: prov, HigherIsBetter: true}
	if metric == "proxy" {
		a.acc.Unit = ""
	}
	return a, nil
}

func deviceInfo(name string, d store.Device) common.DeviceInfo {
	in := d.Info
	di := common.DeviceInfo{Name: name, Kind: d.Kind, Provenance: in.Provenance, Label: in.Label}
	if di.Kind == "" {
		di.Kind = in.Kind
	}
	precision := in.Precision
	if strings.Contains(in.Mode, precision) {
		precision = "" // the mode already says it (ort: "ort-cpu, int8 QDQ, …")
	}
	var parts []string
	for _, p := range []string{in.Hardware, in.Runtime, in.Version, precision, in.Mode} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	if in.Threads > 0 && !strings.Contains(strings.Join(parts, " "), "thread") {
		parts = append(parts, fmt.Sprintf("%d threads", in.Threads))
	}
	if in.Batch > 0 {
		parts = append(parts, fmt.Sprintf("batch %d", in.Batch))
	}
	if in.Host != "" {
		parts = append(parts, "on "+in.Host)
	}
	di.Detail = strings.Join(parts, ", ")
	return di
}

// Events implements tui.Deps.
func (a *App) Events(ctx context.Context) <-chan engine.Event {
	return a.s.Subscribe(ctx)
}

// Live implements tui.Deps.
func (a *App) Live() bool { return a.s.Run() != nil }

// Space implements tui.Deps.
func (a *App) Space() *model.Space { return a.s.Space() }

// Devices implements tui.Deps.
func (a *App) Devices() []common.DeviceInfo { return slices.Clone(a.devices) }

// Pause implements devices.Control.
func (a *App) Pause(device string) error { return a.PauseBy(device, "") }

// Resume implements devices.Control.
func (a *App) Resume(device string) error { return a.ResumeBy(device, "") }

// Cancel implements devices.Control.
func (a *App) Cancel(device string) error { return a.CancelBy(device, "") }

// Remeasure implements devices.Control: the device's archs that missed
// its spread target are measured again in a new run.
func (a *App) Remeasure(device string) (int, error) {
	return a.s.RemeasureNoisy(context.Background(), device)
}

// PauseBy pauses a device on behalf of who (a served session's user).
func (a *App) PauseBy(device, who string) error { return a.s.Control(session.Pause, device, who) }

// ResumeBy resumes a device on behalf of who.
func (a *App) ResumeBy(device, who string) error { return a.s.Control(session.Resume, device, who) }

// CancelBy cancels a device on behalf of who.
func (a *App) CancelBy(device, who string) error { return a.s.Control(session.Cancel, device, who) }

// Metrics implements friendliness.Source.
func (a *App) Metrics() []friendliness.Metric {
	var out []friendliness.Metric
	if len(a.devices) > 0 {
		out = append(out, friendliness.Metric{Name: session.MetricLatency, Unit: "ms", PerDevice: true})
	}
	out = append(out, a.acc)
	return append(out,
		friendliness.Metric{Name: session.MetricMACs, Unit: "M", Label: "computed"},
		friendliness.Metric{Name: session.MetricParams, Unit: "M", Label: "computed"})
}

func (a *App) metric(name string) (friendliness.Metric, error) {
	for _, m := range a.Metrics() {
		if m.Name == name {
			return m, nil
		}
	}
	return friendliness.Metric{}, fmt.Errorf("no metric %q here", name)
}

func (a *App) analyze(ctx context.Context, device, metric string) (*computed, error) {
	mt, err := a.metric(metric)
	if err != nil {
		return nil, err
	}
	req := session.SeriesRequest{Metric: metric}
	if mt.PerDevice {
		req.Device = device
	}
	a.forget()
	var c *computed
	err = a.s.AnalyzeInto(ctx, req, a.s.AnalysisOptions(), func(an *session.Analysis) error {
		c = newComputed(device, metric, an, a.table(an, mt))
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	a.last = c
	a.mu.Unlock()
	return c, nil
}

// forget lets the latest analysis go before another series is read, so
// that two never live at once: the table on screen keeps its numbers, and
// Details of it analyses again.
func (a *App) forget() {
	a.mu.Lock()
	a.last = nil
	a.mu.Unlock()
}

// Table implements friendliness.Source.
func (a *App) Table(ctx context.Context, device, metric string) (friendliness.Table, error) {
	c, err := a.analyze(ctx, device, metric)
	if err != nil {
		return friendliness.Table{}, err
	}
	return c.table, nil
}

// support counts, among the uniform observations, the archs holding each
// block in each unit (layer 0) and at each layer.
func support(obs []analysis.Obs) map[friendliness.Key]int {
	out := map[friendliness.Key]int{}
	for _, o := range obs {
		if o.Fix != nil {
			continue
		}
		for u, layers := range o.Arch.Units {
			seen := map[string]bool{}
			for l, b := range layers {
				k := b.Key()
				out[friendliness.Key{Unit: u + 1, Layer: l + 1, Block: k}]++
				if !seen[k] {
					seen[k] = true
					out[friendliness.Key{Unit: u + 1, Block: k}]++
				}
			}
		}
	}
	return out
}

// table lays the report out as the view's table (no number is computed
// here: every estimate is the report's).
func (a *App) table(an *session.Analysis, mt friendliness.Metric) friendliness.Table {
	sp, s, rep := a.s.Space(), an.Series, an.Report
	t := friendliness.Table{Space: sp.Name, Device: s.Device, Metric: mt, Label: s.Label, Resolution: rep.Resolution,
		Uniform: rep.Uniform, Fixed: rep.Fixed, Baseline: rep.Baseline, Blocks: sp.BlockChoices(),
		Cells: map[friendliness.Key]friendliness.Cell{}, DepthEffects: map[[2]int]analysis.Estimate{},
		MinSupport: MinSupport, Level: rep.Level, Notes: slices.Clone(rep.Notes),
		Evidence: an.Evidence.Short(), Weak: an.Evidence.Weak}
	t.Metric.Unit = s.Unit
	if an.Evidence.Weak {
		t.Notes = append([]string{"weak evidence: " + strings.Join(an.Evidence.Why, "; ")}, t.Notes...)
	}
	for _, u := range sp.Units {
		var keys []string
		for _, b := range u.Blocks {
			keys = append(keys, b.Key())
		}
		t.Allowed = append(t.Allowed, keys)
		t.Depths = append(t.Depths, slices.Clone(u.Depths))
	}
	sup := support(s.Obs)
	val := func(e analysis.Estimate, n int) *friendliness.Value {
		return &friendliness.Value{Estimate: e, Support: n, Few: n < MinSupport || !e.HasCI()}
	}
	set := func(k friendliness.Key, st friendliness.Stat, v *friendliness.Value) {
		c := t.Cells[k]
		c[st] = v
		t.Cells[k] = c
	}
	fit, prof := rep.Fit(), rep.Profile()
	mode := a.s.AnalysisOptions().Mode
	for i, u := range sp.Units {
		for _, b := range u.Blocks {
			k := friendliness.Key{Unit: i + 1, Block: b.Key()}
			if e, ok := rep.BlockEffectOf(i+1, b.Key()); ok {
				set(k, friendliness.StatRegression, val(e, sup[k]))
			}
			if prof != nil {
				if e, ok := prof.UnitBlock(i+1, b, rep.Level); ok {
					set(k, friendliness.StatMean, val(e, e.N))
				}
			}
			if fit != nil {
				for l := 1; l <= u.MaxDepth(); l++ {
					kl := friendliness.Key{Unit: i + 1, Layer: l, Block: b.Key()}
					if e, err := fit.PredictLocation(model.Fix{Unit: i + 1, Layer: l, Block: b}, mode); err == nil {
						set(kl, friendliness.StatRegression, val(e, sup[kl]))
					}
				}
			}
		}
	}
	for _, l := range rep.Locations {
		k := friendliness.Key{Unit: l.Unit, Layer: l.Layer, Block: l.Key}
		set(k, friendliness.StatMean, val(l.Rel, l.N))
		for _, q := range l.RelQ {
			switch {
			case math.Abs(q.Tau-0.05) < 1e-9:
				set(k, friendliness.StatP5, val(q.Estimate, l.N))
			case math.Abs(q.Tau-0.95) < 1e-9:
				set(k, friendliness.StatP95, val(q.Estimate, l.N))
			}
		}
	}
	if g := rep.Regression; g != nil {
		for _, e := range g.DepthEffects {
			t.DepthEffects[[2]int{e.Unit, e.Depth}] = e.Estimate
		}
	}
	return t
}

// maxListed bounds the archs Details lists.
const maxListed = 500

// Details implements friendliness.Source.
func (a *App) Details(ctx context.Context, device, metric string, k friendliness.Key, st friendliness.Stat) (friendliness.Details, error) {
	a.mu.Lock()
	c := a.last
	a.mu.Unlock()
	if c == nil || c.device != device || c.metric != metric {
		var err error
		if c, err = a.analyze(ctx, device, metric); err != nil {
			return friendliness.Details{}, err
		}
	}
	b, err := model.ParseBlock(k.Block)
	if err != nil {
		return friendliness.Details{}, err
	}
	d := friendliness.Details{Key: k, Stat: st, Value: c.table.Cells[k][st]}
	var match func(o shownObs) (bool, error)
	if st == friendliness.StatRegression {
		where := fmt.Sprintf("in unit %d", k.Unit)
		if k.Layer > 0 {
			where = fmt.Sprintf("at layer %d of unit %d", k.Layer, k.Unit)
		}
		d.Role = fmt.Sprintf("uniform archs holding %s %s", k.Block, where)
		d.Notes = append(d.Notes, "the regression is fitted on every uniform arch; these are the ones that hold the block there")
		sp := a.s.Space()
		match = func(o shownObs) (bool, error) {
			if o.fix != nil {
				return false, nil
			}
			arch, err := sp.ParseArch(o.arch)
			if err != nil || k.Unit > len(arch.Units) {
				return false, err
			}
			layers := arch.Units[k.Unit-1]
			if k.Layer > 0 {
				return k.Layer <= len(layers) && layers[k.Layer-1] == b, nil
			}
			return slices.Contains(layers, b), nil
		}
	} else {
		d.Role = "A_{u,l,b} samples with the block fixed there"
		match = func(o shownObs) (bool, error) {
			return o.fix != nil && o.fix.Unit == k.Unit && o.fix.Block == b && (k.Layer == 0 || o.fix.Layer == k.Layer), nil
		}
	}
	d.Notes = append(d.Notes, c.evidence...)
	for _, o := range c.obs {
		ok, err := match(o)
		if err != nil {
			return friendliness.Details{}, err
		}
		if ok {
			d.Archs = append(d.Archs, friendliness.ArchValue{Arch: o.arch, Value: o.value})
		}
	}
	d.Total = len(d.Archs)
	slices.SortStableFunc(d.Archs, func(x, y friendliness.ArchValue) int { return cmp.Compare(x.Value, y.Value) })
	if len(d.Archs) > maxListed {
		d.Archs = d.Archs[:maxListed]
	}
	return d, nil
}

// Suggest implements friendliness.Source: the session's suggestion for the
// device's latency against the accuracy source (the same call as
// `analyze --suggest --quality accuracy`), as cuts with their reasons.
func (a *App) Suggest(ctx context.Context, device, metric string) (friendliness.Suggestion, error) {
	sug, err := a.s.Suggest(ctx, device, session.MetricAccuracy, a.s.AnalysisOptions())
	if err != nil {
		if errors.Is(err, session.ErrNothingToCut) {
			return friendliness.Suggestion{}, fmt.Errorf("%w (%s)", err, sug.Latency.Short())
		}
		return friendliness.Suggestion{}, err
	}
	out := friendliness.Suggestion{Cuts: sug.Cuts, Weak: sug.Weak}
	for _, s := range sug.Reduction.Suggestions {
		line := s.Text + " — rule: " + s.Rule
		for _, e := range s.Evidence {
			line += fmt.Sprintf("; %s = %s", e.Statistic, e.Estimate)
		}
		out.Lines = append(out.Lines, line)
	}
	for _, l := range sug.Latency.Lines() {
		out.Evidence = append(out.Evidence, "latency: "+l)
	}
	for _, l := range sug.Quality.Lines() {
		out.Evidence = append(out.Evidence, sug.QualityMetric+": "+l)
	}
	return out, nil
}

// Cuts implements friendliness.Source.
func (a *App) Cuts(ctx context.Context) (cuts.Cuts, error) { return a.s.Cuts(), nil }

// SetCuts implements friendliness.Source.
func (a *App) SetCuts(ctx context.Context, c cuts.Cuts) error { return a.s.SetCuts(ctx, c) }

// LoadReduced implements friendliness.Source.
func (a *App) LoadReduced(ctx context.Context, path string) (cuts.Cuts, error) {
	return a.s.LoadReduced(ctx, path)
}

// Points implements pareto.Source: the device's stored archs (the
// session's latency series) with their scores.
func (a *App) Points(ctx context.Context, device string) (paretoview.Data, error) {
	d := paretoview.Data{Device: device, AccuracyName: accuracyTitle(a.acc.Name), AccuracyUnit: a.acc.Unit, AccuracyLabel: a.acc.Label}
	a.forget()
	sc, err := a.s.ScoreSeries(ctx, session.SeriesRequest{Device: device})
	if err != nil {
		return d, err
	}
	ser := sc.Series
	d.LatencyLabel = ser.Label
	if ser.SpreadTarget > 0 && ser.AboveSpread > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d of %d archs missed the %.0f%% spread target", ser.AboveSpread, sc.Analysed, 100*ser.SpreadTarget))
	}
	if ser.Stale > 0 {
		d.Notes = append(d.Notes, fmt.Sprintf("%d records taken with earlier settings not used", ser.Stale))
	}
	pts := make([]pareto.Point, 0, len(sc.Archs))
	d.Points = make([]paretoview.Point, 0, len(sc.Archs))
	var prov session.Provenance
	for _, p := range sc.Archs {
		if err := prov.Add(p.Score.Provenance, "the score of "+p.Arch); err != nil {
			return d, err
		}
		pts = append(pts, pareto.Point{Latency: p.Latency, Accuracy: p.Score.Top1, ID: len(d.Points)})
		d.Points = append(d.Points, paretoview.Point{Arch: p.Arch, Latency: p.Latency, Accuracy: p.Score.Top1})
	}
	if l := prov.Label(); l != "" {
		d.AccuracyLabel = l
	}
	for _, p := range pareto.Front(pts) {
		d.Front = append(d.Front, p.ID)
	}
	if len(d.Points) == 0 {
		d.Notes = append(d.Notes, "no measurement on "+device+" yet")
	}
	return d, nil
}

func accuracyTitle(name string) string {
	if name == "proxy" {
		return "proxy score"
	}
	return "top-1 accuracy"
}

// Search implements pareto.Source: the session's search of the original
// and the reduced space, its progress forwarded to the view (and, as
// engine.SearchProgress, to every session).
func (a *App) Search(ctx context.Context, req paretoview.SearchRequest) (<-chan paretoview.SearchUpdate, error) {
	return a.SearchBy(ctx, req, "")
}

// SearchBy is Search on behalf of who (a served session's user).
func (a *App) SearchBy(ctx context.Context, req paretoview.SearchRequest, who string) (<-chan paretoview.SearchUpdate, error) {
	sp := a.s.Space()
	red, err := req.Reduction.ApplyTo(sp)
	if err != nil {
		return nil, err
	}
	ch := make(chan paretoview.SearchUpdate, 16)
	send := func(u paretoview.SearchUpdate) {
		select {
		case ch <- u:
		case <-ctx.Done():
		}
	}
	go func() {
		defer close(ch)
		res, err := a.s.Search(ctx, session.SearchRequest{Device: req.Device, Reduced: red, By: who, Progress: func(p session.SearchProgress) {
			send(paretoview.SearchUpdate{Space: p.Space, Reduced: p.Space != sp.Name, Seed: p.Seed, Generation: p.Generation,
				Generations: p.Generations, Evaluations: p.Evaluations, FrontSize: p.FrontSize, Hypervolume: p.Hypervolume})
		}})
		if err != nil {
			send(paretoview.SearchUpdate{Err: err})
			return
		}
		out := &paretoview.SearchResult{LatencyLabel: res.Latency.Label, AccuracyName: accuracyTitle(a.acc.Name), AccuracyUnit: a.acc.Unit,
			AccuracyLabel: res.Accuracy.Label, Seeds: len(res.Seeds),
			HVOriginal:       paretoview.Spread{Median: res.Original.HypervolumeMedian, Min: res.Original.HypervolumeMin, Max: res.Original.HypervolumeMax},
			HVReduced:        paretoview.Spread{Median: res.Reduced.HypervolumeMedian, Min: res.Reduced.HypervolumeMin, Max: res.Reduced.HypervolumeMax},
			LatencyReduction: paretoview.Spread{Median: res.LatencyReductionMedian, Min: res.LatencyReductionMin, Max: res.LatencyReductionMax},
			Evaluations:      res.Original.Evaluations + res.Reduced.Evaluations}
		for _, ind := range res.Original.Front {
			out.Original = append(out.Original, paretoview.Point{Arch: ind.Arch.String(), Latency: ind.Latency, Accuracy: ind.Accuracy})
		}
		for _, ind := range res.Reduced.Front {
			out.Reduced = append(out.Reduced, paretoview.Point{Arch: ind.Arch.String(), Latency: ind.Latency, Accuracy: ind.Accuracy})
		}
		send(paretoview.SearchUpdate{Result: out})
	}()
	return ch, nil
}

// Export implements export.Writer: the session writes the reduced space's
// TOML where the local user says, atomically. Served sessions write
// through their own jailed export.Dir instead.
func (a *App) Export(path string, r model.Reduction, overwrite bool) (export.Written, error) {
	w, err := a.s.Export(path, r, overwrite)
	if err != nil {
		return export.Written{}, err
	}
	return export.Written{Path: w.Path, Bytes: w.Bytes}, nil
}

// Destination implements export.Locator for Export.
func (a *App) Destination(path string) (string, error) { return exportdir.LocalPath(path) }

// EncodeReduction implements export.Encoder: the session checks the
// reduction against the space and returns its TOML, stamped with the time
// and the version.
func (a *App) EncodeReduction(r model.Reduction) ([]byte, error) { return a.s.EncodeReduction(r) }

var _ tui.Deps = (*App)(nil)
