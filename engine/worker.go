package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"blockprof/devices"
	"blockprof/engine/store"
)

// worker measures a run's plan on one device. Its counters belong to the
// worker's goroutine (or to Estimate before Start); mu guards the control
// flags and the published Progress.
type worker struct {
	r       *Run
	name    string
	dev     devices.Device
	cfg     devices.Config
	info    devices.Info
	timeout time.Duration

	// fp is the device's devices.Fingerprint, recorded with every
	// measurement; stale are its records under other fingerprints.
	fp    string
	stale []store.StaleGroup

	pending []item
	done    map[string]bool // canonical archs measured (earlier runs included)
	total   int
	resumed int

	// Counters of this run.
	measured, errors, refs int
	consecutive            int
	failed                 bool
	medians                []float64 // appended under mu
	timed, inDevice        time.Duration
	prepare, probe         time.Duration // the devices' PrepareMs and ProbeMs
	started, finished      time.Time     // of the device's work (Estimate included)
	estPerArch             time.Duration
	firstMeasure           time.Time // of this worker's run (Rate)
	baseMeasured           int       // measured by Estimate before run
	sinceRef               int
	refBase                float64 // first reference median on this device (0: none yet)
	drift                  float64
	driftKnown             bool
	interval               *IntervalWidth // under mu
	state                  State
	lastErr                string
	lastMs, lastSpread     float64

	// snap copies the counters for readers on other goroutines (under mu).
	snap struct {
		measured, refs                  int
		timed, inDevice, prepare, probe time.Duration
	}

	mu        sync.Mutex
	paused    bool
	cancelled bool
	// intent is the last pause, resume or cancel with who sent it.
	intent string
	cancel context.CancelFunc
	wake   chan struct{}
	prog   Progress
}

// control changes the flags under the lock, aborts the measurement in
// flight on cancel, and wakes the worker.
func (w *worker) control(f func()) {
	w.mu.Lock()
	f()
	if w.cancelled && w.cancel != nil {
		w.cancel()
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *worker) publish() {
	now := time.Now()
	p := Progress{Device: w.name, Done: len(w.done), Total: w.total, Resumed: w.resumed, Errors: w.errors,
		Failed: w.failed, State: w.state, LastErr: w.lastErr, Drift: w.drift, DriftKnown: w.driftKnown}
	if w.state == "" {
		p.State = StateConnecting
	}
	if !w.started.IsZero() {
		end := now
		if !w.finished.IsZero() {
			end = w.finished
		}
		p.Elapsed = end.Sub(w.started)
	}
	if n := w.measured - w.baseMeasured; n > 0 && !w.firstMeasure.IsZero() {
		end := now
		if !w.finished.IsZero() {
			end = w.finished
		}
		if secs := end.Sub(w.firstMeasure).Seconds(); secs > 0 {
			p.Rate = float64(n) / secs
		}
		if left := w.left(); left > 0 && p.Rate > 0 && !p.State.Final() {
			p.ETA = time.Duration(float64(left) / p.Rate * float64(time.Second))
		}
	}
	if left := w.left(); p.ETA == 0 && left > 0 && w.estPerArch > 0 && !p.State.Final() {
		p.ETA = time.Duration(left) * w.estPerArch // Estimate's figure until a rate is known
	}
	p.LastMs = w.lastMs
	p.LastSpread = w.lastSpread
	w.mu.Lock()
	p.Intent = w.intent
	p.Interval = w.interval
	w.prog = p
	w.snap.measured, w.snap.refs, w.snap.timed, w.snap.inDevice = w.measured, w.refs, w.timed, w.inDevice
	w.snap.prepare, w.snap.probe = w.prepare, w.probe
	w.mu.Unlock()
	w.r.events.Publish(p)
}

func (w *worker) setState(s State) {
	if w.state != s {
		w.state = s
		w.publish()
	}
}

func (w *worker) run(ctx context.Context) {
	if w.started.IsZero() { // else Estimate started the device's work
		w.started = time.Now()
	}
	w.firstMeasure, w.baseMeasured = time.Time{}, w.measured
	w.setState(StateConnecting)
	k := w.r.referenceEvery(w)
	if k > 0 && len(w.pending) > 0 && w.runnable(ctx) {
		w.measure(ctx, &w.r.ref, store.KindReference)
		w.sinceRef = 0
	}
	for i := range w.pending {
		if w.failed || !w.runnable(ctx) {
			break
		}
		it := &w.pending[i]
		if w.done[it.canon] {
			continue // measured by Estimate
		}
		w.prepareNext(ctx, i+1)
		w.measure(ctx, it, store.KindPlan)
		if k > 0 && w.sinceRef >= k && !w.failed && w.left() > 0 && w.runnable(ctx) {
			w.measure(ctx, &w.r.ref, store.KindReference)
			w.sinceRef = 0
		}
	}
	w.finished = time.Now()
	w.mu.Lock()
	cancelled := w.cancelled
	w.mu.Unlock()
	switch {
	case w.failed:
		w.setState(StateFailed)
	case cancelled || ctx.Err() != nil:
		w.setState(StateCancelled)
	default:
		w.setState(StateDone)
	}
	w.publish()
}

// prepareNext hands the first pending arch from index i that is not
// measured yet to a device that prepares ahead (devices.Preparer).
func (w *worker) prepareNext(ctx context.Context, i int) {
	p, ok := w.dev.(devices.Preparer)
	if !ok {
		return
	}
	for ; i < len(w.pending); i++ {
		if it := &w.pending[i]; !w.done[it.canon] {
			if net, err := w.r.space.Network(it.arch); err == nil {
				p.Prepare(ctx, net)
			}
			return
		}
	}
}

// left is the number of pending archs not yet tried.
func (w *worker) left() int { return w.total - len(w.done) - w.errors }

// runnable waits while the device is paused; false means stop.
func (w *worker) runnable(ctx context.Context) bool {
	for {
		w.mu.Lock()
		paused, cancelled := w.paused, w.cancelled
		w.mu.Unlock()
		if cancelled || ctx.Err() != nil {
			return false
		}
		if !paused {
			if w.state != StateMeasuring {
				w.setState(StateMeasuring)
			}
			return true
		}
		w.setState(StatePaused)
		select {
		case <-w.wake:
		case <-ctx.Done():
			return false
		}
	}
}

// check rejects a measurement the store would refuse.
func check(m devices.Measurement) error {
	if len(m.SamplesMs) == 0 {
		return errors.New("the device returned no samples")
	}
	for _, x := range m.SamplesMs {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
			return fmt.Errorf("the device returned a bad sample %v", x)
		}
	}
	return nil
}

// measure takes one measurement of it with retries and stores it; it
// reports success. A cancelled measurement is neither stored nor counted.
func (w *worker) measure(ctx context.Context, it *item, kind store.Kind) bool {
	// Network expansion happens here, outside the device's timed window
	// (devices time internally).
	net, err := w.r.space.Network(it.arch)
	if err != nil {
		w.giveUp(ctx, it, kind, err, 1, false)
		return false
	}
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		mctx, cancel := context.WithTimeout(ctx, w.timeout)
		t0 := time.Now()
		if w.firstMeasure.IsZero() {
			w.firstMeasure = t0
		}
		m, err := w.dev.Measure(mctx, net)
		t1 := time.Now()
		timedOut := errors.Is(mctx.Err(), context.DeadlineExceeded)
		cancel()
		if ctx.Err() != nil {
			return false // cancelled: the arch in flight is lost, a re-run takes it
		}
		w.inDevice += t1.Sub(t0)
		if err == nil {
			err = check(m)
		}
		if err != nil && timedOut {
			err = fmt.Errorf("no result within the %v timeout (raise the device's timeout if its archs are this slow): %w", w.timeout, err)
		}
		if err == nil {
			return w.record(ctx, it, kind, m, t0, t1)
		}
		transient := errors.Is(err, devices.ErrTransient) && !timedOut
		final := !transient || attempt > w.r.opts.Retries
		w.lastErr = err.Error()
		w.r.events.Publish(DeviceError{Device: w.name, Arch: it.canon, Err: err, Attempt: attempt, Transient: transient, Final: final})
		if final {
			if errors.Is(err, devices.ErrStalledHost) {
				// Every other local device waited for this one for a whole
				// timeout; the next arch would most likely do it again.
				w.failed = true
				err = fmt.Errorf("stopped after this first timeout, which every other local device waited for (fix what hangs or raise the timeout; a re-run resumes): %w", err)
			}
			w.giveUp(ctx, it, kind, err, attempt, true)
			return false
		}
		w.publish()
		if !sleep(ctx, w.r.opts.backoff(attempt)) {
			return false
		}
	}
}

// record stores a successful measurement and accounts for it.
func (w *worker) record(ctx context.Context, it *item, kind store.Kind, m devices.Measurement, t0, t1 time.Time) bool {
	// Prepare refused a device without a provenance.
	prov := w.info.Provenance
	_, err := w.r.store.Put(context.WithoutCancel(ctx), store.Measurement{Device: w.name, Arch: it.sa, Run: w.r.id, Kind: kind,
		SamplesMs: m.SamplesMs, ProbeMs: m.ProbeMs, ProbeEvery: m.ProbeEvery, Warmup: m.Warmup, Mode: m.Mode, Provenance: prov,
		Fingerprint: w.fp, Summary: m.Summary, Started: t0, Finished: t1})
	if err != nil && !errors.Is(err, store.ErrAlreadyMeasured) {
		// The store cannot keep what this device measures: stop it.
		w.lastErr = err.Error()
		w.failed = true
		w.r.events.Publish(DeviceError{Device: w.name, Arch: it.canon, Err: err, Attempt: 1, Final: true})
		w.publish()
		return false
	}
	st := store.Summarize(m.SamplesMs)
	var timed float64
	for _, x := range m.SamplesMs {
		timed += x
	}
	timedD := time.Duration(timed * float64(time.Millisecond))
	w.timed += timedD
	var probe float64
	for _, x := range m.ProbeMs {
		probe += x
	}
	w.probe += time.Duration(probe * float64(time.Millisecond))
	w.prepare += time.Duration(m.PrepareMs * float64(time.Millisecond))
	w.consecutive = 0
	switch kind {
	case store.KindPlan:
		w.lastMs, w.lastSpread = st.Median, st.Spread
		w.measured++
		w.sinceRef++
		w.done[it.canon] = true
		w.mu.Lock()
		w.medians = append(w.medians, st.Median)
		w.mu.Unlock()
	case store.KindReference:
		w.refs++
		if w.refBase == 0 {
			w.refBase = st.Median
		}
		if w.refBase > 0 {
			w.drift, w.driftKnown = st.Median/w.refBase-1, true
		}
	}
	w.r.events.Publish(Measured{Device: w.name, Arch: it.canon, Fix: it.fix, Kind: kind, Stats: st, Provenance: prov,
		Wall: t1.Sub(t0), Timed: timedD})
	w.publish()
	return true
}

// giveUp stores a failed attempt and counts it toward marking the device
// failed.
func (w *worker) giveUp(ctx context.Context, it *item, kind store.Kind, err error, attempt int, published bool) {
	w.lastErr = err.Error()
	if !published {
		w.r.events.Publish(DeviceError{Device: w.name, Arch: it.canon, Err: err, Attempt: attempt, Final: true})
	}
	now := time.Now()
	if _, perr := w.r.store.Put(context.WithoutCancel(ctx), store.Measurement{Device: w.name, Arch: it.sa, Run: w.r.id, Kind: kind,
		Provenance: w.info.Provenance, Fingerprint: w.fp, Started: now, Finished: now, Err: err.Error()}); perr != nil {
		w.lastErr = fmt.Sprintf("%v (and the store: %v)", err, perr)
	}
	if kind == store.KindPlan {
		w.errors++
	}
	w.consecutive++
	if w.consecutive >= w.r.opts.MaxFailures {
		w.failed = true
	}
	w.publish()
}

// sleep waits d or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *worker) summary() DeviceSummary {
	w.mu.Lock()
	p := w.prog
	w.mu.Unlock()
	// The counters are read after the worker ended or from its own
	// Progress while it runs.
	s := DeviceSummary{Device: w.name, State: p.State, Failed: p.Failed, Total: p.Total, Resumed: p.Resumed,
		Errors: p.Errors, Drift: p.Drift, DriftKnown: p.DriftKnown, LastErr: p.LastErr, Wall: p.Elapsed}
	w.mu.Lock()
	s.Measured, s.References = w.snap.measured, w.snap.refs
	s.Timed, s.InDevice = w.snap.timed, w.snap.inDevice
	s.Prepare, s.Probe = w.snap.prepare, w.snap.probe
	s.MedianMs = store.Median(w.medians)
	w.mu.Unlock()
	if s.Timed > 0 {
		s.Overhead = s.Wall.Seconds()/s.Timed.Seconds() - 1
	}
	return s
}
