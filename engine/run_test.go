package engine

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/engine/store"
	"blockprof/model"
)

func TestRunMeasuresThePlanOnEveryDevice(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 6, 0)
	// An A_{u,l,b} item and a duplicate arch: measured once per device.
	fix := model.Fix{Unit: 2, Layer: 3, Block: model.Block{K: 7, E: 6}}
	a, err := sp.SampleFixed(model.NewRand(9), 160, fix, model.FixPaper)
	if err != nil {
		t.Fatal(err)
	}
	plan = append(plan, model.PlanItem{Arch: a, Fix: &fix}, plan[0])
	st := openStore(t, "")
	a1, b1 := &fake{name: "a"}, &fake{name: "b", delay: time.Millisecond}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, ConfigFile: "x.toml", Version: "test",
		Targets: targets(a1, b1), Store: st, Options: fastOptions()})
	if err != nil {
		t.Fatal(err)
	}
	events := collect(r.Subscribe(ctx))
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err == nil {
		t.Error("second Start accepted")
	}
	sum := r.Wait()
	evs := events()

	want := distinct(plan)
	counts := planCounts(t, st)
	for _, d := range []*fake{a1, b1} {
		calls := d.Calls()
		if len(calls) != len(want) || !sameSet(calls, want) {
			t.Errorf("%s measured %d archs, want the %d distinct plan archs", d.name, len(calls), len(want))
		}
		for _, c := range want {
			if counts[d.name][c] != 1 {
				t.Errorf("%s: %s stored %d times", d.name, c, counts[d.name][c])
			}
		}
	}
	if _, ok := evs[len(evs)-1].(RunDone); !ok {
		t.Errorf("last event is %T, want RunDone", evs[len(evs)-1])
	}
	prog := lastProgress(evs)
	var measured int
	fixes := map[string]string{}
	for _, e := range evs {
		if m, ok := e.(Measured); ok {
			measured++
			fixes[m.Arch] = m.Fix
			if m.Stats.N != 3 || m.Stats.Median <= 0 || m.Provenance != devices.Simulated || m.Kind != store.KindPlan {
				t.Errorf("measured event %+v", m)
			}
		}
	}
	if measured != 2*len(want) {
		t.Errorf("%d Measured events, want %d", measured, 2*len(want))
	}
	if fixes[a.String()] != "u2.l3=e6k7" {
		t.Errorf("fixed arch's event has fix %q", fixes[a.String()])
	}
	if len(sum.Devices) != 2 || sum.Run != r.ID() {
		t.Fatalf("summary %+v", sum)
	}
	for _, d := range sum.Devices {
		p := prog[d.Device]
		if d.State != StateDone || p.State != StateDone || p.Done != len(want) || p.Total != len(want) || d.Measured != len(want) ||
			d.Errors != 0 || d.Failed || d.MedianMs <= 0 || d.Timed <= 0 || d.Wall <= 0 || p.Rate <= 0 || p.LastMs <= 0 || p.ETA != 0 {
			t.Errorf("device %s: summary %+v, progress %+v", d.Device, d, p)
		}
	}
	runs, err := st.Runs(ctx)
	if err != nil || len(runs) != 1 || runs[0].Finished.IsZero() || runs[0].Items != len(plan) || runs[0].ConfigFile != "x.toml" {
		t.Errorf("runs = %+v, %v", runs, err)
	}
	recs, _ := st.Query(ctx, store.Query{Device: "a", Space: sp.Name})
	roles := 0
	for _, rec := range recs {
		if rec.Fix == "u2.l3=e6k7" {
			roles++
		}
	}
	if roles != 1 {
		t.Errorf("%d records carry the fix, want 1", roles)
	}
	// A late subscriber gets the final state and RunDone, then the end.
	late := collect(r.Subscribe(ctx))()
	if len(late) != 3 {
		t.Errorf("late subscriber got %d events, want 2 Progress + RunDone:\n%s", len(late), describe(late))
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(slices.Compact(x), slices.Compact(y))
}

func TestRerunSkipsWhatIsMeasured(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 10, 0)
	st := openStore(t, "")
	// First run: the device is cancelled after 4 measurements.
	first := &fake{name: "a"}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(first), Store: st, Options: fastOptions()})
	if err != nil {
		t.Fatal(err)
	}
	first.fail = func(n int, _ string) error {
		if n == 5 {
			r.Cancel("a")
			return context.Canceled
		}
		return nil
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if s := r.Wait(); s.Devices[0].State != StateCancelled || s.Devices[0].Measured != 4 {
		t.Fatalf("first run: %+v", s.Devices[0])
	}
	// Second run of the same plan: only the rest.
	second := &fake{name: "a"}
	r2, err := Start(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(second), Store: st, Options: fastOptions()})
	if err != nil {
		t.Fatal(err)
	}
	s := r2.Wait()
	if got := second.Calls(); len(got) != 6 || slices.ContainsFunc(got, func(c string) bool { return slices.Contains(first.Calls()[:4], c) }) {
		t.Errorf("second run measured %d archs (%v), want the 6 others", len(got), got)
	}
	if d := s.Devices[0]; d.Resumed != 4 || d.Measured != 6 || d.State != StateDone {
		t.Errorf("second run: %+v", d)
	}
	for c, n := range planCounts(t, st)["a"] {
		if n != 1 {
			t.Errorf("%s stored %d times", c, n)
		}
	}
	// Remeasure takes everything again, in a new run.
	third := &fake{name: "a"}
	opts := fastOptions()
	opts.Remeasure = true
	r3, err := Start(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(third), Store: st, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	r3.Wait()
	if len(third.Calls()) != 10 {
		t.Errorf("remeasure: %d calls, want 10", len(third.Calls()))
	}
	if latest, _ := st.Query(ctx, store.Query{Device: "a", Kind: store.KindPlan, Latest: true}); len(latest) != 10 || latest[0].Run != r3.ID() {
		t.Errorf("latest: %d records", len(latest))
	}
}

// TestFailingDeviceIsMarkedFailed: a device that errors every time is
// marked failed after MaxFailures errors while the other completes.
func TestFailingDeviceIsMarkedFailed(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 8, 0)
	st := openStore(t, "")
	good := &fake{name: "good", delay: time.Millisecond}
	bad := &fake{name: "bad", fail: func(int, string) error { return errors.New("segfault in the runtime") }}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(bad, good), Store: st, Options: fastOptions()})
	if err != nil {
		t.Fatal(err)
	}
	events := collect(r.Subscribe(ctx))
	r.Start(ctx)
	s := r.Wait()
	evs := events()
	if n := len(bad.Calls()); n != 3 {
		t.Errorf("bad device tried %d times, want 3 (non-transient: no retry; 3 failures)", n)
	}
	if d := s.Devices[0]; d.State != StateFailed || !d.Failed || d.Errors != 3 || !strings.Contains(d.LastErr, "segfault") {
		t.Errorf("bad: %+v", d)
	}
	if d := s.Devices[1]; d.State != StateDone || d.Measured != 8 {
		t.Errorf("good: %+v", d)
	}
	des := errorsOf(evs, "bad")
	if len(des) != 3 || !des[0].Final || des[0].Transient || des[0].Attempt != 1 {
		t.Errorf("device errors: %+v", des)
	}
	if p := lastProgress(evs)["bad"]; !p.Failed || p.State != StateFailed {
		t.Errorf("bad progress %+v", p)
	}
	failedRows, _ := st.Query(ctx, store.Query{Device: "bad", Errors: true})
	if len(failedRows) != 3 || !strings.Contains(failedRows[0].Err, "segfault") {
		t.Errorf("stored failures: %+v", failedRows)
	}
}

func TestTransientErrorsAreRetried(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 3, 0)
	for _, tc := range []struct {
		name     string
		retries  int
		wantOK   int
		wantErrs int
	}{
		{"enough retries", 2, 3, 6},
		{"too few retries", 1, 0, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := openStore(t, "")
			tries := map[string]int{}
			d := &fake{name: "flaky", fail: func(_ int, arch string) error {
				tries[arch]++
				if tries[arch] <= 2 {
					return fmt.Errorf("adb: device offline: %w", devices.ErrTransient)
				}
				return nil
			}}
			opts := fastOptions()
			opts.Retries = tc.retries
			opts.MaxFailures = 10
			r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(d), Store: st, Options: opts})
			if err != nil {
				t.Fatal(err)
			}
			events := collect(r.Subscribe(ctx))
			r.Start(ctx)
			s := r.Wait()
			des := errorsOf(events(), "flaky")
			if s.Devices[0].Measured != tc.wantOK || len(des) != tc.wantErrs {
				t.Errorf("measured %d, %d device errors; want %d, %d", s.Devices[0].Measured, len(des), tc.wantOK, tc.wantErrs)
			}
			for _, de := range des {
				if !de.Transient || de.Final != (de.Attempt > tc.retries) {
					t.Errorf("error %+v", de)
				}
			}
		})
	}
}

func TestBackoffDoubles(t *testing.T) {
	o := Options{Backoff: time.Second, MaxBackoff: 5 * time.Second}.withDefaults()
	for attempt, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 5 * time.Second, 9: 5 * time.Second} {
		if got := o.backoff(attempt); got != want {
			t.Errorf("backoff(%d) = %v, want %v", attempt, got, want)
		}
	}
}

func TestTimeoutCountsAsFailure(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 4, 0)
	st := openStore(t, "")
	d := &fake{name: "hung", block: true}
	opts := fastOptions()
	opts.Timeout = 20 * time.Millisecond
	opts.MaxFailures = 2
	r, err := Start(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(d), Store: st, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Wait()
	if dv := s.Devices[0]; dv.State != StateFailed || len(d.Calls()) != 2 || !strings.Contains(dv.LastErr, "timeout") {
		t.Errorf("%+v after %d calls", dv, len(d.Calls()))
	}
}

func TestPauseResumeCancelOneDevice(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 6, 0)
	st := openStore(t, "")
	pausing, cancelled, other := &fake{name: "p"}, &fake{name: "c", delay: time.Millisecond}, &fake{name: "o"}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(pausing, cancelled, other), Store: st, Options: fastOptions()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Pause("nope"); err == nil || !strings.Contains(err.Error(), "p, c, o") {
		t.Errorf("unknown device: %v", err)
	}
	sub := r.Subscribe(ctx)
	pausedAt := make(chan int, 1)
	pausing.fail = func(n int, _ string) error {
		if n == 2 {
			r.Pause("p")
		}
		return nil
	}
	cancelled.fail = func(n int, _ string) error {
		if n == 3 {
			r.Cancel("c")
		}
		return nil
	}
	r.Start(ctx)
	// p is resumed only once o has finished: the others go on while p is
	// paused.
	var pPaused, oDone, resumed bool
	for e := range sub {
		p, ok := e.(Progress)
		if !ok {
			continue
		}
		if p.Device == "p" && p.State == StatePaused && !pPaused {
			pPaused = true
			pausedAt <- len(pausing.Calls())
		}
		if p.Device == "o" && p.State == StateDone {
			oDone = true
		}
		if pPaused && oDone && !resumed {
			resumed = true
			if got := r.Progress()[0]; got.State != StatePaused || got.Done != 2 {
				t.Errorf("p while paused: %+v", got)
			}
			r.Resume("p")
		}
	}
	s := r.Wait()
	if n := <-pausedAt; n != 2 {
		t.Errorf("paused after %d calls, want 2 (the one in flight finishes)", n)
	}
	byName := map[string]DeviceSummary{}
	for _, d := range s.Devices {
		byName[d.Device] = d
	}
	if d := byName["p"]; d.State != StateDone || d.Measured != 6 {
		t.Errorf("paused then resumed: %+v", d)
	}
	if d := byName["c"]; d.State != StateCancelled || d.Measured != 2 {
		t.Errorf("cancelled at its 3rd measurement: %+v", d)
	}
	if d := byName["o"]; d.State != StateDone || d.Measured != 6 {
		t.Errorf("other: %+v", d)
	}
}

func TestReferenceDrift(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 7, 0)
	st := openStore(t, "")
	d := &fake{name: "hot", drift: 0.01}
	opts := fastOptions()
	opts.ReferenceEvery = 3
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(d), Store: st, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	events := collect(r.Subscribe(ctx))
	r.Start(ctx)
	s := r.Wait()
	ref := ReferenceArch(sp, 160).String()
	// Reference at the start, after plan measurements 3 and 6 (not after 7: nothing left).
	var refCalls []int
	for i, c := range d.Calls() {
		if c == ref {
			refCalls = append(refCalls, i+1)
		}
	}
	if !slices.Equal(refCalls, []int{1, 5, 9}) {
		t.Errorf("reference measured at calls %v, want [1 5 9]", refCalls)
	}
	dv := s.Devices[0]
	// Call 9 vs call 1 at 1% per call: 1.01^8 - 1.
	if want := 0.0828567; !dv.DriftKnown || dv.References != 3 || dv.Drift < want-1e-4 || dv.Drift > want+1e-4 {
		t.Errorf("drift %+v, want %.4f", dv, want)
	}
	if p := lastProgress(events())["hot"]; !p.DriftKnown || p.Drift != dv.Drift {
		t.Errorf("progress drift %+v", p)
	}
	refs, _ := st.Query(ctx, store.Query{Kind: store.KindReference})
	if len(refs) != 3 {
		t.Errorf("%d reference rows", len(refs))
	}
	// A later run measures drift against the first reference ever.
	d2 := &fake{name: "hot"}
	plan2, ps2 := testPlan(t, sp, 9, 0)
	r2, err := Start(ctx, Spec{Space: sp, Plan: plan2, PlanSpec: ps2, Targets: targets(d2), Store: st, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	if s2 := r2.Wait().Devices[0]; !s2.DriftKnown || s2.Drift > -0.009 || s2.Drift < -0.011 {
		t.Errorf("second run drift %v, want ≈ 1/1.01 - 1", s2.Drift)
	}
}

// TestSummarySplitsOverhead: the summary adds up what the devices say they
// spent preparing networks and timing the probe, beside the timed samples,
// over plan and reference measurements alike.
func TestSummarySplitsOverhead(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 5, 0)
	d := &fake{name: "cpu", prepareMs: 40, probeMs: []float64{2, 3}}
	plain := &fake{name: "sim"}
	opts := fastOptions()
	opts.ReferenceEvery = 3
	r, err := Start(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(d, plain), Store: openStore(t, ""), Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Wait()
	for _, dv := range s.Devices {
		n := time.Duration(dv.Measured + dv.References)
		wantPrepare, wantProbe := n*40*time.Millisecond, n*5*time.Millisecond
		if dv.Device == "sim" {
			wantPrepare, wantProbe = 0, 0
		}
		if dv.Measured != 5 || dv.References != 2 || dv.Prepare != wantPrepare || dv.Probe != wantProbe || dv.Timed <= 0 {
			t.Errorf("%s: %d+%d measurements, prepare %v probe %v timed %v; want 5+2, %v, %v and timed samples",
				dv.Device, dv.Measured, dv.References, dv.Prepare, dv.Probe, dv.Timed, wantPrepare, wantProbe)
		}
	}
}

// TestCancelEndsEveryGoroutine: cancelling the run's context ends the
// workers, the subscriptions and the run's own goroutines.
func TestCancelEndsEveryGoroutine(t *testing.T) {
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 50, 0)
	st := openStore(t, "")
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	devs := []*fake{{name: "a", delay: 5 * time.Millisecond}, {name: "b", block: true}, {name: "c", delay: time.Millisecond}}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(devs...), Store: st, Options: fastOptions()})
	if err != nil {
		t.Fatal(err)
	}
	r.Pause("c")
	subCtx, subCancel := context.WithCancel(context.Background())
	_ = r.Subscribe(subCtx) // never read
	events := collect(r.Subscribe(context.Background()))
	r.Start(ctx)
	time.Sleep(30 * time.Millisecond)
	cancel()
	s := r.Wait()
	for _, d := range s.Devices {
		if d.State != StateCancelled {
			t.Errorf("%s: %s, want cancelled", d.Device, d.State)
		}
	}
	if _, ok := events()[len(events())-1].(RunDone); !ok {
		t.Error("no RunDone")
	}
	subCancel()
	checkGoroutines(t, before)
}

func TestSlowSubscriberNeverBlocksWorkers(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 30, 0)
	st := openStore(t, "")
	opts := fastOptions()
	opts.EventBuffer = 4
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(&fake{name: "a"}, &fake{name: "b"}), Store: st, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	sub := r.Subscribe(ctx) // not read until the run is over
	r.Start(ctx)
	select {
	case <-r.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("run blocked by a subscriber that does not read")
	}
	s := r.Wait()
	if s.Dropped == 0 {
		t.Error("no event dropped for a subscriber with a queue of 4")
	}
	// What it gets: the event its goroutine held when it stopped reading,
	// at most 4 queued events, the latest Progress of each device (never
	// dropped) and RunDone.
	var evs []Event
	for e := range sub {
		evs = append(evs, e)
	}
	prog := lastProgress(evs)
	if len(prog) != 2 || prog["a"].Done != 30 || prog["b"].Done != 30 {
		t.Errorf("latest progress %+v", prog)
	}
	if _, ok := evs[len(evs)-1].(RunDone); !ok || len(evs) > 1+4+2+1 {
		t.Errorf("%d events:\n%s", len(evs), describe(evs))
	}
}

func TestEstimate(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 12, 0)
	st := openStore(t, "")
	// A fake clock: each measurement takes 20 ms per 100 MMACs on it.
	clk := &clock{t: time.Unix(1e9, 0)}
	opts := fastOptions()
	opts.Now = clk.Now
	d := &fake{name: "a", local: true}
	d.fail = func(int, string) error { return nil }
	slow := &scaled{fake: d, nsPerMAC: float64(20*time.Millisecond) / 1e8, clock: clk}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: []Target{{Device: slow}}, Store: st, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	est, err := r.Estimate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e := est.Devices[0]
	if e.Err != nil || e.Pending != 10 || !strings.HasPrefix(e.Basis, "timed 2 archs") || !e.Local || est.Total != e.Total {
		t.Fatalf("estimate %+v", e)
	}
	if len(d.Calls()) != 2 {
		t.Errorf("estimate took %d measurements, want 2", len(d.Calls()))
	}
	t0 := clk.Now()
	r.Start(ctx)
	s := r.Wait()
	took := clk.Now().Sub(t0)
	if s.Devices[0].Measured != 12 || len(d.Calls()) != 12 {
		t.Errorf("run after estimate: %+v, %d calls (the 2 timed archs are not measured again)", s.Devices[0], len(d.Calls()))
	}
	t.Logf("estimated %v, took %v on the fake clock", e.Total, took)
	// Time proportional to MACs: the line through the two timed archs
	// predicts the other ten exactly.
	if diff := e.Total - took; diff < -time.Microsecond || diff > time.Microsecond || took == 0 {
		t.Errorf("estimated %v, took %v on the fake clock", e.Total, took)
	}
	// Next time, the history suffices.
	plan2, ps2 := testPlan(t, sp, 20, 0)
	r2, err := Prepare(ctx, Spec{Space: sp, Plan: plan2, PlanSpec: ps2, Targets: []Target{{Device: slow}}, Store: st, Options: opts})
	if err != nil {
		t.Fatal(err)
	}
	est2, err := r2.Estimate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e := est2.Devices[0]; e.Pending != 8 || !strings.HasPrefix(e.Basis, "history (12") || len(d.Calls()) != 12 {
		t.Errorf("estimate from history: %+v", e)
	}
	if err := r2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r2.Wait()
	if _, err := r2.Estimate(ctx); err == nil {
		t.Error("Estimate after Start accepted")
	}
}

// clock is a fake clock: it moves only when Advance is called.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// scaled takes time in proportion to the network's MACs on a fake clock.
type scaled struct {
	*fake
	nsPerMAC float64
	clock    *clock
}

func (s *scaled) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	s.clock.Advance(time.Duration(s.nsPerMAC * float64(net.MACs())))
	return s.fake.Measure(ctx, net)
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		xs   []int64
		ys   []float64
		want line
	}{
		{[]int64{100, 300}, []float64{2, 4}, line{a: 1, b: 0.01}},
		{[]int64{100, 100}, []float64{2, 4}, line{a: 3}},
		{[]int64{100, 300}, []float64{4, 2}, line{b: 3.0 / 200}},
		{nil, nil, line{}},
	} {
		got := fit(tc.xs, tc.ys)
		if d := got.a - tc.want.a + (got.b-tc.want.b)*1000; d > 1e-9 || d < -1e-9 {
			t.Errorf("fit(%v, %v) = %+v, want %+v", tc.xs, tc.ys, got, tc.want)
		}
	}
}

func TestPrepareRejects(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 2, 0)
	st := openStore(t, "")
	other := *sp
	other.Name = "elsewhere"
	foreign, _ := other.Plan(model.PlanSpec{Uniform: 1, Resolution: 160})
	for name, spec := range map[string]Spec{
		"no space":     {Plan: plan, Targets: targets(&fake{name: "a"}), Store: st},
		"no store":     {Space: sp, Plan: plan, Targets: targets(&fake{name: "a"})},
		"no devices":   {Space: sp, Plan: plan, Store: st},
		"twice":        {Space: sp, Plan: plan, Targets: targets(&fake{name: "a"}, &fake{name: "a"}), Store: st},
		"wrong space":  {Space: sp, Plan: foreign, Targets: targets(&fake{name: "a"}), Store: st},
		"name differs": {Space: sp, Plan: plan, Targets: []Target{{Device: &fake{name: "a"}, Config: devices.Config{Name: "b"}}}, Store: st},
		"bad timeout":  {Space: sp, Plan: plan, Targets: []Target{{Device: &fake{name: "a"}, Config: devices.Config{Timeout: "soon"}}}, Store: st},
	} {
		spec.PlanSpec = ps
		if _, err := Prepare(ctx, spec); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
