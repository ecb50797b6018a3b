// Package devices defines where latency comes from: the Device interface, its
// settings, and the measurement protocol shared by the backends that time
// networks themselves. Backends live in subpackages (ort, agent, command,
// replay, lut, sim); package backends opens one from its configuration.
package devices

import (
	"context"
	"errors"

	"blockprof/model"
)

// Provenance says what a latency number is. It is shown next to every
// number the UI and the exports print.
type Provenance string

const (
	// Measured: timed end to end on real hardware by blockprof or its agent.
	Measured Provenance = "measured"
	// Replayed: a measurement recorded elsewhere, read back from a file.
	Replayed Provenance = "replayed"
	// Table: summed from per-block latency lookup tables (e.g. OFA's Note10 tables).
	Table Provenance = "table"
	// Simulated: computed by an analytic model.
	Simulated Provenance = "simulated"
	// Predicted: estimated by a fitted predictor.
	Predicted Provenance = "predicted"
)

// Info describes a device and how it measures.
type Info struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Host      string `json:"host,omitempty"`
	Runtime   string `json:"runtime,omitempty"`
	Version   string `json:"version,omitempty"`
	Hardware  string `json:"hardware,omitempty"`
	Threads   int    `json:"threads,omitempty"`
	Precision string `json:"precision,omitempty"`
	// Format is the model format the device times (onnx, tflite), for
	// devices that write model files.
	Format     string     `json:"format,omitempty"`
	Batch      int        `json:"batch,omitempty"`
	Mode       string     `json:"mode,omitempty"`
	Provenance Provenance `json:"provenance"`
	// Label is the short text shown beside the device's numbers, e.g.
	// "measured", "table (Note10)", "replayed (NVIDIA H100)", "simulated".
	Label string `json:"label"`
	// Local says the device times on this machine's cores, so it must hold
	// the host lock while timing.
	Local bool `json:"local,omitempty"`
	// Helper says how a command device's models reach the target (built
	// there by the blockprof helper, or copied and why); empty when
	// build_on_device is off. Not part of the fingerprint: the model is
	// the same either way.
	Helper string `json:"helper,omitempty"`
}

// Measurement is one end-to-end measurement of one network. Statistics are
// always computed from Samples, never stored alone.
type Measurement struct {
	// SamplesMs holds every timed run in milliseconds (for replayed data, the
	// recorded summary values; see Summary).
	SamplesMs []float64 `json:"samples_ms"`
	// Warmup is the number of untimed runs before the samples.
	Warmup int `json:"warmup"`
	// Mode is how the device ran the network (e.g. "cuda-graph", "eager",
	// "ort-cpu").
	Mode string `json:"mode,omitempty"`
	// Summary says the samples are summary figures (median/min/max), not
	// individual runs.
	Summary bool `json:"summary,omitempty"`
	// Raw keeps the device's raw output when it helps to debug.
	Raw string `json:"raw,omitempty"`
	// ProbeMs holds the probe network's runs timed in the same window,
	// in milliseconds, after every ProbeEvery-th sample and before the
	// first (Protocol.ProbeEvery); empty without a probe. ProbeRatio turns
	// them into the arch's latency relative to the probe's.
	ProbeMs    []float64 `json:"probe_ms,omitempty"`
	ProbeEvery int       `json:"probe_every,omitempty"`
	// PrepareMs is the time the device spent getting the network ready to
	// time (export, model file, session creation) before its warm-up, in
	// milliseconds; 0 where the device does not say. It is neither timed
	// nor stored: it tells the profiling overhead apart (engine's
	// DeviceSummary.Prepare).
	PrepareMs float64 `json:"prepare_ms,omitempty"`
}

// Device measures the end-to-end latency of networks.
type Device interface {
	Name() string
	Info() Info
	// Measure times one network. It must return promptly when ctx ends.
	Measure(ctx context.Context, net *model.Network) (Measurement, error)
	Close() error
}

// Preparer is implemented by devices that can get the next network ready
// (exported, loaded) on cores their timing does not use while they time
// the current one. Prepare returns at once; the Measure of the same arch
// that follows uses what it prepared, and a device with too few cores
// ignores it.
type Preparer interface {
	Prepare(ctx context.Context, net *model.Network)
}

// Checker is implemented by devices that can say what they found (runtime,
// version, threads, GPU name) for `blockprof devices --check`.
type Checker interface {
	Check(ctx context.Context) (Info, error)
}

// Planner is implemented by devices that can only measure what they hold (a
// replay device: the archs of its recording). Plan lists the archs of sp it
// can measure, with the fix each was drawn with (nil for a uniform arch);
// a run measures those on this device instead of the sampled plan.
type Planner interface {
	Plan(sp *model.Space) ([]model.PlanItem, error)
}

// ErrTransient marks an error worth retrying (a dropped connection, a busy
// device); other errors count toward marking the device failed.
var ErrTransient = errors.New("transient device error")
