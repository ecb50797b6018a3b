// Package common is the small context every explorer component shares (à la
// soft-serve's pkg/ui/common): the session's context, the size a component
// may draw in, the styles (colour on or off), the key map, and the
// descriptions of the devices of the run. It holds no mutable state: a
// component keeps a copy and the root hands it a new one on resize.
package common

import (
	"context"

	"charm.land/bubbles/v2/key"

	"blockprof/devices"
)

// Common is copied into every component.
type Common struct {
	// Ctx is the session's context: cancelled when the program quits (local
	// terminal) or the SSH session ends. Every request a component starts
	// (an analysis, a search) runs under it.
	Ctx context.Context
	// Width and Height are the cells the component may draw in.
	Width, Height int
	// Color says whether colours may be used; without colour every
	// distinction is made with plain symbols (NO_COLOR).
	Color  bool
	Styles *Styles
	Keys   *KeyMap
}

// New returns a Common for a session.
func New(ctx context.Context, color bool, width, height int) Common {
	return Common{Ctx: ctx, Width: width, Height: height, Color: color, Styles: NewStyles(color), Keys: DefaultKeyMap()}
}

// WithSize returns a copy with another size.
func (c Common) WithSize(width, height int) Common {
	c.Width, c.Height = max(width, 0), max(height, 0)
	return c
}

// WithColor returns a copy with colour switched on or off.
func (c Common) WithColor(color bool) Common {
	c.Color = color
	c.Styles = NewStyles(color)
	return c
}

// DeviceInfo describes one device of the run as the views show it.
type DeviceInfo struct {
	Name string
	// Kind is the backend: ort, agent, command, replay, lut or sim.
	Kind string
	// Provenance says what the device's numbers are (measured, replayed,
	// table, simulated, predicted); Label is the text shown beside them,
	// e.g. "replayed (NVIDIA H100)".
	Provenance devices.Provenance
	Label      string
	// Detail is a one-line description (runtime, threads, hardware).
	Detail string
	// Stale says which of the device's records were taken with other
	// settings (kept, not used; the run measures those archs again).
	Stale string
}

// Source is the label shown for the device's numbers: its Label, else its
// provenance, else "provenance unknown" (never "measured" by default).
func (d DeviceInfo) Source() string {
	switch {
	case d.Label != "":
		return d.Label
	case d.Provenance != "":
		return string(d.Provenance)
	}
	return "provenance unknown"
}

// Measured reports whether the device's numbers are real measurements
// taken by blockprof (not replayed, table, simulated or predicted).
func (d DeviceInfo) Measured() bool {
	return d.Provenance == devices.Measured
}

// Pane is what the root model needs of a view on screen (à la soft-serve's
// common.Component): its drawing, its keys for the help bar, and whether a
// panel of its own (a prompt, a preview, a confirmation) takes the keyboard.
type Pane interface {
	View() string
	Help() []key.Binding
	Busy() bool
}
