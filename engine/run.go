// Package engine runs profiling: a plan of architectures dispatched to
// every device, one worker goroutine per device, each measurement
// committed to the store as it is taken, with per-measurement timeouts,
// retries with back-off for transient errors, devices marked failed after
// repeated errors while the others go on, a reference architecture
// re-measured to follow drift, and typed events for the UI. A re-run of
// the same plan resumes: what the store holds is skipped.
package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"blockprof/devices"
	"blockprof/engine/config"
	"blockprof/engine/store"
	"blockprof/model"
)

// Target is a device to profile, opened by the caller (who also closes
// it after the run).
type Target struct {
	Device devices.Device
	// Config is the device's configuration, stored with its measurements;
	// its timeout bounds each measurement unless Options.Timeout is set.
	// An empty Config.Name takes the device's name.
	Config devices.Config
	// Fingerprint is the devices.Fingerprint the run records with the
	// device's measurements and counts its done archs by; "" computes it
	// from Config and Device.Info() at Prepare. A caller that keeps a
	// device open across runs passes the one computed when it opened the
	// device, since an agent's Info grows after its first hello.
	Fingerprint string
}

// Options tune a run. Zero values take the documented defaults.
type Options struct {
	// Timeout bounds one measurement (default: each device's configured
	// timeout, itself 2m by default).
	Timeout time.Duration
	// Retries of an error wrapping devices.ErrTransient, after waiting
	// Backoff, 2×Backoff, 4×Backoff… up to MaxBackoff (defaults 1s, 30s).
	// Negative means none.
	Retries    int
	Backoff    time.Duration
	MaxBackoff time.Duration
	// MaxFailures consecutive failed archs mark a device failed (default 3).
	MaxFailures int
	// ReferenceEvery re-measures the reference arch at the start and then
	// every K plan measurements per device (0 disables).
	ReferenceEvery int
	// Reference is the reference arch (default ReferenceArch).
	Reference *model.Arch
	// Remeasure measures every plan arch again, even those the store holds
	// (the new run keeps both).
	Remeasure bool
	// EventBuffer bounds each subscriber's queue of Measured and
	// DeviceError events (default 256); Progress is never dropped.
	EventBuffer int
	// Now is the clock Estimate times its two archs with (default
	// time.Now); tests give a fake one.
	Now func() time.Time
}

// OptionsFromPlan takes the retries, failures and reference period of the
// config's [plan] table.
func OptionsFromPlan(p config.Plan) Options {
	return Options{Retries: p.Retries, MaxFailures: p.MaxFailures, ReferenceEvery: p.ReferenceEvery}
}

func (o Options) withDefaults() Options {
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = time.Second
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.Backoff {
		o.MaxBackoff = o.Backoff
	}
	if o.MaxFailures <= 0 {
		o.MaxFailures = 3
	}
	if o.ReferenceEvery < 0 {
		o.ReferenceEvery = 0
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// backoff is the wait before retry number attempt (1-based).
func (o Options) backoff(attempt int) time.Duration {
	d := o.Backoff
	for i := 1; i < attempt && d < o.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, o.MaxBackoff)
}

// Spec is what a run measures, where, and where it stores.
type Spec struct {
	Space *model.Space
	// Plan is usually Space.Plan(PlanSpec); an arch listed twice is
	// measured once per device.
	Plan []model.PlanItem
	// PlanSpec, ConfigFile and Version are recorded with the run.
	PlanSpec   model.PlanSpec
	ConfigFile string
	Version    string
	Targets    []Target
	Store      *store.Store
	Options    Options
}

// referenceSeed draws the default reference arch, independent of plans.
const referenceSeed = 0x7265666572656e63 // "referenc"

// ReferenceArch is the default reference architecture of a space at
// resolution r: a fixed uniform sample, the same for every plan.
func ReferenceArch(sp *model.Space, r int) model.Arch {
	return sp.Sample(model.NewRand(referenceSeed), r)
}

// item is one distinct plan arch.
type item struct {
	arch  model.Arch
	canon string
	fix   string
	macs  int64
	sa    store.Arch
}

// Run is a profiling run. Prepare makes one; Subscribe, Estimate, then
// Start; Pause, Resume and Cancel steer one device; Wait gives the summary.
type Run struct {
	id     int64
	spec   Spec
	opts   Options
	space  *model.Space
	store  *store.Store
	events *Broker[Event]
	ref    item

	workers  []*worker
	byName   map[string]*worker
	warnings []string

	mu      sync.Mutex
	started bool
	begun   time.Time
	cancel  context.CancelFunc
	done    chan struct{}
	summary Summary
}

// Start prepares and starts a run.
func Start(ctx context.Context, spec Spec) (*Run, error) {
	r, err := Prepare(ctx, spec)
	if err != nil {
		return nil, err
	}
	if err := r.Start(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Prepare claims the store (store.Claim: one profiler per store, until
// the store is closed), checks the spec, records the run, its plan and its
// devices in the store, and finds what each device still has to measure:
// the plan archs it has no record of under its current fingerprint
// (devices.Fingerprint). Records taken under another fingerprint are kept
// but measured again, and said in Warnings and Stale. Nothing is measured
// until Estimate or Start.
func Prepare(ctx context.Context, spec Spec) (*Run, error) {
	if spec.Space == nil {
		return nil, errors.New("engine: no search space")
	}
	if spec.Store == nil {
		return nil, errors.New("engine: no store")
	}
	if len(spec.Targets) == 0 {
		return nil, errors.New("engine: no device to profile (configure [[devices]] or pass --devices)")
	}
	// One profiler per store: a second one (another process, the explorer
	// or the CLI) is refused with the first one's pid, command, host and
	// start until the store is closed.
	if err := spec.Store.Claim(); err != nil {
		return nil, err
	}
	sp := spec.Space
	opts := spec.Options.withDefaults()
	r := &Run{spec: spec, opts: opts, space: sp, store: spec.Store, byName: map[string]*worker{}, done: make(chan struct{})}
	r.events = NewBroker(opts.EventBuffer, eventKey)

	// Distinct plan archs, expanded once for their MACs and params.
	items, stored, err := planItems(sp, spec.Plan, "plan")
	if err != nil {
		return nil, err
	}

	// The reference arch.
	res := spec.PlanSpec.Resolution
	if res == 0 && len(items) > 0 {
		res = items[0].arch.Resolution
	}
	if res == 0 {
		res = sp.Resolution
	}
	refArch := ReferenceArch(sp, res)
	if opts.Reference != nil {
		refArch = *opts.Reference
	}
	refNet, err := sp.Network(refArch)
	if err != nil {
		return nil, fmt.Errorf("engine: reference arch: %w", err)
	}
	refSA := store.ArchOfNetwork(sp, refArch, refNet)
	r.ref = item{arch: refArch, canon: refSA.Canonical, macs: refSA.MACs, sa: refSA}

	// Devices.
	canons := make([]string, len(items))
	for i, it := range items {
		canons[i] = it.canon
	}
	for i, t := range spec.Targets {
		if t.Device == nil {
			return nil, fmt.Errorf("engine: device %d is not open", i+1)
		}
		name := t.Device.Name()
		if t.Config.Name == "" {
			t.Config.Name = name
		}
		if t.Config.Name != name {
			return nil, fmt.Errorf("engine: device %q is configured as %q", name, t.Config.Name)
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("engine: device %q listed twice", name)
		}
		timeout := opts.Timeout
		if timeout <= 0 {
			if timeout, err = t.Config.MeasureTimeout(); err != nil {
				return nil, err
			}
		}
		info := t.Device.Info()
		if info.Provenance == "" {
			return nil, fmt.Errorf("engine: device %s reported no provenance: its backend must say whether its numbers are measured, replayed, table or simulated", name)
		}
		if t.Config.Kind == "" {
			t.Config.Kind = info.Kind
		}
		// A device that can only measure what it holds measures its own plan.
		items, canons := items, canons
		if pl, ok := t.Device.(devices.Planner); ok {
			if items, stored, err = r.devicePlan(name, pl, res, stored); err != nil {
				return nil, err
			}
			canons = make([]string, len(items))
			for i, it := range items {
				canons[i] = it.canon
			}
		}
		fp := t.Fingerprint
		if fp == "" {
			fp = devices.Fingerprint(t.Config, info)
		}
		w := &worker{r: r, name: name, dev: t.Device, cfg: t.Config, info: info, fp: fp, timeout: timeout,
			total: len(items), done: map[string]bool{}, wake: make(chan struct{}, 1)}
		if !opts.Remeasure {
			done, err := r.store.Done(ctx, name, fp, canons)
			if err != nil {
				return nil, err
			}
			w.done = done
			w.resumed = len(done)
		}
		for _, it := range items {
			if !w.done[it.canon] {
				w.pending = append(w.pending, it)
			}
		}
		if w.stale, err = r.store.Stale(ctx, name, fp, sp.Name); err != nil {
			return nil, err
		}
		if len(w.stale) > 0 {
			warning, err := w.staleWarning(ctx)
			if err != nil {
				return nil, err
			}
			r.warnings = append(r.warnings, warning)
		}
		if opts.ReferenceEvery > 0 {
			// The drift baseline: the first reference taken under this
			// fingerprint (another device's speed says nothing of this one).
			for rec, err := range r.store.Records(ctx, store.Query{Device: name, Kind: store.KindReference, Fingerprint: fp}) {
				if err != nil {
					return nil, err
				}
				if rec.Arch == r.ref.canon {
					w.refBase = rec.Median
					break
				}
			}
		}
		w.prog = Progress{Device: name, Total: w.total, Done: w.resumed, Resumed: w.resumed, State: StateConnecting}
		r.workers = append(r.workers, w)
		r.byName[name] = w
	}

	// Record the run; the devices' settings after it so that a failure
	// above leaves no trace.
	run, err := r.store.StartRun(ctx, store.RunInfo{Started: time.Now(), ConfigFile: spec.ConfigFile, Space: sp.Name,
		PlanSpec: spec.PlanSpec, Version: spec.Version}, stored)
	if err != nil {
		return nil, err
	}
	r.id = run
	for _, w := range r.workers {
		changed, err := r.store.PutDevice(ctx, w.cfg, w.info)
		if err != nil {
			return nil, err
		}
		if len(changed) > 0 {
			r.warnings = append(r.warnings, fmt.Sprintf("device %s: settings differ from the stored ones (%s)", w.name, strings.Join(changed, "; ")))
		}
	}
	for _, w := range r.workers {
		r.events.Publish(w.prog)
	}
	return r, nil
}

// planItems expands the distinct archs of plan once for their MACs and
// params; stored lists every entry (fix included) for the store. what names
// the plan in errors.
func planItems(sp *model.Space, plan []model.PlanItem, what string) (items []item, stored []store.PlanItem, err error) {
	index := map[string]int{}
	for i, p := range plan {
		if p.Arch.Space != sp.Name {
			return nil, nil, fmt.Errorf("engine: %s item %d is an arch of space %q, the run's space is %q", what, i+1, p.Arch.Space, sp.Name)
		}
		canon := p.Arch.String()
		fix := ""
		if p.Fix != nil {
			fix = p.Fix.String()
		}
		if j, ok := index[canon]; ok {
			stored = append(stored, store.PlanItem{Arch: items[j].sa, Fix: fix})
			continue
		}
		net, err := sp.Network(p.Arch)
		if err != nil {
			return nil, nil, fmt.Errorf("engine: %s item %d (%s): %w", what, i+1, canon, err)
		}
		sa := store.ArchOfNetwork(sp, p.Arch, net)
		index[canon] = len(items)
		items = append(items, item{arch: p.Arch, canon: canon, fix: fix, macs: sa.MACs, sa: sa})
		stored = append(stored, store.PlanItem{Arch: sa, Fix: fix})
	}
	return items, stored, nil
}

// devicePlan is the plan of a device that offers its own (a recording): its
// archs at the run's resolution res or, when it holds none there, all of
// them (with a warning), since it can measure nothing else. Its entries
// join the run's stored plan, so that their fixes label them.
func (r *Run) devicePlan(name string, pl devices.Planner, res int, stored []store.PlanItem) ([]item, []store.PlanItem, error) {
	all, err := pl.Plan(r.space)
	if err != nil {
		return nil, nil, fmt.Errorf("engine: device %s: %w", name, err)
	}
	var plan []model.PlanItem
	resolutions := map[int]bool{}
	for _, p := range all {
		resolutions[p.Arch.Resolution] = true
		if p.Arch.Resolution == res {
			plan = append(plan, p)
		}
	}
	if len(plan) == 0 {
		plan = all
		rs := slices.Sorted(maps.Keys(resolutions))
		r.warnings = append(r.warnings, fmt.Sprintf("device %s holds no arch of %s at %d px, only at %v: it measures all %d of its archs",
			name, r.space.Name, res, rs, len(all)))
	}
	items, own, err := planItems(r.space, plan, "device "+name+" plan")
	if err != nil {
		return nil, nil, err
	}
	seen := map[[2]string]bool{}
	for _, p := range stored {
		seen[[2]string{p.Arch.Canonical, p.Fix}] = true
	}
	for _, p := range own {
		if k := [2]string{p.Arch.Canonical, p.Fix}; !seen[k] {
			seen[k] = true
			stored = append(stored, p)
		}
	}
	return items, stored, nil
}

// referenceEvery is the reference period of w's device: none for a device
// that measures its own plan (a recording holds no reference arch, and
// replayed numbers do not drift).
func (r *Run) referenceEvery(w *worker) int {
	if _, ok := w.dev.(devices.Planner); ok {
		return 0
	}
	return r.opts.ReferenceEvery
}

// ID is the run's id in the store.
func (r *Run) ID() int64 { return r.id }

// Warnings lists what Prepare noticed (e.g. changed device settings,
// records taken under another fingerprint).
func (r *Run) Warnings() []string { return slices.Clone(r.warnings) }

// Stale is what Prepare found of device's plan measurements in the run's
// space taken under another fingerprint than the device's current one
// (store.Store.Stale): kept, but no longer counted as done. nil for a
// device that has none or is not in the run.
func (r *Run) Stale(device string) []store.StaleGroup {
	w, ok := r.byName[device]
	if !ok {
		return nil
	}
	return slices.Clone(w.stale)
}

// Devices lists the run's device names in order.
func (r *Run) Devices() []string {
	out := make([]string, len(r.workers))
	for i, w := range r.workers {
		out[i] = w.name
	}
	return out
}

// Subscribe returns the run's events from now on (and the latest Progress
// of every device, and RunDone if the run is over). The channel closes
// after RunDone or when ctx ends; cancel ctx to unsubscribe.
func (r *Run) Subscribe(ctx context.Context) <-chan Event { return r.events.Subscribe(ctx) }

// Start launches one worker per device. The run ends when every worker
// has ended, or when ctx ends (the arch in flight on each device is then
// not stored; a re-run resumes it).
func (r *Run) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("engine: run already started")
	}
	r.started = true
	r.begun = time.Now()
	ctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, w := range r.workers {
		wctx, wcancel := context.WithCancel(ctx)
		w.mu.Lock()
		w.cancel = wcancel
		if w.cancelled {
			wcancel()
		}
		w.mu.Unlock()
		wg.Go(func() { w.run(wctx) })
	}
	go func() {
		wg.Wait()
		r.finish(ctx)
		cancel()
	}()
	return nil
}

func (r *Run) finish(ctx context.Context) {
	s := r.Summary()
	_ = r.store.FinishRun(context.WithoutCancel(ctx), r.id, time.Now())
	r.mu.Lock()
	r.summary = s
	r.mu.Unlock()
	r.events.Publish(RunDone{Summary: s})
	r.events.Close()
	close(r.done)
}

// Stop cancels every device; Wait then returns.
func (r *Run) Stop() {
	for _, w := range r.workers {
		w.control(func() { w.cancelled = true })
	}
}

// Done is closed when the run has ended.
func (r *Run) Done() <-chan struct{} { return r.done }

// Wait blocks until the run ends (Start must have been called) and
// returns its summary.
func (r *Run) Wait() Summary {
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.summary
}

func (r *Run) worker(device string) (*worker, error) {
	w, ok := r.byName[device]
	if !ok {
		return nil, fmt.Errorf("engine: no device %q in this run (devices: %s)", device, strings.Join(r.Devices(), ", "))
	}
	return w, nil
}

// Pause holds a device after its measurement in flight; the others go on.
func (r *Run) Pause(device string) error { return r.PauseBy(device, "") }

// Resume lets a paused device go on.
func (r *Run) Resume(device string) error { return r.ResumeBy(device, "") }

// Cancel stops one device now (its arch in flight is not stored); the
// others go on.
func (r *Run) Cancel(device string) error { return r.CancelBy(device, "") }

// PauseBy is Pause on behalf of who (a user's name or key fingerprint):
// every subscriber's Progress says who paused the device, and when.
func (r *Run) PauseBy(device, who string) error {
	return r.intent(device, "paused", who, func(w *worker) { w.paused = true })
}

// ResumeBy is Resume on behalf of who.
func (r *Run) ResumeBy(device, who string) error {
	return r.intent(device, "resumed", who, func(w *worker) { w.paused = false })
}

// CancelBy is Cancel on behalf of who.
func (r *Run) CancelBy(device, who string) error {
	return r.intent(device, "cancelled", who, func(w *worker) { w.cancelled = true })
}

func (r *Run) intent(device, verb, who string, f func(w *worker)) error {
	w, err := r.worker(device)
	if err != nil {
		return err
	}
	if who == "" {
		who = "this process"
	}
	text := fmt.Sprintf("%s by %s at %s", verb, who, time.Now().Format("15:04:05"))
	var p Progress
	w.control(func() {
		f(w)
		w.intent = text
		w.prog.Intent = text
		p = w.prog
	})
	r.events.Publish(p) // every subscriber sees who did it now, not at the next state change
	return nil
}

// SetInterval attaches the predicted friendliness table's interval widths
// to the device's Progress (a profile-until-confident plan sets them after
// each fit); every subscriber sees them now.
func (r *Run) SetInterval(device string, iw IntervalWidth) error {
	w, err := r.worker(device)
	if err != nil {
		return err
	}
	var p Progress
	w.mu.Lock()
	w.interval = &iw
	w.prog.Interval = &iw
	p = w.prog
	w.mu.Unlock()
	r.events.Publish(p)
	return nil
}

// ProgressOf is a snapshot of one device's latest Progress.
func (r *Run) ProgressOf(device string) (Progress, bool) {
	w, ok := r.byName[device]
	if !ok {
		return Progress{}, false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.prog, true
}

// Progress is a snapshot of every device's latest Progress.
func (r *Run) Progress() []Progress {
	out := make([]Progress, len(r.workers))
	for i, w := range r.workers {
		w.mu.Lock()
		out[i] = w.prog
		w.mu.Unlock()
	}
	return out
}

// Summary accounts for the run so far (final once Done is closed).
func (r *Run) Summary() Summary {
	r.mu.Lock()
	begun := r.begun
	r.mu.Unlock()
	s := Summary{Run: r.id, Dropped: r.events.Dropped()}
	if !begun.IsZero() {
		s.Wall = time.Since(begun)
	}
	for _, w := range r.workers {
		s.Devices = append(s.Devices, w.summary())
	}
	return s
}
