package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/engine"
	"blockprof/engine/accuracy"
	"blockprof/engine/analysis"
	"blockprof/engine/config"
	"blockprof/engine/search"
	"blockprof/engine/store"
)

// Opener opens a configured device (backends.Open in production).
type Opener func(ctx context.Context, cfg devices.Config, opts backends.Options) (devices.Device, error)

// Setup says how to start the explorer on a live run.
type Setup struct {
	// Config is the loaded configuration; ConfigPath the file it came
	// from ("" for the embedded one: relative paths in it resolve against
	// the working directory).
	Config     *config.Config
	ConfigPath string
	// Space to profile ("" for [plan] space).
	Space string
	// StorePath is the results store (a re-run resumes what it holds).
	StorePath string
	// Devices names the devices to profile (empty: every device with
	// profile = true).
	Devices []string
	// Accuracy scores archs for the accuracy metric, the Pareto view and
	// the search (nil: the space's configured source, by default the proxy
	// score of engine/accuracy, labelled proxy).
	Accuracy accuracy.Source
	Version  string
	// Warn receives what goes wrong without stopping the start: a device
	// that cannot be opened, changed device settings.
	Warn func(string)
	// Open opens devices (nil: backends.Open).
	Open Opener
}

// Session is a started run with the explorer's adapter over it.
type Session struct {
	*App
	Run   *engine.Run
	Store *store.Store

	cancel  context.CancelFunc
	devices []devices.Device
}

// Start opens the store and the devices, prepares the configured plan and
// starts profiling it; the returned session's App is the explorer's Deps.
// Close stops the run (what is measured stays stored; a new start resumes
// the plan) and closes the devices and the store.
func Start(ctx context.Context, s Setup) (*Session, error) {
	cfg := s.Config
	if cfg == nil {
		return nil, errors.New("explorer: no configuration")
	}
	warn := s.Warn
	if warn == nil {
		warn = func(string) {}
	}
	open := s.Open
	if open == nil {
		open = backends.Open
	}
	name := cfg.Plan.Space
	if s.Space != "" {
		name = s.Space
	}
	sp, err := cfg.Spaces.Get(name)
	if err != nil {
		return nil, fmt.Errorf("explorer: %w", err)
	}
	spec := cfg.PlanSpec()
	if spec.Resolution == 0 {
		spec.Resolution = sp.Resolution
	}
	if !slices.Contains(sp.Resolutions, spec.Resolution) {
		return nil, fmt.Errorf("explorer: resolution %d is not one of %s's %v ([plan] resolution in %s)", spec.Resolution, sp.Name, sp.Resolutions, cfg.File)
	}
	plan, err := sp.Plan(spec)
	if err != nil {
		return nil, err
	}
	if len(plan) == 0 {
		return nil, fmt.Errorf("explorer: the plan is empty: set [plan] uniform or per_location in %s", cfg.File)
	}
	var cfgs []devices.Config
	if len(s.Devices) == 0 {
		for _, d := range cfg.Devices {
			if d.Profiled() {
				cfgs = append(cfgs, d)
			}
		}
	} else {
		for _, n := range s.Devices {
			d, err := cfg.Device(n)
			if err != nil {
				return nil, fmt.Errorf("explorer: %w", err)
			}
			cfgs = append(cfgs, d)
		}
	}
	if len(cfgs) == 0 {
		return nil, fmt.Errorf("explorer: %s configures no device to profile: add a [[devices]] table", cfg.File)
	}

	st, err := store.Open(ctx, s.StorePath)
	if err != nil {
		return nil, err
	}
	sess := &Session{Store: st}
	fail := func(err error) (*Session, error) {
		sess.closeDevices()
		st.Close()
		return nil, err
	}
	opts := backends.Options{Lock: devices.NewHostLock(), Dir: backends.DirOf(s.ConfigPath), Spaces: cfg.Spaces}
	var targets []engine.Target
	var failed []string
	for _, dc := range cfgs {
		d, err := open(ctx, dc, opts)
		if err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", dc.Name, err))
			warn(fmt.Sprintf("device %s: %v (skipped; the other devices go on)", dc.Name, err))
			continue
		}
		sess.devices = append(sess.devices, d)
		targets = append(targets, engine.Target{Device: d, Config: dc})
	}
	if len(targets) == 0 {
		return fail(fmt.Errorf("explorer: no device could be opened:\n  %s", strings.Join(failed, "\n  ")))
	}
	run, err := engine.Prepare(ctx, engine.Spec{Space: sp, Plan: plan, PlanSpec: spec, ConfigFile: cfg.File, Version: s.Version,
		Targets: targets, Store: st, Options: engine.OptionsFromPlan(cfg.Plan)})
	if err != nil {
		return fail(err)
	}
	for _, w := range run.Warnings() {
		warn(w)
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sess.cancel = cancel
	if err := run.Start(rctx); err != nil {
		cancel()
		return fail(err)
	}
	sess.Run = run
	acc := s.Accuracy
	if acc == nil {
		// The space's configured source ([spaces.NAME] accuracy; the proxy,
		// labelled proxy, by default).
		if acc, err = accuracy.Open(sp.Accuracy, sp, opts.Dir); err != nil {
			sess.Close()
			return nil, err
		}
	}
	sopts := search.Options{Initial: cfg.Search.Initial, Children: cfg.Search.Children, Generations: cfg.Search.Generations,
		MutateProb: cfg.Search.MutateProb, Crowding: cfg.Search.Crowding, Resolution: spec.Resolution}
	sess.App, err = New(ctx, Config{Space: sp, Store: st, Run: run, Accuracy: acc, Search: sopts,
		Analysis: analysis.Options{Mode: spec.Mode, Seed: spec.Seed}, Resolution: spec.Resolution, Version: s.Version, HostLock: opts.Lock})
	if err != nil {
		sess.Close()
		return nil, err
	}
	return sess, nil
}

// Close stops the run and waits for it (at most a minute: a device stuck
// in a measurement past its timeout is abandoned), then closes the devices
// and the store.
func (s *Session) Close() error {
	if s.Run != nil {
		s.Run.Stop()
		select {
		case <-s.Run.Done():
		case <-time.After(time.Minute):
		}
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.closeDevices()
	return s.Store.Close()
}

func (s *Session) closeDevices() {
	for _, d := range s.devices {
		_ = d.Close()
	}
	s.devices = nil
}
