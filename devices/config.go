package devices

import (
	"fmt"
	"time"
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
	Command   []string `toml:"command"`
	Target    string   `toml:"target"`    // cuda or cpu
	Precision string   `toml:"precision"` // fp32 or fp16
	Mode      string   `toml:"mode"`      // graph or eager

	// command: a benchmark tool's argv template ({model}, {threads},
	// {batch}) and the parser of its output (trtexec,
	// onnxruntime_perf_test, benchmark_model, benchmark_app or regex).
	Argv   []string `toml:"argv"`
	Parser string   `toml:"parser"`
	Regex  string   `toml:"regex"`
	Unit   string   `toml:"unit"`

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

// MeasureTimeout is the per-measurement timeout.
func (c Config) MeasureTimeout() (time.Duration, error) {
	if c.Timeout == "" {
		return 2 * time.Minute, nil
	}
	d, err := time.ParseDuration(c.Timeout)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("device %s: timeout %q: want a positive Go duration like \"90s\"", c.Name, c.Timeout)
	}
	return d, nil
}

// Protocol returns the measurement protocol with defaults filled in.
func (c Config) Protocol() Protocol {
	p := DefaultProtocol
	if c.Warmup > 0 {
		p.Warmup = c.Warmup
	}
	if c.Repeat > 0 {
		p.MinRuns = c.Repeat
	}
	if c.MaxRepeat > 0 {
		p.MaxRuns = c.MaxRepeat
	} else if p.MaxRuns < p.MinRuns {
		p.MaxRuns = p.MinRuns
	}
	if c.TargetSpread > 0 {
		p.TargetSpread = c.TargetSpread
	}
	p.ProbeEvery = c.ProbeEvery
	return p
}

// Timing checks the settings every timing backend shares and returns them
// with their defaults: the batch (1 when unset), the measurement protocol
// and the per-measurement timeout. Errors name the device.
func (c Config) Timing() (batch int, p Protocol, timeout time.Duration, err error) {
	batch = c.Batch
	if batch == 0 {
		batch = 1
	}
	if batch < 1 || c.Threads < 0 {
		return 0, Protocol{}, 0, fmt.Errorf("device %s: batch %d, threads %d: want batch ≥ 1 and threads ≥ 0", c.Name, c.Batch, c.Threads)
	}
	p = c.Protocol()
	if err := p.Validate(); err != nil {
		return 0, Protocol{}, 0, fmt.Errorf("device %s: %v", c.Name, err)
	}
	if timeout, err = c.MeasureTimeout(); err != nil {
		return 0, Protocol{}, 0, err
	}
	return batch, p, timeout, nil
}

// Kinds lists the device kinds blockprof knows.
func Kinds() []string { return []string{"ort", "agent", "command", "replay", "lut", "sim"} }
