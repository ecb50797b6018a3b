package session

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"blockprof/devices"
	"blockprof/engine"
	"blockprof/model"
)

// ProfileRequest says what to profile.
type ProfileRequest struct {
	// Devices to profile (empty: every device with profile = true).
	Devices []string
	// Spec overrides the config's plan (nil: the session's PlanSpec).
	Spec *model.PlanSpec
	// Remeasure measures every plan arch again, even those the store
	// holds with the device's current settings.
	Remeasure bool
}

// Prepared is a profiling run ready to start.
type Prepared struct {
	Run *engine.Run
	// Skipped lists the devices that could not be opened ("name (could
	// not open: why)");
	// the others go on.
	Skipped []string
	Spec    model.PlanSpec
	Plan    int
}

// Prepare opens the devices, records the run and its plan in the store and
// returns it unstarted (Estimate may run first). The session owns the run:
// Close stops it. One run per session.
func (s *Session) Prepare(ctx context.Context, req ProfileRequest) (Prepared, error) {
	s.mu.Lock()
	busy := s.run != nil
	s.mu.Unlock()
	if busy {
		return Prepared{}, errors.New("session: a profiling run is already attached")
	}
	spec := s.spec
	if req.Spec != nil {
		spec = *req.Spec
		if spec.Resolution == 0 {
			spec.Resolution = s.spec.Resolution
		}
	}
	plan, err := s.sp.Plan(spec)
	if err != nil {
		return Prepared{}, err
	}
	cfgs, err := s.selectDevices(req.Devices)
	if err != nil {
		return Prepared{}, err
	}
	var targets []engine.Target
	var skipped []string
	for _, dc := range cfgs {
		d, _, err := s.Device(ctx, dc.Name)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s (could not open: %v)", dc.Name, err))
			s.warn(fmt.Sprintf("device %s: %v (skipped; the other devices go on)", dc.Name, err))
			continue
		}
		// A device with its own plan (a recording) needs no sampled one.
		if _, own := d.(devices.Planner); !own && len(plan) == 0 {
			return Prepared{}, fmt.Errorf("the plan is empty for device %s: set [plan] uniform or per_location in %s (or --plan uniform=N)", dc.Name, s.cfg.File)
		}
		targets = append(targets, engine.Target{Device: d, Config: dc})
	}
	if len(targets) == 0 {
		return Prepared{Skipped: skipped}, fmt.Errorf("no device could be opened:\n  %s", strings.Join(skipped, "\n  "))
	}
	opts := engine.OptionsFromPlan(s.cfg.Plan)
	opts.Remeasure = req.Remeasure
	run, err := engine.Prepare(ctx, engine.Spec{Space: s.sp, Plan: plan, PlanSpec: spec, ConfigFile: s.cfg.File,
		Version: s.opts.Version, Targets: targets, Store: s.st, Options: opts})
	if err != nil {
		return Prepared{Skipped: skipped}, err
	}
	for _, w := range run.Warnings() {
		s.warn(w)
	}
	s.plans.reset()
	s.attach(run)
	return Prepared{Run: run, Skipped: skipped, Spec: spec, Plan: len(plan)}, nil
}

// StartDetached starts the prepared run in the background, detached from
// ctx's cancellation: it runs until Close (the explorer's case; a later
// session resumes it).
func (s *Session) StartDetached(ctx context.Context) error {
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run == nil {
		return errors.New("session: no prepared run")
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if err := run.Start(rctx); err != nil {
		cancel()
		return err
	}
	s.mu.Lock()
	s.stopRun = cancel
	s.mu.Unlock()
	return nil
}

// Run is the attached profiling run (nil: none; the session shows what the
// store holds).
func (s *Session) Run() *engine.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.run
}
