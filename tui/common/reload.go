package common

import "time"

// Reload is the state every view of engine data shares (à la gh-dash's
// section base): whether the view is on screen, whether new data arrived
// since its last load, whether a load is in flight, when the last one
// started, and a generation that drops the answers of superseded loads.
// Views embed it and keep their own data.
type Reload struct {
	// Active says the view is on screen; only an active view reloads.
	Active bool
	// Stale says new data arrived since the last load.
	Stale bool
	// Loading says a load is in flight; Loaded is when the last one
	// started.
	Loading bool
	Loaded  time.Time
	// Gen numbers the loads: an answer of another generation is dropped.
	Gen int
	// Cooldown is the least time between two reloads caused by new data.
	Cooldown time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

func (r Reload) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Due reports whether the view should load now: it is on screen, idle and
// stale, and the cooldown since the last load has passed (or force: the run
// ended and no more data will come).
func (r Reload) Due(force bool) bool {
	return r.Stale && r.Active && !r.Loading && (force || r.now().Sub(r.Loaded) >= r.Cooldown)
}

// Begin starts a load and returns its generation.
func (r Reload) Begin() (Reload, int) {
	r.Gen++
	r.Loading, r.Stale, r.Loaded = true, false, r.now()
	return r, r.Gen
}

// Answer takes the answer of the load of generation gen: false when a later
// load superseded it (drop it).
func (r Reload) Answer(gen int) (Reload, bool) {
	if gen != r.Gen {
		return r, false
	}
	r.Loading = false
	return r, true
}
