// Package app adapts blockprof's engine to the explorer: it implements
// tui.Deps from a live engine.Run (events and intents), the results store
// (measurements, devices, plans), the analysis (friendliness tables), the
// reduction suggester, the accuracy source, the latency predictor and the
// search. Every number the explorer shows is computed here by those
// packages; the UI only draws them.
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
	"time"

	"blockprof/devices"
	"blockprof/engine"
	"blockprof/engine/accuracy"
	"blockprof/engine/analysis"
	"blockprof/engine/exportdir"
	"blockprof/engine/pareto"
	"blockprof/engine/predict"
	"blockprof/engine/reduce"
	"blockprof/engine/search"
	"blockprof/engine/store"
	"blockprof/model"
	"blockprof/tui"
	"blockprof/tui/common"
	"blockprof/tui/export"
	"blockprof/tui/friendliness"
	paretoview "blockprof/tui/pareto"
)

// Config wires the adapter.
type Config struct {
	// Space is the profiled space.
	Space *model.Space
	// Store holds the measurements. Required.
	Store *store.Store
	// Run is the live run (nil: the explorer shows what the store holds).
	Run *engine.Run
	// Accuracy scores archs (nil: no accuracy metric, no Pareto view, no
	// search). The default config's source is the proxy.
	Accuracy accuracy.Source
	// Search is the search budget; Seeds the seeds of a comparison
	// (default 1, 2, 3).
	Search search.Options
	Seeds  []uint64
	// Analysis tunes the friendliness estimators (Mode: the plan's
	// sampler).
	Analysis analysis.Options
	// Resolution is the plan's resolution (0: the most frequent one among
	// the measurements).
	Resolution int
	// MinSupport marks cells with fewer archs behind them (default 5).
	MinSupport int
	// Version is written into exported files.
	Version string
	// HostLock is the lock local devices hold while they time (nil: none).
	// The analysis and every search evaluation take it too, so that their
	// CPU work never overlaps a timed window on this machine's cores.
	HostLock *devices.HostLock
}

// App implements tui.Deps.
type App struct {
	cfg     Config
	sp      *model.Space
	devices []common.DeviceInfo
	accName string
	accUnit string
	accLbl  string

	mu     sync.Mutex
	scores map[string]accuracy.Value // canonical → accuracy
	archs  map[string]model.Arch     // canonical → parsed
	plan   []store.PlanItem
	// last keeps the latest analysis per (device, metric) for Details and
	// Suggest.
	last map[[2]string]*computed
}

type computed struct {
	series analysis.Series
	report *analysis.Report
	table  friendliness.Table
}

// New builds the adapter; it reads the devices of the run (or of the
// store) once.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.Space == nil {
		return nil, errors.New("explorer: no search space")
	}
	if cfg.Store == nil {
		return nil, errors.New("explorer: no results store")
	}
	if cfg.MinSupport <= 0 {
		cfg.MinSupport = 5
	}
	if len(cfg.Seeds) == 0 {
		cfg.Seeds = []uint64{1, 2, 3}
	}
	a := &App{cfg: cfg, sp: cfg.Space, scores: map[string]accuracy.Value{}, archs: map[string]model.Arch{}, last: map[[2]string]*computed{}}
	stored, err := cfg.Store.Devices(ctx)
	if err != nil {
		return nil, err
	}
	info := map[string]store.Device{}
	for _, d := range stored {
		info[d.Name] = d
	}
	var names []string
	if cfg.Run != nil {
		names = cfg.Run.Devices()
	} else {
		for _, d := range stored {
			n, err := cfg.Store.Count(ctx, store.Query{Device: d.Name, Space: cfg.Space.Name, Kind: store.KindPlan})
			if err != nil {
				return nil, err
			}
			if n > 0 {
				names = append(names, d.Name)
			}
		}
	}
	for _, n := range names {
		a.devices = append(a.devices, deviceInfo(n, info[n]))
	}
	a.accName, a.accUnit, a.accLbl = accuracyKind(cfg.Accuracy)
	return a, nil
}

func deviceInfo(name string, d store.Device) common.DeviceInfo {
	in := d.Info
	di := common.DeviceInfo{Name: name, Kind: d.Kind, Provenance: in.Provenance, Label: in.Label}
	if di.Kind == "" {
		di.Kind = in.Kind
	}
	var parts []string
	for _, p := range []string{in.Hardware, in.Runtime, in.Version, in.Precision, in.Mode} {
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

// accuracyKind names what the source's numbers are.
func accuracyKind(src accuracy.Source) (name, unit, label string) {
	switch src.(type) {
	case nil:
		return "", "", ""
	case *accuracy.ProxySource:
		return "proxy", "", accuracy.Proxy
	case *accuracy.PredictorSource:
		return "accuracy", "%", accuracy.Predicted
	case *accuracy.Records:
		return "accuracy", "%", accuracy.Table
	}
	return "accuracy", "%", accuracy.Measured
}

// Events implements tui.Deps.
func (a *App) Events(ctx context.Context) <-chan engine.Event {
	if a.cfg.Run == nil {
		ch := make(chan engine.Event)
		close(ch)
		return ch
	}
	return a.cfg.Run.Subscribe(ctx)
}

// Live implements tui.Deps.
func (a *App) Live() bool { return a.cfg.Run != nil }

// Space implements tui.Deps.
func (a *App) Space() *model.Space { return a.sp }

// Devices implements tui.Deps.
func (a *App) Devices() []common.DeviceInfo { return slices.Clone(a.devices) }

var errNoRun = errors.New("no live run (the explorer shows the store)")

// Pause implements devices.Control.
func (a *App) Pause(device string) error {
	if a.cfg.Run == nil {
		return errNoRun
	}
	return a.cfg.Run.Pause(device)
}

// Resume implements devices.Control.
func (a *App) Resume(device string) error {
	if a.cfg.Run == nil {
		return errNoRun
	}
	return a.cfg.Run.Resume(device)
}

// Cancel implements devices.Control.
func (a *App) Cancel(device string) error {
	if a.cfg.Run == nil {
		return errNoRun
	}
	return a.cfg.Run.Cancel(device)
}

func (a *App) device(name string) (common.DeviceInfo, bool) {
	for _, d := range a.devices {
		if d.Name == name {
			return d, true
		}
	}
	return common.DeviceInfo{}, false
}

// Metrics implements friendliness.Source.
func (a *App) Metrics() []friendliness.Metric {
	var out []friendliness.Metric
	if len(a.devices) > 0 {
		out = append(out, friendliness.Metric{Name: "latency", Unit: "ms", PerDevice: true})
	}
	if a.cfg.Accuracy != nil {
		out = append(out, friendliness.Metric{Name: a.accName, Unit: a.accUnit, Label: a.accLbl, HigherIsBetter: true})
	}
	out = append(out,
		friendliness.Metric{Name: "macs", Unit: "M", Label: "computed"},
		friendliness.Metric{Name: "params", Unit: "M", Label: "computed"})
	return out
}

func (a *App) metric(name string) (friendliness.Metric, error) {
	for _, m := range a.Metrics() {
		if m.Name == name {
			return m, nil
		}
	}
	return friendliness.Metric{}, fmt.Errorf("no metric %q here", name)
}

func (a *App) parse(canonical string) (model.Arch, error) {
	a.mu.Lock()
	arch, ok := a.archs[canonical]
	a.mu.Unlock()
	if ok {
		return arch, nil
	}
	arch, err := a.sp.ParseArch(canonical)
	if err != nil {
		return model.Arch{}, fmt.Errorf("store %s: %w", a.cfg.Store.Path(), err)
	}
	a.mu.Lock()
	a.archs[canonical] = arch
	a.mu.Unlock()
	return arch, nil
}

func (a *App) obs(canonical, fix string, v float64) (analysis.Obs, error) {
	arch, err := a.parse(canonical)
	if err != nil {
		return analysis.Obs{}, err
	}
	f, err := store.ParseFix(fix)
	if err != nil {
		return analysis.Obs{}, fmt.Errorf("store %s: arch %s: %w", a.cfg.Store.Path(), canonical, err)
	}
	return analysis.Obs{Arch: arch, Fix: f, Value: v}, nil
}

// probeCorrected ends the label of probe-corrected latencies.
const probeCorrected = ", probe-corrected"

// MaxObs bounds the observations the explorer analyses per device and
// metric: past it, an even subsample (every k-th in store order) is used, so
// that a store with 100k measurements stays responsive and small; the
// table's counts say how many archs each number rests on.
const MaxObs = 20000

// stride is the subsampling step that keeps n items within MaxObs.
func stride(n int) int { return max(1, (n+MaxObs-1)/MaxObs) }

// latencyObs are the device's plan measurements of the space, streamed
// from the store and subsampled to MaxObs; corrected says their latencies
// are probe-corrected (store.Record.Latency), for the label.
func (a *App) latencyObs(ctx context.Context, device string) (obs []analysis.Obs, corrected bool, err error) {
	q := store.Query{Device: device, Space: a.sp.Name, Kind: store.KindPlan, Latest: true}
	n, err := a.cfg.Store.Count(ctx, q)
	if err != nil {
		return nil, false, err
	}
	baseline, err := a.cfg.Store.ProbeBaseline(ctx, device)
	if err != nil {
		return nil, false, err
	}
	step := stride(n)
	out := make([]analysis.Obs, 0, min(n, MaxObs))
	i := 0
	for r, err := range a.cfg.Store.Records(ctx, q) {
		if err != nil {
			return nil, false, err
		}
		i++
		if (i-1)%step != 0 {
			continue
		}
		o, err := a.obs(r.Arch, r.Fix, r.Latency(baseline))
		if err != nil {
			return nil, false, err
		}
		out = append(out, o)
	}
	return out, baseline > 0, nil
}

// planObs are every plan item of the space's runs (value 0).
func (a *App) planObs(ctx context.Context) ([]analysis.Obs, error) {
	a.mu.Lock()
	plan := a.plan
	a.mu.Unlock()
	if plan == nil {
		runs, err := a.cfg.Store.Runs(ctx)
		if err != nil {
			return nil, err
		}
		seen := map[[2]string]bool{}
		for _, r := range runs {
			if r.Space != a.sp.Name {
				continue
			}
			items, err := a.cfg.Store.Plan(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				k := [2]string{it.Arch.Canonical, it.Fix}
				if !seen[k] {
					seen[k] = true
					plan = append(plan, it)
				}
			}
		}
		a.mu.Lock()
		a.plan = plan
		a.mu.Unlock()
	}
	step := stride(len(plan))
	out := make([]analysis.Obs, 0, min(len(plan), MaxObs))
	for i, it := range plan {
		if i%step != 0 {
			continue
		}
		o, err := a.obs(it.Arch.Canonical, it.Fix, 0)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// score is the arch's accuracy (or proxy score), cached.
func (a *App) score(ctx context.Context, arch model.Arch) (accuracy.Value, error) {
	key := arch.String()
	a.mu.Lock()
	v, ok := a.scores[key]
	a.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := a.cfg.Accuracy.Top1(ctx, arch)
	if err != nil {
		return accuracy.Value{}, err
	}
	a.mu.Lock()
	a.scores[key] = v
	a.mu.Unlock()
	return v, nil
}

// series builds the analysis input of a device and metric.
func (a *App) series(ctx context.Context, device, metric string) (analysis.Series, friendliness.Metric, error) {
	mt, err := a.metric(metric)
	if err != nil {
		return analysis.Series{}, mt, err
	}
	s := analysis.Series{Space: a.sp, Metric: mt.Name, Unit: mt.Unit, Label: mt.Label}
	var obs []analysis.Obs
	switch {
	case mt.Name == "latency":
		d, ok := a.device(device)
		if !ok {
			return s, mt, fmt.Errorf("no device %q in this run", device)
		}
		s.Device, s.Label = device, d.Source()
		var corrected bool
		if obs, corrected, err = a.latencyObs(ctx, device); err != nil {
			return s, mt, err
		}
		if corrected {
			s.Label += probeCorrected
		}
		if len(obs) == 0 {
			return s, mt, fmt.Errorf("no plan measurements of %s on %s yet", a.sp.Name, device)
		}
	case mt.Name == "macs" || mt.Name == "params":
		f, unit, err := analysis.NetworkMetric(a.sp, mt.Name)
		if err != nil {
			return s, mt, err
		}
		s.Unit = unit
		if obs, err = a.planObs(ctx); err != nil {
			return s, mt, err
		}
		for i := range obs {
			if obs[i].Value, err = f(obs[i].Arch); err != nil {
				return s, mt, err
			}
		}
	default: // the accuracy source
		if obs, err = a.planObs(ctx); err != nil {
			return s, mt, err
		}
		labels := map[string]bool{}
		for i := range obs {
			v, err := a.score(ctx, obs[i].Arch)
			if err != nil {
				return s, mt, fmt.Errorf("%s of %s: %w", mt.Name, obs[i].Arch, err)
			}
			obs[i].Value = v.Top1
			labels[v.Label] = true
		}
		if ls := slices.Sorted(func(yield func(string) bool) {
			for l := range labels {
				if !yield(l) {
					return
				}
			}
		}); len(ls) > 0 {
			s.Label = strings.Join(ls, "+")
		}
	}
	if len(obs) == 0 {
		return s, mt, fmt.Errorf("no plan archs of %s in the store yet", a.sp.Name)
	}
	s.Obs = a.atResolution(obs)
	return s, mt, nil
}

// atResolution keeps the observations at the configured resolution, or at
// the most frequent one (the analysis takes one resolution at a time).
func (a *App) atResolution(obs []analysis.Obs) []analysis.Obs {
	r := a.cfg.Resolution
	if r == 0 {
		count := map[int]int{}
		for _, o := range obs {
			count[o.Arch.Resolution]++
			if c := count[o.Arch.Resolution]; c > count[r] || c == count[r] && o.Arch.Resolution > r {
				r = o.Arch.Resolution
			}
		}
	}
	return slices.DeleteFunc(slices.Clone(obs), func(o analysis.Obs) bool { return o.Arch.Resolution != r })
}

func (a *App) analyze(ctx context.Context, device, metric string) (*computed, error) {
	s, mt, err := a.series(ctx, device, metric)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var rep *analysis.Report
	err = a.exclusive(ctx, func() error {
		var err error
		rep, err = analysis.Analyze(s, a.cfg.Analysis)
		return err
	})
	if err != nil {
		return nil, err
	}
	c := &computed{series: s, report: rep, table: a.table(s, mt, rep)}
	a.mu.Lock()
	a.last[[2]string{device, metric}] = c
	a.mu.Unlock()
	return c, nil
}

// exclusive runs f holding the host lock, if there is one.
func (a *App) exclusive(ctx context.Context, f func() error) error {
	if l := a.cfg.HostLock; l != nil {
		if err := l.Lock(ctx); err != nil {
			return err
		}
		defer l.Unlock()
	}
	return f()
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

func (a *App) table(s analysis.Series, mt friendliness.Metric, rep *analysis.Report) friendliness.Table {
	sp := a.sp
	t := friendliness.Table{Space: sp.Name, Device: s.Device, Metric: mt, Label: s.Label, Resolution: rep.Resolution,
		Uniform: rep.Uniform, Fixed: rep.Fixed, Baseline: rep.Baseline, Blocks: sp.BlockChoices(),
		Cells: map[friendliness.Key]friendliness.Cell{}, DepthEffects: map[[2]int]analysis.Estimate{},
		MinSupport: a.cfg.MinSupport, Level: rep.Level, Notes: slices.Clone(rep.Notes)}
	t.Metric.Unit = s.Unit
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
		return &friendliness.Value{Estimate: e, Support: n, Few: n < a.cfg.MinSupport || !e.HasCI()}
	}
	set := func(k friendliness.Key, st friendliness.Stat, v *friendliness.Value) {
		c := t.Cells[k]
		c[st] = v
		t.Cells[k] = c
	}
	fit, prof := rep.Fit(), rep.Profile()
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
					if e, err := fit.PredictLocation(model.Fix{Unit: i + 1, Layer: l, Block: b}, a.cfg.Analysis.Mode); err == nil {
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
	c := a.last[[2]string{device, metric}]
	a.mu.Unlock()
	if c == nil {
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
	var match func(o analysis.Obs) bool
	if st == friendliness.StatRegression {
		where := fmt.Sprintf("in unit %d", k.Unit)
		if k.Layer > 0 {
			where = fmt.Sprintf("at layer %d of unit %d", k.Layer, k.Unit)
		}
		d.Role = fmt.Sprintf("uniform archs holding %s %s", k.Block, where)
		d.Notes = append(d.Notes, "the regression is fitted on every uniform arch; these are the ones that hold the block there")
		match = func(o analysis.Obs) bool {
			if o.Fix != nil || k.Unit > len(o.Arch.Units) {
				return false
			}
			layers := o.Arch.Units[k.Unit-1]
			if k.Layer > 0 {
				return k.Layer <= len(layers) && layers[k.Layer-1] == b
			}
			return slices.Contains(layers, b)
		}
	} else {
		d.Role = "A_{u,l,b} samples with the block fixed there"
		match = func(o analysis.Obs) bool {
			return o.Fix != nil && o.Fix.Unit == k.Unit && o.Fix.Block == b && (k.Layer == 0 || o.Fix.Layer == k.Layer)
		}
	}
	for _, o := range c.series.Obs {
		if match(o) {
			d.Archs = append(d.Archs, friendliness.ArchValue{Arch: o.Arch.String(), Value: o.Value})
		}
	}
	d.Total = len(d.Archs)
	slices.SortStableFunc(d.Archs, func(x, y friendliness.ArchValue) int { return cmp.Compare(x.Value, y.Value) })
	if len(d.Archs) > maxListed {
		d.Archs = d.Archs[:maxListed]
	}
	return d, nil
}

// Suggest implements friendliness.Source: reduce.Suggest on the device's
// latency tables and the accuracy (or proxy) tables.
func (a *App) Suggest(ctx context.Context, device, metric string) (model.Reduction, error) {
	if device == "" {
		return model.Reduction{}, errors.New("suggestions need a device's latency")
	}
	lat, err := a.analyze(ctx, device, "latency")
	if err != nil {
		return model.Reduction{}, err
	}
	var quality *analysis.Report
	if a.cfg.Accuracy != nil {
		q, err := a.analyze(ctx, device, a.accName)
		if err != nil {
			return model.Reduction{}, err
		}
		quality = q.report
	}
	r, err := reduce.Suggest(lat.report, quality, reduce.Options{Name: fmt.Sprintf("%s-%s-suggested", a.sp.Name, device)})
	if err != nil {
		return model.Reduction{}, err
	}
	mr := r.Model()
	if len(r.Suggestions) == 0 {
		why := "no cut is supported by the data yet"
		if quality == nil {
			why = "no accuracy source: a faster block may be a worse one, so nothing is cut"
		}
		return mr, errors.New(why)
	}
	return mr, nil
}

// Points implements pareto.Source.
func (a *App) Points(ctx context.Context, device string) (paretoview.Data, error) {
	d := paretoview.Data{Device: device, AccuracyName: accuracyTitle(a.accName), AccuracyUnit: a.accUnit, AccuracyLabel: a.accLbl}
	if di, ok := a.device(device); ok {
		d.LatencyLabel = di.Source()
	}
	if a.cfg.Accuracy == nil {
		return d, errors.New("no accuracy source configured: the Pareto view needs one ([spaces.NAME] accuracy)")
	}
	obs, corrected, err := a.latencyObs(ctx, device)
	if err != nil {
		return d, err
	}
	if corrected {
		d.LatencyLabel += probeCorrected
	}
	obs = a.atResolution(obs)
	seen := map[string]bool{}
	var pts []pareto.Point
	for _, o := range obs {
		key := o.Arch.String()
		if seen[key] {
			continue
		}
		seen[key] = true
		v, err := a.score(ctx, o.Arch)
		if err != nil {
			return d, fmt.Errorf("%s of %s: %w", a.accName, key, err)
		}
		pts = append(pts, pareto.Point{Latency: o.Value, Accuracy: v.Top1, ID: len(d.Points)})
		d.Points = append(d.Points, paretoview.Point{Arch: key, Latency: o.Value, Accuracy: v.Top1})
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
	switch name {
	case "proxy":
		return "proxy score"
	case "":
		return "score"
	}
	return "top-1 accuracy"
}

// Search implements pareto.Source: the additive latency predictor fitted on
// the device's uniform measurements, the accuracy source, and
// search.Compare of the original and the reduced space over the seeds.
func (a *App) Search(ctx context.Context, req paretoview.SearchRequest) (<-chan paretoview.SearchUpdate, error) {
	if a.cfg.Accuracy == nil {
		return nil, errors.New("no accuracy source configured: the search needs one")
	}
	red, err := req.Reduction.ApplyTo(a.sp)
	if err != nil {
		return nil, err
	}
	obs, _, err := a.latencyObs(ctx, req.Device)
	if err != nil {
		return nil, err
	}
	var archs []model.Arch
	var y []float64
	for _, o := range a.atResolution(obs) {
		if o.Fix == nil {
			archs = append(archs, o.Arch)
			y = append(y, o.Value)
		}
	}
	pred, err := predict.FitAdditive(a.sp, archs, y, predict.AdditiveOptions{})
	if err != nil {
		return nil, fmt.Errorf("latency predictor for %s: %w", req.Device, err)
	}
	opts := a.cfg.Search
	if opts.Resolution == 0 && len(archs) > 0 {
		opts.Resolution = archs[0].Resolution
	}
	latLabel := fmt.Sprintf("predicted (additive fit on %d %s archs of %s)", len(archs), string(devices.Measured), req.Device)
	if di, ok := a.device(req.Device); ok && !di.Measured() {
		latLabel = fmt.Sprintf("predicted (additive fit on %d %s archs of %s)", len(archs), di.Source(), req.Device)
	}
	eval := func(arch model.Arch) (lat, acc float64, err error) {
		err = a.exclusive(ctx, func() error {
			v, err := a.score(ctx, arch)
			lat, acc = pred.Predict(arch), v.Top1
			return err
		})
		return lat, acc, err
	}
	ch := make(chan paretoview.SearchUpdate, 16)
	send := func(u paretoview.SearchUpdate) {
		select {
		case ch <- u:
		case <-ctx.Done():
		}
	}
	seeds := slices.Clone(a.cfg.Seeds)
	go func() {
		defer close(ch)
		cmpRes, err := search.Compare(ctx, a.sp, red, eval, opts, seeds, func(p search.CompareProgress) {
			send(paretoview.SearchUpdate{Space: p.Space, Reduced: p.Space != a.sp.Name, Seed: p.Seed, Generation: p.Generation,
				Generations: p.Generations, Evaluations: p.Evaluations, FrontSize: p.FrontSize, Hypervolume: p.Hypervolume})
		})
		if err != nil {
			send(paretoview.SearchUpdate{Err: err})
			return
		}
		res := &paretoview.SearchResult{LatencyLabel: latLabel, AccuracyName: accuracyTitle(a.accName), AccuracyUnit: a.accUnit,
			AccuracyLabel: a.accLbl, Seeds: len(seeds),
			HVOriginal:       paretoview.Spread{Median: cmpRes.Original.HypervolumeMedian, Min: cmpRes.Original.HypervolumeMin, Max: cmpRes.Original.HypervolumeMax},
			HVReduced:        paretoview.Spread{Median: cmpRes.Reduced.HypervolumeMedian, Min: cmpRes.Reduced.HypervolumeMin, Max: cmpRes.Reduced.HypervolumeMax},
			LatencyReduction: paretoview.Spread{Median: cmpRes.LatencyReductionMedian, Min: cmpRes.LatencyReductionMin, Max: cmpRes.LatencyReductionMax},
			Evaluations:      cmpRes.Original.Evaluations + cmpRes.Reduced.Evaluations}
		for _, ind := range cmpRes.Original.Front {
			res.Original = append(res.Original, paretoview.Point{Arch: ind.Arch.String(), Latency: ind.Latency, Accuracy: ind.Accuracy})
		}
		for _, ind := range cmpRes.Reduced.Front {
			res.Reduced = append(res.Reduced, paretoview.Point{Arch: ind.Arch.String(), Latency: ind.Latency, Accuracy: ind.Accuracy})
		}
		send(paretoview.SearchUpdate{Result: res})
	}()
	return ch, nil
}

// Export implements export.Writer: it encodes the reduction
// (EncodeReduction), then writes it where the user says, atomically
// (exportdir.WriteLocal). Served sessions write through export.Dir.
func (a *App) Export(path string, r model.Reduction, overwrite bool) (export.Written, error) {
	data, err := a.EncodeReduction(r)
	if err != nil {
		return export.Written{}, err
	}
	abs, err := exportdir.WriteLocal(path, data, overwrite)
	if err != nil {
		return export.Written{}, err
	}
	return export.Written{Path: abs, Bytes: data}, nil
}

// Destination implements export.Locator for Export.
func (a *App) Destination(path string) (string, error) { return exportdir.LocalPath(path) }

// EncodeReduction implements export.Encoder: it checks the reduction
// against the space and returns its TOML, stamped with the time and the
// version.
func (a *App) EncodeReduction(r model.Reduction) ([]byte, error) {
	if _, err := r.ApplyTo(a.sp); err != nil {
		return nil, err
	}
	if r.Created == "" {
		r.Created = time.Now().UTC().Format(time.RFC3339)
	}
	if r.Version == "" {
		r.Version = a.cfg.Version
	}
	return r.Marshal(), nil
}

var _ tui.Deps = (*App)(nil)
