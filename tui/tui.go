// Package tui is blockprof's explorer: a Bubble Tea program with a devices
// view (live profiling progress), a friendliness view (heat-map tables of
// block effects, where the engineer prunes the space), a Pareto view (archs
// and fronts, searches of the original vs the reduced space) and an export
// of the reduced space to TOML. The same model runs in a local terminal
// (Run), in tests and over SSH (package tui/serve): it receives engine
// events through its own subscription and sends intents; it never measures
// or computes statistics itself.
package tui

import (
	"context"
	"os"

	tea "charm.land/bubbletea/v2"

	"blockprof/engine"
	"blockprof/model"
	"blockprof/tui/common"
	devicesview "blockprof/tui/devices"
	"blockprof/tui/export"
	"blockprof/tui/friendliness"
	paretoview "blockprof/tui/pareto"
)

// Deps is everything the explorer needs from the engine. tui/app
// implements it from a live engine.Run, the store, the analysis, the
// search and the accuracy source.
type Deps interface {
	// Events subscribes to the session's run events: the live run's,
	// then those of a run attached later (a re-measure); the channel
	// closes when ctx ends (at once when no run is attached). Each session
	// subscribes on its own.
	Events(ctx context.Context) <-chan engine.Event
	// Live reports whether a run is attached (else the explorer shows what
	// the store holds and Pause, Resume and Cancel fail).
	Live() bool
	// Space is the profiled space.
	Space() *model.Space
	// Devices describes the run's devices, in the run's order.
	Devices() []common.DeviceInfo
	devicesview.Control
	friendliness.Source
	paretoview.Source
	// Writer writes where the user says: the local explorer's export.
	export.Writer
	// Encoder lets a served session write through export.Dir instead.
	export.Encoder
}

// Options tune one explorer session.
type Options struct {
	// NoColor draws without any colour (NO_COLOR): every distinction is
	// made with plain symbols.
	NoColor bool
	// Width and Height are the terminal's size when known (an SSH PTY); the
	// program's first WindowSizeMsg replaces them.
	Width, Height int
	// Export, if set, writes this session's exports instead of deps (which
	// writes where the user says): a served session's export.Dir.
	Export export.Writer
}

// Run runs the explorer in the local terminal until the user quits or ctx
// ends. NO_COLOR in the environment turns colour off. Quitting leaves the
// run to the caller (who stops it; a later run resumes).
func Run(ctx context.Context, deps Deps) error {
	_, noColor := os.LookupEnv("NO_COLOR")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := New(ctx, deps, Options{NoColor: noColor})
	_, err := tea.NewProgram(m, tea.WithContext(ctx)).Run()
	if err != nil && ctx.Err() != nil {
		// Interrupted by the caller (a signal): not an error of the UI.
		return nil
	}
	return err
}
