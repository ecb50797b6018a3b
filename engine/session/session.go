// Package session is the one engine service that the explorer (local and
// over SSH) and the headless commands share. A Session owns what a user does
// with a config and a store: it opens the store and the devices, runs and
// resumes profiling, turns stored records into analysis observations (one
// function, Series: probe correction, per-record provenance, plan role,
// resolution), answers analysis and suggestion requests with the evidence
// behind them, holds the current cuts of the space (persisted in the store),
// scores archs with the configured accuracy source (persisted in the store)
// and runs searches. Front ends only translate keys or flags into calls and
// results into text, so the same store gives the same number, with the same
// label, wherever it is shown.
package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/engine"
	"blockprof/engine/accuracy"
	"blockprof/engine/analysis"
	"blockprof/engine/config"
	"blockprof/engine/search"
	"blockprof/engine/store"
	"blockprof/model"
)

// Opener opens a configured device (backends.Open in production, fakes in
// tests).
type Opener func(ctx context.Context, cfg devices.Config, opts backends.Options) (devices.Device, error)

// Options say what a session works on.
type Options struct {
	// Config is the loaded configuration. Required.
	Config *config.Config
	// Space is the space worked on ("" for [plan] space, or with
	// SpaceFromStore the only space the store's runs profiled).
	Space          string
	SpaceFromStore bool
	// StorePath is the results store (created if missing). Required.
	StorePath string
	// Accuracy overrides the space's configured accuracy source (tests).
	Accuracy accuracy.Source
	// Resolution is the resolution analysed (0: [plan] resolution, else
	// the space's default).
	Resolution int
	// Version is written into exported files and runs.
	Version string
	// Open opens devices (nil: backends.Open).
	Open Opener
	// Warn receives what goes wrong without stopping the session (nil:
	// dropped).
	Warn func(string)
	// Now is the clock (nil: time.Now); tests pass a fixed one.
	Now func() time.Time
}

// Session is one user's (or one served team's) work on a space and a store.
// It is safe for concurrent use.
type Session struct {
	cfg   *config.Config
	sp    *model.Space
	st    *store.Store
	dir   string
	spec  model.PlanSpec
	opts  Options
	bench *Bench
	lock  *devices.HostLock
	acc   *scorer
	now   func() time.Time
	warn  func(string)
	plans *planCache

	mu      sync.Mutex
	run     *engine.Run
	stopRun context.CancelFunc
	// runChanged is closed (and replaced) when another run is attached.
	runChanged chan struct{}
	// team carries the session's own events (searches) to every
	// subscriber, beside the runs' events.
	team *engine.Broker[engine.Event]
	cuts *cutState
}

// Open opens the store and prepares the space, its plan spec and its
// accuracy source. It opens no device: Profile, Measure and the latency
// objectives of Search do when they need one.
func Open(ctx context.Context, o Options) (*Session, error) {
	cfg := o.Config
	if cfg == nil {
		return nil, errors.New("session: no configuration")
	}
	if o.StorePath == "" {
		return nil, errors.New("session: no results store (pass --store FILE)")
	}
	st, err := store.Open(ctx, o.StorePath)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, o, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func open(ctx context.Context, o Options, st *store.Store) (*Session, error) {
	cfg := o.Config
	runs, err := st.Runs(ctx)
	if err != nil {
		return nil, err
	}
	name := cfg.Plan.Space
	switch {
	case o.Space != "":
		name = o.Space
	case o.SpaceFromStore:
		var names []string
		for _, r := range runs {
			if !slices.Contains(names, r.Space) {
				names = append(names, r.Space)
			}
		}
		switch len(names) {
		case 0:
		case 1:
			name = names[0]
		default:
			return nil, fmt.Errorf("store %s holds runs of spaces %s: pick one with --space", st.Path(), strings.Join(names, ", "))
		}
	}
	sp, err := cfg.Spaces.Get(name)
	if err != nil {
		return nil, err
	}
	spec := cfg.PlanSpec()
	// The sampler that drew the store's A_{u,l,b}: the analysis follows the
	// runs, not today's config, when they agree on one.
	modes := map[model.FixMode]bool{}
	for _, r := range runs {
		if r.Space == sp.Name {
			modes[r.PlanSpec.Mode] = true
		}
	}
	if len(modes) == 1 {
		for m := range modes {
			spec.Mode = m
		}
	}
	if o.Resolution != 0 {
		spec.Resolution = o.Resolution
	}
	if spec.Resolution == 0 {
		spec.Resolution = sp.Resolution
	}
	if !slices.Contains(sp.Resolutions, spec.Resolution) {
		return nil, fmt.Errorf("resolution %d is not one of %s's %v ([plan] resolution in %s, or --resolution)", spec.Resolution, sp.Name, sp.Resolutions, cfg.File)
	}
	s := &Session{cfg: cfg, sp: sp, spec: spec, opts: o, bench: NewBench(cfg, o.Open), now: o.Now, warn: o.Warn, plans: &planCache{},
		runChanged: make(chan struct{}), team: engine.NewBroker[engine.Event](64, engine.EventKey)}
	s.lock = s.bench.lock
	if s.now == nil {
		s.now = time.Now
	}
	s.bench.now = s.now
	if s.warn == nil {
		s.warn = func(string) {}
	}
	if cfg.File != config.EmbeddedName {
		s.dir = backends.DirOf(cfg.File)
	}
	src := o.Accuracy
	if src == nil {
		if src, err = accuracy.Open(sp.Accuracy, sp, s.dir); err != nil {
			return nil, err
		}
		if n := accuracy.NoteOf(src); n != "" {
			s.warn(n)
		}
	}
	s.st = st
	s.acc = newScorer(src, sp, st, accuracySourceName(sp.Accuracy))
	if s.cuts, err = loadCuts(ctx, st, sp); err != nil {
		return nil, err
	}
	return s, nil
}

// Space is the space worked on.
func (s *Session) Space() *model.Space { return s.sp }

// Config is the session's configuration.
func (s *Session) Config() *config.Config { return s.cfg }

// Store is the session's results store (read it; writes go through the
// session).
func (s *Session) Store() *store.Store { return s.st }

// PlanSpec is the profiling plan of the config (with the session's
// resolution).
func (s *Session) PlanSpec() model.PlanSpec { return s.spec }

// Resolution is the resolution the session analyses.
func (s *Session) Resolution() int { return s.spec.Resolution }

// SearchOptions are the config's [search] budget at the session's
// resolution.
func (s *Session) SearchOptions() search.Options {
	c := s.cfg.Search
	return search.Options{Initial: c.Initial, Children: c.Children, Generations: c.Generations,
		MutateProb: c.MutateProb, Crowding: c.Crowding, Resolution: s.spec.Resolution}
}

// AnalysisOptions are the estimators' defaults for the session's plan.
func (s *Session) AnalysisOptions() analysis.Options {
	return analysis.Options{Mode: s.spec.Mode, Seed: s.spec.Seed}
}

// backendOptions are the options every device is opened with.
func (s *Session) backendOptions() backends.Options { return s.bench.Options() }

// Bench is the session's device opener (its devices close with it).
func (s *Session) Bench() *Bench { return s.bench }

// Device opens (once) and returns a configured device.
func (s *Session) Device(ctx context.Context, name string) (devices.Device, devices.Config, error) {
	if name == "" {
		return nil, devices.Config{}, errors.New("no device named")
	}
	return s.bench.Device(ctx, name)
}

// exclusive runs f holding the host lock: analysis and search evaluations
// never overlap a timed window on this machine's cores. Meanwhile the
// collector runs at half the heap growth (see tighterGC).
func (s *Session) exclusive(ctx context.Context, f func() error) error {
	if err := s.lock.Lock(ctx); err != nil {
		return err
	}
	defer s.lock.Unlock()
	defer tighterGC()()
	return f()
}

// Close stops the live run and waits for it (at most a minute: a device
// stuck past its timeout is abandoned), closes the devices and the store.
func (s *Session) Close() error {
	s.mu.Lock()
	run, stop := s.run, s.stopRun
	s.mu.Unlock()
	if run != nil {
		run.Stop()
		select {
		case <-run.Done():
		case <-time.After(time.Minute):
		}
	}
	if stop != nil {
		stop()
	}
	s.team.Close()
	var errs []error
	if err := s.bench.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := s.acc.Close(); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, s.st.Close())
	return errors.Join(errs...)
}

// selectDevices returns the configured devices named (every profiled one
// when names is empty).
func (s *Session) selectDevices(names []string) ([]devices.Config, error) {
	var out []devices.Config
	if len(names) == 0 {
		for _, d := range s.cfg.Devices {
			if d.Profiled() {
				out = append(out, d)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("%s configures no device to profile: add a [[devices]] table (or set profile = true)", s.cfg.File)
		}
		return out, nil
	}
	for _, n := range names {
		d, err := s.cfg.Device(strings.TrimSpace(n))
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}
