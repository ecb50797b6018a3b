package session

import (
	"context"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"blockprof/engine/analysis"
	"blockprof/engine/store"
	"blockprof/model"
)

// Metrics the session serves besides an accuracy source's.
const (
	MetricLatency  = "latency"
	MetricAccuracy = "accuracy"
	MetricMACs     = "macs"
	MetricParams   = "params"
)

// MaxObs bounds the observations analysed per device and metric: past it,
// an even subsample (every k-th record in store order) is used, so that a
// store with 100k measurements stays responsive and small. Every front end
// gets the same subsample; Series.Records says how many there were.
const MaxObs = 20000

// SeriesRequest names a series.
type SeriesRequest struct {
	// Device is required for latency.
	Device string
	// Metric is latency, accuracy (the space's accuracy source, or its
	// proxy score), macs or params.
	Metric string
	// Resolution (0: the session's).
	Resolution int
}

// Series is the analysis input of a device and metric, with the provenance
// of the records behind it and the quality of their measurements.
type Series struct {
	analysis.Series
	Provenance Provenance
	// Records counts the records read (every resolution, before
	// subsampling); Resolutions the resolutions they cover.
	Records     int
	Resolutions []int
	// Spread: how many of the analysed latency records missed the device's
	// spread target (IQR/median above target_spread), and the target.
	AboveSpread  int
	SpreadTarget float64
	// Stale counts the device's records taken with other settings (another
	// fingerprint): kept in the store, not used here.
	Stale int
	// Field is the name the values print under: latency_ms, accuracy,
	// proxy_score, macs or params.
	Field string
}

// Series is the one function from stored records to analysis
// observations: the explorer's tables and Pareto view, `analyze` and the
// latency model of `search` all read through it. Resolution 0 is the
// session's, or the only one the store holds. It holds the host lock:
// reading and parsing up to MaxObs records (and scoring their archs) is
// work for the cores that a local device times on; and before it lets go,
// the heap that a large series grew is returned to the system (a forced
// collection), so that it is not added to the next model a device loads.
func (s *Session) Series(ctx context.Context, req SeriesRequest) (Series, error) {
	var ser Series
	err := s.exclusive(ctx, func() error {
		var err error
		ser, err = s.series(ctx, req)
		release(len(ser.Obs))
		return err
	})
	return ser, err
}

// releaseObs is the size of a series past which reading (and analysing)
// it grew the heap by megabytes: the explorer rereads small series on
// every new measurement, and those are left to the collector.
const releaseObs = 5000

// release returns the free heap to the system after a series of n
// observations was read or analysed (see Series).
func release(n int) {
	if n >= releaseObs {
		debug.FreeOSMemory()
	}
}

// exclusiveGCPercent is the collector's GOGC while the host lock is held
// by a series, an analysis or a search evaluation: a series of MaxObs
// archs builds 20-25 MB of live heap in a burst, and at the default 100
// the heap grew to twice that before each collection. No device times
// then, so the collections cost nothing but the analysis' own time. The
// explorer's peak with 100k stored measurements, profiling on the ort
// device, went from 144.6-149.1 MB to 142.8-143.5 MB (docs/benchmarks.md,
// issue 14).
const exclusiveGCPercent = 50

// tighterGC lowers GOGC to exclusiveGCPercent and returns what restores
// it; a lower setting (or GOGC=off) is left as it is.
func tighterGC() (restore func()) {
	old := debug.SetGCPercent(exclusiveGCPercent)
	if old < 0 || old <= exclusiveGCPercent {
		debug.SetGCPercent(old)
		return func() {}
	}
	return func() { debug.SetGCPercent(old) }
}

// series is Series for a caller that holds the host lock.
func (s *Session) series(ctx context.Context, req SeriesRequest) (Series, error) {
	res := req.Resolution
	if res == 0 {
		res = s.spec.Resolution
	}
	ser, err := s.seriesAt(ctx, req, res)
	// Without an asked resolution, a store holding one other resolution
	// only is analysed at that one (every front end alike).
	if err != nil && req.Resolution == 0 && len(ser.Resolutions) == 1 && ser.Resolutions[0] != res {
		return s.seriesAt(ctx, req, ser.Resolutions[0])
	}
	return ser, err
}

func (s *Session) seriesAt(ctx context.Context, req SeriesRequest, res int) (Series, error) {
	switch req.Metric {
	case MetricLatency:
		return s.latencySeries(ctx, req.Device, res)
	case MetricMACs, MetricParams:
		return s.networkSeries(ctx, req.Metric, res)
	case MetricAccuracy, "proxy", "top1":
		return s.accuracySeries(ctx, res)
	}
	return Series{}, fmt.Errorf("metric %q: want latency, accuracy, macs or params", req.Metric)
}

// storedDevice is the store's record of a device.
func (s *Session) storedDevice(ctx context.Context, name string) (store.Device, error) {
	devs, err := s.st.Devices(ctx)
	if err != nil {
		return store.Device{}, err
	}
	var names []string
	for _, d := range devs {
		if d.Name == name {
			return d, nil
		}
		names = append(names, d.Name)
	}
	if len(names) == 0 {
		return store.Device{}, fmt.Errorf("store %s holds no device yet: profile first (blockprof profile --store %s)", s.st.Path(), s.st.Path())
	}
	return store.Device{}, fmt.Errorf("store %s has no device %q (devices: %s)", s.st.Path(), name, strings.Join(names, ", "))
}

func stride(n int) int { return max(1, (n+MaxObs-1)/MaxObs) }

func (s *Session) latencySeries(ctx context.Context, device string, res int) (Series, error) {
	out := Series{Field: "latency_ms"}
	out.Space, out.Metric, out.Unit, out.Device = s.sp, MetricLatency, "ms", device
	if device == "" {
		return out, fmt.Errorf("latency needs a device (--device)")
	}
	d, err := s.storedDevice(ctx, device)
	if err != nil {
		return out, err
	}
	out.SpreadTarget = d.Settings.Protocol().TargetSpread
	q := store.Query{Device: device, Space: s.sp.Name, Kind: store.KindPlan, Latest: true, Fingerprint: d.Fingerprint}
	n, err := s.st.Count(ctx, q)
	if err != nil {
		return out, err
	}
	baseline, err := s.st.ProbeBaseline(ctx, device)
	if err != nil {
		return out, err
	}
	stale, err := s.st.Stale(ctx, device, d.Fingerprint, s.sp.Name)
	if err != nil {
		return out, err
	}
	for _, g := range stale {
		out.Stale += g.Count
	}
	step := stride(n)
	out.Obs = make([]analysis.Obs, 0, min(n, MaxObs))
	units := model.NewUnitCache()
	i := 0
	for r, err := range s.st.Records(ctx, q) {
		if err != nil {
			return out, err
		}
		out.Records++
		if !slices.Contains(out.Resolutions, r.Resolution) {
			out.Resolutions = append(out.Resolutions, r.Resolution)
		}
		if r.Resolution != res {
			continue
		}
		i++
		if (i-1)%step != 0 {
			continue
		}
		o, err := s.obs(units, r.Arch, r.Fix, r.Latency(baseline))
		if err != nil {
			return out, err
		}
		if err := out.Provenance.Add(string(r.Provenance), fmt.Sprintf("measurement %d of %s on %s (store %s)", r.ID, r.Arch, device, s.st.Path())); err != nil {
			return out, err
		}
		if baseline > 0 && r.Relative > 0 {
			out.Provenance.Corrected++
		}
		if out.SpreadTarget > 0 && r.Spread > out.SpreadTarget {
			out.AboveSpread++
		}
		out.Obs = append(out.Obs, o)
	}
	if out.Provenance.Only(string(d.Info.Provenance)) && d.Info.Label != "" {
		out.Provenance.Detail = d.Info.Label
	}
	out.Label = out.Provenance.Label()
	if len(out.Obs) == 0 {
		return out, s.emptyError(fmt.Sprintf("plan measurements of %s on %s", s.sp.Name, device), res, out.Resolutions, out.Stale)
	}
	return out, nil
}

func (s *Session) emptyError(what string, res int, present []int, stale int) error {
	msg := fmt.Sprintf("store %s has no %s at %d px", s.st.Path(), what, res)
	if len(present) > 0 {
		slices.Sort(present)
		msg += fmt.Sprintf(" (present: %s px; pass --resolution)", joinInts(present))
	} else {
		msg += " yet: profile first"
	}
	if stale > 0 {
		msg += fmt.Sprintf("; %d records were taken with the device's earlier settings and no longer count (blockprof profile measures them again)", stale)
	}
	return fmt.Errorf("%s", msg)
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// obs parses one stored record's arch and plan role; the archs of one
// series share their equal units through units.
func (s *Session) obs(units *model.UnitCache, canonical, fix string, v float64) (analysis.Obs, error) {
	arch, err := s.sp.ParseArchShared(canonical, units)
	if err != nil {
		return analysis.Obs{}, fmt.Errorf("store %s: %w", s.st.Path(), err)
	}
	f, err := store.ParseFix(fix)
	if err != nil {
		return analysis.Obs{}, fmt.Errorf("store %s: arch %s: %w", s.st.Path(), canonical, err)
	}
	return analysis.Obs{Arch: arch, Fix: f, Value: v, Key: canonical}, nil
}

// planObs are the plan items of the space's runs at resolution res (value
// 0), subsampled like the latency records; total counts the items at every
// resolution.
func (s *Session) planObs(ctx context.Context, res int) (obs []analysis.Obs, total int, resolutions []int, err error) {
	counts, err := s.plans.counts(ctx, s.st, s.sp.Name)
	if err != nil {
		return nil, 0, nil, err
	}
	n := 0
	for _, c := range counts {
		resolutions = append(resolutions, c.Resolution)
		total += c.Items
		if c.Resolution == res {
			n = c.Items
		}
	}
	if n == 0 {
		return nil, total, resolutions, nil
	}
	refs, err := s.plans.refs(ctx, s.st, s.sp.Name, res, stride(n))
	if err != nil {
		return nil, 0, nil, err
	}
	obs = make([]analysis.Obs, 0, len(refs))
	units := model.NewUnitCache()
	for _, it := range refs {
		o, err := s.obs(units, it.Canonical, it.Fix, 0)
		if err != nil {
			return nil, 0, nil, err
		}
		obs = append(obs, o)
	}
	return obs, total, resolutions, nil
}

func (s *Session) networkSeries(ctx context.Context, metric string, res int) (Series, error) {
	out := Series{Field: metric}
	out.Space, out.Metric = s.sp, metric
	f, unit, err := analysis.NetworkMetric(s.sp, metric)
	if err != nil {
		return out, err
	}
	out.Unit, out.Label = unit, "computed from the network"
	if out.Obs, out.Records, out.Resolutions, err = s.planObs(ctx, res); err != nil {
		return out, err
	}
	for i := range out.Obs {
		if out.Obs[i].Value, err = f(out.Obs[i].Arch); err != nil {
			return out, err
		}
	}
	if len(out.Obs) == 0 {
		return out, s.emptyError("plan archs of "+s.sp.Name, res, out.Resolutions, 0)
	}
	return out, nil
}

func (s *Session) accuracySeries(ctx context.Context, res int) (Series, error) {
	out := Series{}
	out.Space = s.sp
	obs, total, rs, err := s.planObs(ctx, res)
	if err != nil {
		return out, err
	}
	out.Records, out.Resolutions = total, rs
	if len(obs) == 0 {
		return out, s.emptyError("plan archs of "+s.sp.Name, res, rs, 0)
	}
	archs := make([]model.Arch, len(obs))
	keys := make([]string, len(obs))
	for i := range obs {
		archs[i], keys[i] = obs[i].Arch, obs[i].Key
	}
	vals, err := s.acc.scoreKeyed(ctx, archs, keys)
	if err != nil {
		return out, fmt.Errorf("accuracy: %w", err)
	}
	for i := range obs {
		obs[i].Value = vals[i].Top1
		if err := out.Provenance.Add(vals[i].Provenance, "the accuracy of "+obs[i].Name()); err != nil {
			return out, err
		}
	}
	out.Obs = obs
	out.Metric, out.Unit, out.Field = MetricAccuracy, "%", "accuracy"
	if out.Provenance.Only("proxy") {
		out.Metric, out.Unit, out.Field = "proxy", "", "proxy_score"
	}
	out.Label = out.Provenance.Label()
	if src := s.acc.name; src != "" && src != out.Label {
		out.Label += " (" + src + ")"
	}
	return out, nil
}

// planCache keeps what the analysis reads of the space's plan: the item
// counts per resolution and, per resolution, the subsampled items (as
// references: no OFA decoding), read once until Prepare resets them. The
// archs are parsed again for each series (20,000 in about 40 ms): kept,
// they were the larger part of an idle explorer's heap.
type planCache struct {
	mu    sync.Mutex
	sizes []store.PlanCount // nil until read
	at    map[int][]store.PlanRef
}

func (p *planCache) reset() {
	p.mu.Lock()
	p.sizes, p.at = nil, nil
	p.mu.Unlock()
}

// counts returns the plan's item counts per resolution.
func (p *planCache) counts(ctx context.Context, st *store.Store, space string) ([]store.PlanCount, error) {
	p.mu.Lock()
	counts := p.sizes
	p.mu.Unlock()
	if counts != nil {
		return counts, nil
	}
	counts, err := st.PlanCounts(ctx, space)
	if err != nil {
		return nil, err
	}
	if counts == nil {
		counts = []store.PlanCount{}
	}
	p.mu.Lock()
	p.sizes, p.at = counts, nil
	p.mu.Unlock()
	return counts, nil
}

// refs returns every step-th plan item at resolution res.
func (p *planCache) refs(ctx context.Context, st *store.Store, space string, res, step int) ([]store.PlanRef, error) {
	p.mu.Lock()
	refs, ok := p.at[res]
	p.mu.Unlock()
	if ok {
		return refs, nil
	}
	refs, err := st.PlanRefs(ctx, space, res, step)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.at == nil {
		p.at = map[int][]store.PlanRef{}
	}
	p.at[res] = refs
	p.mu.Unlock()
	return refs, nil
}
