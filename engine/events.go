package engine

import (
	"time"

	"blockprof/devices"
	"blockprof/engine/store"
)

// State is where a device's worker is.
type State string

const (
	// StateConnecting: the worker is starting (reading what is measured,
	// the reference baseline).
	StateConnecting State = "connecting"
	StateMeasuring  State = "measuring"
	// StatePaused: paused by an intent; the measurement in flight, if
	// any, finished first.
	StatePaused State = "paused"
	// StateDone: every pending arch was tried.
	StateDone State = "done"
	// StateFailed: too many consecutive errors; the other devices go on.
	StateFailed State = "failed"
	// StateCancelled: the run's context ended or the device was cancelled;
	// the arch in flight is not stored, a re-run resumes it.
	StateCancelled State = "cancelled"
)

// Final reports whether the worker has ended.
func (s State) Final() bool { return s == StateDone || s == StateFailed || s == StateCancelled }

// Event is published by a run: Progress, Measured, DeviceError or RunDone.
type Event interface{ isEvent() }

// Progress is a device's state. It is latest-wins: a subscriber that
// falls behind gets the newest Progress of each device, never a backlog.
type Progress struct {
	Device string
	// Done counts the distinct plan archs measured on the device,
	// including Resumed ones measured by earlier runs; Total is the number
	// of distinct plan archs.
	Done, Total int
	Resumed     int
	// Errors counts plan archs that failed in this run (they are retried
	// by the next run).
	Errors int
	// Failed says the device was marked failed.
	Failed bool
	State  State
	// Rate is plan archs per second in this run, ETA the time left at that
	// rate (0 when unknown), Elapsed the worker's time so far.
	Rate    float64
	ETA     time.Duration
	Elapsed time.Duration
	// LastMs and LastSpread are the median (ms) and IQR/median of the last
	// successful measurement.
	LastMs     float64
	LastSpread float64
	// Drift is the reference arch's latest median over its first median on
	// this device, minus 1; DriftKnown says a reference was measured.
	Drift      float64
	DriftKnown bool
	LastErr    string
	// Intent is the last pause, resume or cancel of the device with who
	// sent it and when ("paused by alice at 17:03:12"); empty when none.
	Intent string
	// Interval is, in a profile-until-confident plan, how wide the
	// predicted friendliness table's 95% intervals were after the last
	// fit; nil otherwise.
	Interval *IntervalWidth
}

// IntervalWidth is the width of a predicted friendliness table's 95%
// block intervals, in percent of the relative effect, after a fit on
// Measured archs; Target is the width the plan stops at.
type IntervalWidth struct {
	Max, Mean, Target float64
	Measured          int
}

// Measured is one stored measurement.
type Measured struct {
	Device string
	// Arch is canonical; Fix is "u2.l3=e6k7" for an A_{u,l,b} plan item.
	Arch       string
	Fix        string
	Kind       store.Kind
	Stats      store.Stats
	Provenance devices.Provenance
	// Wall is the time the device took (Measure call), Timed the sum of
	// its timed samples.
	Wall  time.Duration
	Timed time.Duration
}

// DeviceError is one failed attempt.
type DeviceError struct {
	Device string
	Arch   string
	Err    error
	// Attempt counts from 1; Transient errors are retried with back-off
	// until Final.
	Attempt   int
	Transient bool
	// Final says the arch is given up for this run.
	Final bool
}

// RunDone is the last event of a run.
type RunDone struct {
	Summary Summary
}

// SearchProgress reports a search of the original and a reduced space to
// every subscriber of the session (the SSH team sees who searches what):
// one per generation of each seed of each space, then one with Done set.
// It is latest-wins: a late subscriber gets the newest.
type SearchProgress struct {
	// By is who started it ("" for this process); Device whose latency
	// is searched; Space the space of this report.
	By, Device, Space       string
	Seed                    uint64
	Generation, Generations int
	Evaluations, FrontSize  int
	Hypervolume             float64
	// Done says the search ended; Err why it failed, if it did.
	Done bool
	Err  string
}

func (Progress) isEvent()       {}
func (Measured) isEvent()       {}
func (DeviceError) isEvent()    {}
func (RunDone) isEvent()        {}
func (SearchProgress) isEvent() {}

// eventKey makes Progress latest-wins per device and RunDone sticky.
func eventKey(e Event) (string, bool) {
	switch e := e.(type) {
	case Progress:
		return "progress\x00" + e.Device, true
	case RunDone:
		return "done", true
	case SearchProgress:
		return "search", true
	}
	return "", false
}

// EventKey is the key under which a broker of events coalesces them
// (latest wins): a device's Progress, the run's end, the latest search.
func EventKey(e Event) (string, bool) { return eventKey(e) }

// DeviceSummary is a device's account of a run.
type DeviceSummary struct {
	Device string
	State  State
	Failed bool
	// Total distinct plan archs; Resumed were measured before this run;
	// Measured in this run (plan only); Errors plan archs given up;
	// References reference measurements taken.
	Total, Resumed, Measured, Errors, References int
	// MedianMs is the median of the medians of this run's plan
	// measurements.
	MedianMs float64
	// Wall is the worker's time, Timed the sum of all timed samples
	// (the timed windows), InDevice the time inside Device.Measure.
	Wall, Timed, InDevice time.Duration
	// Prepare is the time devices said they spent getting networks ready
	// (Measurement.PrepareMs: export, model file, session creation), Probe
	// the sum of the probe's timed runs (Measurement.ProbeMs): both inside
	// InDevice and outside Timed, so that the overhead can be told apart.
	Prepare, Probe time.Duration
	// Overhead is Wall/Timed − 1: model building, session creation,
	// warm-up, the probe's runs, the store and the engine (0 when nothing
	// was timed).
	Overhead   float64
	Drift      float64
	DriftKnown bool
	LastErr    string
}

// Summary is a run's account.
type Summary struct {
	Run     int64
	Devices []DeviceSummary
	Wall    time.Duration
	// Dropped counts events dropped for slow subscribers.
	Dropped uint64
}
