package app

import (
	"context"
	"fmt"

	"blockprof/engine/config"
	"blockprof/engine/session"
)

// Setup says how to start the explorer.
type Setup struct {
	// Config is the loaded configuration.
	Config *config.Config
	// Space to explore ("" for [plan] space).
	Space string
	// StorePath is the results store (a re-run resumes what it holds).
	StorePath string
	// Devices names the devices to profile (empty: every device with
	// profile = true).
	Devices []string
	// NoProfile opens the store without profiling (the explorer shows what
	// it holds).
	NoProfile bool
	// Reduced, when set, is a reduced-space TOML loaded as the current
	// cuts.
	Reduced string
	// Remeasure measures every plan arch again.
	Remeasure bool
	// Accuracy overrides the space's accuracy source (tests).
	Accuracy session.AccuracySource
	Version  string
	// Warn receives what goes wrong without stopping the start: a device
	// that cannot be opened, changed device settings.
	Warn func(string)
	// Open opens devices (nil: backends.Open).
	Open session.Opener
}

// Session is a started session with the explorer's adapter over it.
type Session struct {
	*App
	S *session.Session
}

// Start opens the session, prepares the configured plan and starts
// profiling it in the background; the returned App is the explorer's Deps.
// Close stops the run (what is measured stays stored; a new start resumes
// the plan) and closes the devices and the store.
func Start(ctx context.Context, s Setup) (*Session, error) {
	sess, err := session.Open(ctx, session.Options{Config: s.Config, Space: s.Space, StorePath: s.StorePath,
		Accuracy: s.Accuracy, Version: s.Version, Open: s.Open, Warn: s.Warn})
	if err != nil {
		return nil, fmt.Errorf("explorer: %w", err)
	}
	fail := func(err error) (*Session, error) {
		sess.Close()
		return nil, fmt.Errorf("explorer: %w", err)
	}
	if s.Reduced != "" {
		if _, err := sess.LoadReduced(ctx, s.Reduced); err != nil {
			return fail(fmt.Errorf("--reduced: %w", err))
		}
	}
	if !s.NoProfile {
		if _, err := sess.Prepare(ctx, session.ProfileRequest{Devices: s.Devices, Remeasure: s.Remeasure}); err != nil {
			return fail(err)
		}
		if err := sess.StartDetached(ctx); err != nil {
			return fail(err)
		}
	}
	a, err := New(ctx, sess)
	if err != nil {
		return fail(err)
	}
	return &Session{App: a, S: sess}, nil
}

// Close stops the run and closes the session.
func (s *Session) Close() error { return s.S.Close() }
