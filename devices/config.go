package devices

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"blockprof/model"
)

// Config is one [[devices]] entry of config.toml. Which fields apply depends
// on Kind; Validate says which are missing.
type Config struct {
	Name string `toml:"name"`
	// Kind is ort, agent, command, replay, lut or sim.
	Kind string `toml:"kind"`
	// Profile says whether `blockprof profile` and the explorer measure on
	// this device by default (default true).
	Profile *bool `toml:"profile"`
	// Timeout bounds one measurement (Go duration, default "2m").
	Timeout string `toml:"timeout"`

	// Measurement protocol (ort; agent and command pass them on).
	Warmup       int     `toml:"warmup"`
	Repeat       int     `toml:"repeat"`
	MaxRepeat    int     `toml:"max_repeat"`
	TargetSpread float64 `toml:"target_spread"`
	Batch        int     `toml:"batch"`
	Threads      int     `toml:"threads"`
	// ProbeEvery (ort) times the fixed probe network after every
	// ProbeEvery-th timed run of the arch, in the same window, so that a
	// machine whose speed shifts from second to second (a shared VM) can be
	// compared through the ratio arch/probe; 0 disables it.
	ProbeEvery int `toml:"probe_every"`

	// ort: the ONNX Runtime library path (else $ONNXRUNTIME_LIB, else the
	// copy scripts/setup-ort.sh placed in the user cache dir) and the graph
	// optimisation level: disable, basic, extended or all.
	Library      string `toml:"library"`
	Optimization string `toml:"optimization"`

	// Transport for agent and command devices: local (default), ssh or adb.
	Transport string `toml:"transport"`
	Host      string `toml:"host"`
	User      string `toml:"user"`
	Port      int    `toml:"port"`
	Identity  string `toml:"identity"`
	Serial    string `toml:"serial"`

	// agent: the agent's argv on the target (default: python3 torch_agent.py
	// shipped in devices/agent), and its settings.
	Command []string `toml:"command"`
	Target  string   `toml:"target"` // cuda or cpu
	// Precision is the model's precision: fp32 (default), fp16 or int8
	// on ort and command devices (int8: post-training quantized, see
	// model/onnx/quantize), fp32 or fp16 on agent devices.
	Precision string `toml:"precision"`
	Mode      string `toml:"mode"` // graph or eager

	// command: a benchmark tool's argv template ({model}, {threads},
	// {batch}) and the parser of its output (trtexec,
	// onnxruntime_perf_test, benchmark_model, benchmark_app or regex).
	Argv   []string `toml:"argv"`
	Parser string   `toml:"parser"`
	// Format is the model file the command device writes: onnx or
	// tflite; "" infers it from the parser (benchmark_model: tflite;
	// trtexec, onnxruntime_perf_test, benchmark_app: onnx).
	Format string `toml:"format"`
	Regex  string `toml:"regex"`
	Unit   string `toml:"unit"`

	// replay: a recorded file in the format of ../shared/data/*.jsonl and
	// the latency_ms key to read.
	File string `toml:"file"`
	Key  string `toml:"key"`

	// lut: a folder of OFA {R}_lookup_table.yaml files.
	Path  string `toml:"path"`
	Label string `toml:"label"`

	// sim: an analytic device.
	Sim SimConfig `toml:"sim"`
}

// SimConfig parameterises the analytic sim device.
type SimConfig struct {
	// Preset starts from a named parameter set of devices/sim ("npu": a
	// Kirin-9000-like NPU, "cpu": a mobile CPU core); the fields below
	// override it where set.
	Preset string `toml:"preset"`
	// GMACs is the compute throughput in 10^9 MAC/s, GBps the memory
	// bandwidth in GB/s, OverheadUs a fixed cost per layer; see devices/sim.
	GMACs      float64 `toml:"gmacs"`
	GBps       float64 `toml:"gbps"`
	OverheadUs float64 `toml:"overhead_us"`
	// KernelFactor multiplies the time of K×K convolutions by kernel size,
	// e.g. { 7 = 3.0 }.
	KernelFactor map[string]float64 `toml:"kernel_factor"`
	// Template pads the input resolution up to a multiple (an NPU template
	// size); 0 disables. PadFactor multiplies a padded network's time (the
	// cost of padding and of leaving the template's fast path; default 1).
	Template  int     `toml:"template"`
	PadFactor float64 `toml:"pad_factor"`
	// Noise is the standard deviation of a multiplicative log-normal noise
	// on every sample (0: deterministic), drawn from Seed and the arch.
	Noise float64 `toml:"noise"`
	Seed  uint64  `toml:"seed"`
	// Bytes per tensor element moved (default 4, fp32).
	Bytes int `toml:"bytes"`
}

// Profiled reports whether the device is profiled by default.
func (c Config) Profiled() bool { return c.Profile == nil || *c.Profile }

// Bounds of a [[devices]] entry's numbers (docs/config-bounds.md). Where a
// field says so, 0 means its default; a negative, NaN or larger value is
// an error naming the key, never replaced by the default.
const (
	// MaxWarmup bounds warmup (0: the default 10).
	MaxWarmup = 10_000
	// MaxRepeat bounds repeat (0: the default 50) and max_repeat (0: the
	// default 200, or repeat when that is larger); a measurement keeps
	// every sample.
	MaxRepeat = 100_000
	// MaxTargetSpread bounds target_spread (IQR/median; 0: the default
	// 0.05).
	MaxTargetSpread = 1.0
	// MaxProbeEvery bounds probe_every (0: off).
	MaxProbeEvery = 10_000
	// MaxBatch bounds batch (0: 1), MaxThreads threads (0: the runtime's
	// choice), MaxPort port (0: 22).
	MaxBatch   = 4096
	MaxThreads = 1024
	MaxPort    = 65535
	// MinTimeout and MaxTimeout bound timeout ("": 2m).
	MinTimeout = time.Millisecond
	MaxTimeout = 24 * time.Hour
	// DefaultTimeout is the per-measurement timeout when none is set.
	DefaultTimeout = 2 * time.Minute
)

// Bounds of the sim table's numbers; 0 keeps the preset's (or the
// default's) value.
const (
	MaxSimGMACs       = 1e7 // 10^9 MAC/s
	MaxSimGBps        = 1e6 // GB/s
	MaxSimOverheadUs  = 1e6 // µs per layer
	MaxSimFactor      = 1000.0
	MaxSimTemplate    = model.MaxResolution
	MaxSimBytes       = 8
	MaxSimKernel      = model.MaxKernel
	MaxSimKernelTerms = 8
)

// KeyError is a problem with one key of a [[devices]] entry. Key is the
// key's path inside the entry ("repeat", "sim.gmacs"), so the config
// loader can point at its line.
type KeyError struct {
	Key string
	Err error
}

func (e *KeyError) Error() string { return e.Key + ": " + e.Err.Error() }
func (e *KeyError) Unwrap() error { return e.Err }

func keyErr(key, format string, args ...any) error {
	return &KeyError{Key: key, Err: fmt.Errorf(format, args...)}
}

func checkInt(key string, v, hi int, what string) error {
	if v < 0 || v > hi {
		return keyErr(key, "%d outside 0..%d (%s)", v, hi, what)
	}
	return nil
}

func checkFloat(key string, v, hi float64, what string) error {
	if !(v >= 0 && v <= hi) {
		return keyErr(key, "%v outside [0, %v] (%s)", v, hi, what)
	}
	return nil
}

// Validate checks every number of the entry against its bound and the
// timeout's syntax. The error is a *KeyError naming the key.
func (c Config) Validate() error {
	if _, err := parseTimeout(c.Timeout); err != nil {
		return &KeyError{Key: "timeout", Err: err}
	}
	checks := []error{
		checkInt("warmup", c.Warmup, MaxWarmup, "untimed runs; 0: the default 10"),
		checkInt("repeat", c.Repeat, MaxRepeat, "timed runs; 0: the default 50"),
		checkInt("max_repeat", c.MaxRepeat, MaxRepeat, "most timed runs; 0: the default 200"),
		checkFloat("target_spread", c.TargetSpread, MaxTargetSpread, "IQR/median to stop at; 0: the default 0.05"),
		checkInt("probe_every", c.ProbeEvery, MaxProbeEvery, "timed runs between probe runs; 0: off"),
		checkInt("batch", c.Batch, MaxBatch, "batch size; 0: 1"),
		checkInt("threads", c.Threads, MaxThreads, "threads; 0: the runtime's choice"),
		checkInt("port", c.Port, MaxPort, "TCP port; 0: 22"),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	switch c.Precision {
	case "", "fp32", "fp16", "int8":
	default:
		return keyErr("precision", "%q: want fp32, fp16 or int8", c.Precision)
	}
	switch c.Format {
	case "", "onnx", "tflite":
	default:
		return keyErr("format", "%q: want onnx or tflite", c.Format)
	}
	if p := c.Protocol(); p.MaxRuns < p.MinRuns {
		return keyErr("max_repeat", "%d is below repeat %d (the default when repeat is unset is 50); raise max_repeat or lower repeat", p.MaxRuns, p.MinRuns)
	}
	return c.Sim.Validate()
}

// Validate checks the sim table's numbers against their bounds (0 keeps
// the preset's value). Keys are named "sim.KEY".
func (s SimConfig) Validate() error {
	checks := []error{
		checkFloat("sim.gmacs", s.GMACs, MaxSimGMACs, "compute throughput in 10^9 MAC/s; 0: the preset's"),
		checkFloat("sim.gbps", s.GBps, MaxSimGBps, "memory bandwidth in GB/s; 0: the preset's"),
		checkFloat("sim.overhead_us", s.OverheadUs, MaxSimOverheadUs, "µs per layer; 0: the preset's"),
		checkInt("sim.template", s.Template, MaxSimTemplate, "template resolution; 0: the preset's"),
		checkFloat("sim.pad_factor", s.PadFactor, MaxSimFactor, "time factor of a padded input; 0: the preset's"),
		checkFloat("sim.noise", s.Noise, 1, "log-normal sigma; 0: none"),
		checkInt("sim.bytes", s.Bytes, MaxSimBytes, "bytes per element; 0: the preset's"),
	}
	for _, err := range checks {
		if err != nil {
			return err
		}
	}
	if len(s.KernelFactor) > MaxSimKernelTerms {
		return keyErr("sim.kernel_factor", "%d entries; at most %d", len(s.KernelFactor), MaxSimKernelTerms)
	}
	for _, k := range slices.Sorted(maps.Keys(s.KernelFactor)) {
		n, err := strconv.Atoi(k)
		if err != nil || n < 1 || n > MaxSimKernel || n%2 == 0 {
			return keyErr("sim.kernel_factor", "key %q: want an odd kernel size in 1..%d, like 7", k, MaxSimKernel)
		}
		if f := s.KernelFactor[k]; !(f > 0 && f <= MaxSimFactor) {
			return keyErr("sim.kernel_factor", "%s = %v outside (0, %v] (time factor of %s×%s convolutions)", k, f, MaxSimFactor, k, k)
		}
	}
	return nil
}

// MeasureTimeout is the per-measurement timeout.
func (c Config) MeasureTimeout() (time.Duration, error) {
	d, err := parseTimeout(c.Timeout)
	if err != nil {
		return 0, fmt.Errorf("device %s: timeout %w", c.Name, err)
	}
	return d, nil
}

func parseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return DefaultTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < MinTimeout || d > MaxTimeout {
		return 0, fmt.Errorf("%q: want a Go duration from %v to %v, like \"90s\"", v, MinTimeout, MaxTimeout)
	}
	return d, nil
}

// Protocol returns the measurement protocol with defaults filled in where
// a field is 0. A negative field is kept, so Validate refuses it.
func (c Config) Protocol() Protocol {
	p := DefaultProtocol
	if c.Warmup != 0 {
		p.Warmup = c.Warmup
	}
	if c.Repeat != 0 {
		p.MinRuns = c.Repeat
	}
	if c.MaxRepeat != 0 {
		p.MaxRuns = c.MaxRepeat
	} else if p.MaxRuns < p.MinRuns {
		p.MaxRuns = p.MinRuns
	}
	if c.TargetSpread != 0 {
		p.TargetSpread = c.TargetSpread
	}
	p.ProbeEvery = c.ProbeEvery
	return p
}

// Timing checks the settings every timing backend shares (Validate) and
// returns them with their defaults: the batch (1 when unset), the
// measurement protocol and the per-measurement timeout. Errors name the
// device and the key.
func (c Config) Timing() (batch int, p Protocol, timeout time.Duration, err error) {
	if err := c.Validate(); err != nil {
		return 0, Protocol{}, 0, fmt.Errorf("device %s: %w", c.Name, err)
	}
	batch = max(c.Batch, 1)
	p = c.Protocol()
	if err := p.Validate(); err != nil {
		return 0, Protocol{}, 0, fmt.Errorf("device %s: %v", c.Name, err)
	}
	if timeout, err = c.MeasureTimeout(); err != nil {
		return 0, Protocol{}, 0, err
	}
	return batch, p, timeout, nil
}

// ModelSpec says which model file a device times: its format (onnx,
// tflite), precision (fp32, fp16, int8), batch and weights seed.
type ModelSpec struct {
	Format    string
	Precision string
	Batch     int
	Seed      uint64
}

// ModelWriter writes the model file of a network. The command device gets
// one from package backends; it is how formats other than ONNX (TFLite)
// reach a device without the device importing their writer.
type ModelWriter func(ctx context.Context, net *model.Network, spec ModelSpec) ([]byte, error)

// Kinds lists the device kinds blockprof knows.
func Kinds() []string { return []string{"ort", "agent", "command", "replay", "lut", "sim"} }
