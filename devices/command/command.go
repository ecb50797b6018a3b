// Package command is the "command" device: it writes each network's model
// file — ONNX or TFLite, fp32, fp16 or int8, the format following the
// tool (benchmark_model reads .tflite; trtexec, onnxruntime_perf_test and
// benchmark_app read .onnx) or the format key — copies it to the target
// (local, ssh or adb; see devices/transport) and runs a benchmark tool on
// it, reading the latency from the tool's output with a parser of
// devices/parse (trtexec, onnxruntime_perf_test, benchmark_model,
// benchmark_app or a regex).
//
// Over adb, before each timing it reads the phone's state — screen
// (dumpsys power), thermal status (dumpsys thermalservice) and the CPU
// governors (/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor) — and
// records the readings in the measurement's mode, escaped.
//
// The tool's command line is an argv template: each element is one
// argument, with {model} (the model file on the target), {threads},
// {batch}, {warmup}, {repeat} (the device's protocol), {resolution} and
// {dir} (the run directory on the target) substituted inside it; there is
// no shell, so write ["env", "LD_LIBRARY_PATH=/data/local/tmp", TOOL, ...]
// for environment variables. {threads} is the configured threads, 0 when
// unset. The tool times the network itself: its numbers are measured, and
// they are summary figures (min, median, max) when it prints no per-run
// samples.
package command

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"blockprof/devices"
	"blockprof/devices/parse"
	"blockprof/devices/safetext"
	"blockprof/devices/transport"
	"blockprof/model"
	"blockprof/model/export"
)

// ModelName is the file name of the exported network on the target, by
// format.
func ModelName(format string) string { return "model" + export.Ext(format) }

// FormatOf is the model format a tool reads (the parser's tool, or the
// program of a regex device's argv): tflite for benchmark_model, onnx for
// trtexec, onnxruntime_perf_test and benchmark_app, "" for any other.
func FormatOf(tool string) string {
	switch tool {
	case "benchmark_model":
		return "tflite"
	case "trtexec", "onnxruntime_perf_test", "benchmark_app":
		return "onnx"
	}
	return ""
}

// Options are what a command device gets besides its configuration.
type Options struct {
	// Writer writes model files; nil writes ONNX itself (model/export)
	// and refuses other formats.
	Writer devices.ModelWriter
}

// weightSeed seeds the exported weights; they do not change the latency.
const weightSeed = 1

// placeholders are the names an argv template may use.
var placeholders = []string{"model", "threads", "batch", "warmup", "repeat", "resolution", "dir"}

// Device is the command device.
type Device struct {
	name     string
	tr       transport.Transport
	argv     []string
	parser   parse.Parser
	tool     string
	batch    int
	threads  int
	protocol devices.Protocol
	timeout  time.Duration
	lock     *devices.HostLock
	info     devices.Info
	spec     devices.ModelSpec
	writer   devices.ModelWriter
	// checks reads the target's state before timing (adb); nil: none.
	checks []string
}

// Open opens the command device cfg describes, with its transport.
func Open(cfg devices.Config, lock *devices.HostLock, o Options) (*Device, error) {
	tr, err := transport.Open(cfg)
	if err != nil {
		return nil, err
	}
	d, err := NewWith(cfg, tr, lock, o)
	if err != nil {
		tr.Close()
		return nil, err
	}
	return d, nil
}

// New returns the command device of cfg on the transport tr, which it owns
// (Close closes it). lock is the process's host lock, held while a local
// tool runs (nil: none).
func New(cfg devices.Config, tr transport.Transport, lock *devices.HostLock) (*Device, error) {
	return NewWith(cfg, tr, lock, Options{})
}

// NewWith is New with options (the model writer).
func NewWith(cfg devices.Config, tr transport.Transport, lock *devices.HostLock, o Options) (*Device, error) {
	if cfg.Kind != "" && cfg.Kind != "command" {
		return nil, fmt.Errorf("device %s: kind %q is not command", cfg.Name, cfg.Kind)
	}
	fail := func(format string, args ...any) (*Device, error) {
		return nil, fmt.Errorf("device %s: "+format, append([]any{cfg.Name}, args...)...)
	}
	if len(cfg.Argv) == 0 || cfg.Argv[0] == "" {
		return fail("no argv: set argv = [\"TOOL\", \"--onnx={model}\", ...] (placeholders {%s})", strings.Join(placeholders, "}, {"))
	}
	usesModel := false
	for _, a := range cfg.Argv {
		names, err := placeholdersIn(a)
		if err != nil {
			return fail("argv: %v", err)
		}
		usesModel = usesModel || slices.Contains(names, "model")
	}
	if !usesModel {
		return fail("argv %q never names {model}, the exported network's path", cfg.Argv)
	}
	if cfg.Parser == "" {
		return fail("no parser: set parser to one of %s or regex", strings.Join(parse.Names(), ", "))
	}
	p, err := parse.New(cfg.Parser, cfg.Regex, cfg.Unit)
	if err != nil {
		return fail("%v", err)
	}
	batch, protocol, timeout, err := cfg.Timing()
	if err != nil {
		return nil, err
	}
	format, tool := cfg.Format, toolName(cfg.Argv, p)
	if format == "" {
		if format = FormatOf(tool); format == "" {
			return fail("format: the model format cannot be inferred from the tool %q (parser %s); set format = \"onnx\" or \"tflite\" (what the tool reads)", tool, p.Name())
		}
	}
	precision := cfg.Precision
	if precision == "" {
		precision = "fp32"
	}
	d := &Device{name: cfg.Name, tr: tr, argv: slices.Clone(cfg.Argv), parser: p, tool: toolName(cfg.Argv, p),
		batch: batch, threads: cfg.Threads, protocol: protocol, timeout: timeout, lock: lock,
		spec: devices.ModelSpec{Format: format, Precision: precision, Batch: batch, Seed: weightSeed}, writer: o.Writer}
	if _, ok := tr.(*transport.ADB); ok {
		d.checks = ADBChecks
	}
	d.info = devices.Info{
		Name:       cfg.Name,
		Kind:       "command",
		Host:       tr.String(),
		Runtime:    safetext.Line(d.tool),
		Threads:    cfg.Threads,
		Precision:  precision,
		Format:     format,
		Batch:      batch,
		Mode:       safetext.Line(fmt.Sprintf("%s %s, %s, parser %s", format, precision, transport.Excerpt(transport.QuoteArgs(cfg.Argv), 200), p.Name())),
		Provenance: devices.Measured,
		Label:      safetext.Line(Label(d.tool)),
		Local:      tr.Local(),
	}
	return d, nil
}

// Label is the label of a command device's numbers: "measured (TOOL)".
func Label(tool string) string { return string(devices.Measured) + " (" + tool + ")" }

// ToolName is the name a command device of cfg shows for its tool: the
// parser's tool, or for the regex parser the argv's program (past env and
// VAR=value words).
func ToolName(cfg devices.Config) string {
	p, err := parse.New(cfg.Parser, cfg.Regex, cfg.Unit)
	if err != nil {
		return cfg.Parser
	}
	return toolName(cfg.Argv, p)
}

func toolName(argv []string, p parse.Parser) string {
	if p.Name() != "regex" {
		return p.Name()
	}
	for _, a := range argv {
		if a == "env" || strings.Contains(a, "=") && !strings.HasPrefix(a, "-") {
			continue
		}
		if b := path.Base(a); b != "" && b != "." && b != "/" {
			return b
		}
	}
	return "regex"
}

// placeholdersIn lists the {name} placeholders of an argument; an unknown
// {name} (letters, digits, '_') is an error, other braces are text.
func placeholdersIn(arg string) ([]string, error) {
	var names []string
	for rest := arg; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return names, nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return names, nil
		}
		name := rest[i+1 : i+j]
		if isIdent(name) {
			if !slices.Contains(placeholders, name) {
				return nil, fmt.Errorf("unknown placeholder {%s} in %q (known: {%s})", name, arg, strings.Join(placeholders, "}, {"))
			}
			names = append(names, name)
		}
		rest = rest[i+j+1:]
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Argv is the tool's command line for a network at resolution r whose
// model lies at modelPath in the run directory dir.
func (d *Device) Argv(modelPath, dir string, r int) []string {
	rep := strings.NewReplacer(
		"{model}", modelPath,
		"{threads}", strconv.Itoa(d.threads),
		"{batch}", strconv.Itoa(d.batch),
		"{warmup}", strconv.Itoa(d.protocol.Warmup),
		"{repeat}", strconv.Itoa(d.protocol.MinRuns),
		"{resolution}", strconv.Itoa(r),
		"{dir}", dir,
	)
	out := make([]string, len(d.argv))
	for i, a := range d.argv {
		out[i] = rep.Replace(a)
	}
	return out
}

// Name is the device's configured name.
func (d *Device) Name() string { return d.name }

// Info describes the device.
func (d *Device) Info() devices.Info { return d.info }

// errTimeout is the cause of a context ended by the device timeout.
var errTimeout = errors.New("device timeout")

// Measure exports net, copies it to the target and runs the tool on it.
// A local tool runs under the host lock (from the export on, as the ort
// device does, so that no other local device times meanwhile); at the
// deadline the lock is released at once, the tool's process group is
// killed and the error wraps devices.ErrStalledHost.
func (d *Device) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	if net == nil {
		return devices.Measurement{}, fmt.Errorf("device %s: no network", d.name)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d.timeout, errTimeout)
	defer cancel()
	var lock *devices.HostLock
	if d.tr.Local() {
		lock = d.lock
	}
	held, err := lock.Hold(ctx)
	if err != nil {
		return devices.Measurement{}, d.ctxErr(ctx, net, "waiting for the host lock", err)
	}
	defer held.Release()
	m, err := d.measure(ctx, net)
	return m, held.Stalled(err)
}

// write writes net's model file in the device's format and precision.
func (d *Device) write(ctx context.Context, net *model.Network) ([]byte, error) {
	if d.writer != nil {
		return d.writer(ctx, net, d.spec)
	}
	if d.spec.Format != "onnx" {
		return nil, fmt.Errorf("format %s: the %s writer is not available here (only onnx without a model writer)", d.spec.Format, d.spec.Format)
	}
	return export.ONNX(ctx, net, export.Request{Format: "onnx", Precision: d.spec.Precision, Seed: d.spec.Seed, Batch: d.spec.Batch})
}

func (d *Device) measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	data, err := d.write(ctx, net)
	if err != nil {
		if ctx.Err() != nil {
			return devices.Measurement{}, d.ctxErr(ctx, net, "writing the model", err)
		}
		return devices.Measurement{}, fmt.Errorf("device %s: %s: write the %s %s model: %w", d.name, net.Arch, d.spec.Precision, d.spec.Format, err)
	}
	modelPath, err := d.tr.Put(ctx, ModelName(d.spec.Format), data)
	if err != nil {
		return devices.Measurement{}, d.ctxErr(ctx, net, "copying the model", err)
	}
	dir, err := d.tr.Dir(ctx)
	if err != nil {
		return devices.Measurement{}, d.ctxErr(ctx, net, "copying the model", err)
	}
	readings := ""
	if d.checks != nil {
		if readings, err = d.readState(ctx); err != nil {
			return devices.Measurement{}, d.ctxErr(ctx, net, "reading the device state", err)
		}
	}
	res, err := d.tr.Run(ctx, d.Argv(modelPath, dir, net.Resolution))
	if err != nil {
		return devices.Measurement{}, d.ctxErr(ctx, net, "running "+d.tool, err)
	}
	r, err := d.parser.Parse(res.Output)
	if err != nil {
		return devices.Measurement{}, fmt.Errorf("device %s: %s: cannot read the latency from %s's output: %w", d.name, net.Arch, d.tool, err)
	}
	if len(r.SamplesMs) == 0 {
		return devices.Measurement{}, fmt.Errorf("device %s: %s: %s's output gave no latency", d.name, net.Arch, d.tool)
	}
	mode := d.tool
	if r.Metric != "" {
		mode += " (" + r.Metric + ")"
	}
	if d.spec.Precision != "fp32" || d.spec.Format != FormatOf(d.tool) {
		mode += ", " + d.spec.Format + " " + d.spec.Precision
	}
	if readings != "" {
		mode += "; " + readings
	}
	return devices.Measurement{SamplesMs: r.SamplesMs, Warmup: r.Warmup, Mode: safetext.Line(mode), Summary: r.Summary, Raw: r.Raw}, nil
}

// ctxErr explains a failed step, saying whether the device timeout or the
// caller ended it. Transport errors keep their kind (a lost connection
// stays transient).
func (d *Device) ctxErr(ctx context.Context, net *model.Network, when string, err error) error {
	if ctx.Err() == nil {
		return fmt.Errorf("device %s: %s: %s: %w", d.name, net.Arch, when, err)
	}
	if errors.Is(context.Cause(ctx), errTimeout) {
		return fmt.Errorf("device %s: %s: no result within the device timeout %v (%s; raise `timeout` in its [[devices]] entry): %w",
			d.name, net.Arch, d.timeout, when, ctx.Err())
	}
	return fmt.Errorf("device %s: %s: stopped %s: %w", d.name, net.Arch, when, ctx.Err())
}

// Close closes the transport, removing the run directory on the target.
func (d *Device) Close() error { return d.tr.Close() }

var _ devices.Device = (*Device)(nil)
