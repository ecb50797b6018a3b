package session

import (
	"context"
	"errors"
	"fmt"

	"blockprof/engine"
	"blockprof/engine/store"
	"blockprof/model"
)

// Subscribe streams the events of the session's runs (the attached run's,
// then those of every run attached later: a re-measure) and of its
// searches, until ctx ends. Each subscriber gets every device's latest
// progress and the latest search first, so a late joiner sees the right
// counts.
func (s *Session) Subscribe(ctx context.Context) <-chan engine.Event {
	out := make(chan engine.Event, 64)
	team := s.team.Subscribe(ctx)
	runs := make(chan engine.Event)
	go func() { // the runs, one after the other
		defer close(runs)
		var last *engine.Run
		for {
			s.mu.Lock()
			run, changed := s.run, s.runChanged
			s.mu.Unlock()
			if run != nil && run != last {
				last = run
				for ev := range run.Subscribe(ctx) {
					select {
					case runs <- ev:
					case <-ctx.Done():
						return
					}
				}
				continue // the run ended: look for a newer one
			}
			select {
			case <-changed:
			case <-ctx.Done():
				return
			}
		}
	}()
	go func() { // both streams into one
		defer close(out)
		for runs != nil || team != nil {
			var ev engine.Event
			var ok bool
			select {
			case ev, ok = <-runs:
				if !ok {
					runs = nil
					continue
				}
			case ev, ok = <-team:
				if !ok {
					team = nil
					continue
				}
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// attach makes run the session's run and wakes the subscribers.
func (s *Session) attach(run *engine.Run) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.run = run
	close(s.runChanged)
	s.runChanged = make(chan struct{})
}

// Noisy lists the device's latest plan records (under its current settings)
// whose spread (IQR/median) missed the device's target.
func (s *Session) Noisy(ctx context.Context, device string) ([]store.Record, float64, error) {
	d, err := s.storedDevice(ctx, device)
	if err != nil {
		return nil, 0, err
	}
	target := d.Settings.Protocol().TargetSpread
	if target <= 0 {
		return nil, 0, fmt.Errorf("device %s has no spread target: nothing is noisy by its own measure", device)
	}
	var out []store.Record
	for r, err := range s.st.Records(ctx, store.Query{Device: device, Space: s.sp.Name, Kind: store.KindPlan, Latest: true, Fingerprint: d.Fingerprint}) {
		if err != nil {
			return nil, 0, err
		}
		if r.Spread > target {
			out = append(out, r)
		}
	}
	return out, target, nil
}

// ErrRunActive is returned by RemeasureNoisy while the attached run still
// measures.
var ErrRunActive = errors.New("the profiling run is still measuring: re-measure once it is done")

// RemeasureNoisy measures again, on the device, every arch whose latest
// record missed the device's spread target, in a new run attached to the
// session (its events reach every Subscribe stream); the newer records
// replace the noisy ones in every analysis. It returns how many archs it
// queued.
func (s *Session) RemeasureNoisy(ctx context.Context, device string) (int, error) {
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run != nil {
		select {
		case <-run.Done():
		default:
			return 0, ErrRunActive
		}
	}
	noisy, target, err := s.Noisy(ctx, device)
	if err != nil {
		return 0, err
	}
	if len(noisy) == 0 {
		return 0, fmt.Errorf("no arch of %s on %s missed the %.0f%% spread target", s.sp.Name, device, 100*target)
	}
	var plan []model.PlanItem
	seen := map[string]bool{}
	for _, r := range noisy {
		if seen[r.Arch] {
			continue
		}
		seen[r.Arch] = true
		a, err := s.sp.ParseArch(r.Arch)
		if err != nil {
			return 0, err
		}
		fix, err := store.ParseFix(r.Fix)
		if err != nil {
			return 0, err
		}
		plan = append(plan, model.PlanItem{Arch: a, Fix: fix})
	}
	dev, dc, err := s.Device(ctx, device)
	if err != nil {
		return 0, err
	}
	opts := engine.OptionsFromPlan(s.cfg.Plan)
	opts.Remeasure = true
	spec := s.spec
	spec.Uniform, spec.PerLocation = len(plan), 0
	next, err := engine.Prepare(ctx, engine.Spec{Space: s.sp, Plan: plan, PlanSpec: spec, ConfigFile: s.cfg.File,
		Version: s.opts.Version, Targets: []engine.Target{{Device: dev, Config: dc}}, Store: s.st, Options: opts})
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := next.Start(rctx); err != nil {
		cancel()
		return 0, err
	}
	s.mu.Lock()
	prevStop := s.stopRun
	s.stopRun = cancel
	s.mu.Unlock()
	if prevStop != nil {
		prevStop()
	}
	s.attach(next)
	return len(plan), nil
}
