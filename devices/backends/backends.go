// Package backends opens a device from its [[devices]] configuration,
// dispatching on the kind to the backend packages (ort, agent, command,
// replay, lut, sim), resolving relative paths against the
// configuration file's directory.
package backends

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"blockprof/devices"
	"blockprof/devices/agent"
	"blockprof/devices/command"
	"blockprof/devices/lut"
	"blockprof/devices/ort"
	"blockprof/devices/replay"
	"blockprof/devices/sim"
	"blockprof/model"
	"blockprof/model/export"
	"blockprof/model/writers"
)

// Options is what every backend may need besides its own configuration.
type Options struct {
	// Lock is the process's host lock, shared by every device that times
	// on this machine's cores.
	Lock *devices.HostLock
	// Dir is the configuration file's directory: relative paths in the
	// config (file, path, library) resolve against it. "" means the
	// current directory (the embedded config).
	Dir string
	// Spaces are the configured search spaces (replay reads archs of them).
	Spaces *model.Spaces
	// Writer writes the model files command devices time; nil uses
	// model/writers (ONNX and TFLite).
	Writer devices.ModelWriter
}

// Writer adapts model/export's writers to a devices.ModelWriter.
func Writer(w *export.Writers) devices.ModelWriter {
	return func(ctx context.Context, net *model.Network, spec devices.ModelSpec) ([]byte, error) {
		return w.Write(ctx, net, export.Request{Format: spec.Format, Precision: spec.Precision, Batch: spec.Batch, Seed: spec.Seed})
	}
}

// DirOf is the Options.Dir of a configuration loaded from path ("" for the
// embedded configuration, so its paths resolve against the current
// directory).
func DirOf(path string) string {
	if path == "" {
		return ""
	}
	return filepath.Dir(path)
}

// Resolve makes a configured path absolute against Dir (or leaves it
// relative to the current directory when Dir is ""). "" stays "" and
// "~/…" expands nothing: write absolute paths for home files.
func (o Options) Resolve(path string) string {
	if path == "" || filepath.IsAbs(path) || o.Dir == "" {
		return path
	}
	return filepath.Join(o.Dir, path)
}

// Open opens the device cfg describes. The caller closes it.
func Open(ctx context.Context, cfg devices.Config, opts Options) (devices.Device, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	switch cfg.Kind {
	case "replay":
		if opts.Spaces == nil {
			return nil, fmt.Errorf("device %s: replay needs the configured spaces (backends.Options.Spaces)", cfg.Name)
		}
		return replay.Open(cfg, opts.Resolve(cfg.File), opts.Spaces)
	case "lut":
		return lut.Open(cfg, opts.Resolve(cfg.Path))
	case "sim":
		return sim.Open(cfg)
	case "ort":
		c := cfg
		c.Library = opts.Resolve(cfg.Library)
		return ort.New(c, opts.Lock)
	case "agent":
		d, err := agent.Open(cfg, opts.Lock, agent.Options{})
		if err != nil {
			return nil, err
		}
		return d, nil
	case "command":
		w := opts.Writer
		if w == nil {
			w = Writer(writers.New())
		}
		d, err := command.Open(cfg, opts.Lock, command.Options{Writer: w})
		if err != nil {
			return nil, err
		}
		d.UseSpaces(opts.Spaces)
		return d, nil
	case "":
		return nil, fmt.Errorf("device %s: no kind (want one of %s)", cfg.Name, strings.Join(devices.Kinds(), ", "))
	}
	return nil, fmt.Errorf("device %s: unknown kind %q (want one of %s)", cfg.Name, cfg.Kind, strings.Join(devices.Kinds(), ", "))
}

// Label is the label a device of cfg will show, known without opening it
// (a replay device refines it from the recording's machine description).
func Label(cfg devices.Config) string {
	switch cfg.Kind {
	case "replay":
		if cfg.Label != "" {
			return replay.Label(cfg.Label)
		}
		return string(devices.Replayed)
	case "lut":
		return lut.Label(cfg.Label)
	case "sim":
		return sim.Label(cfg.Label)
	case "command":
		return command.Label(command.ToolName(cfg))
	}
	return string(devices.Measured)
}

// Settings summarises a device's key settings in one line, e.g.
// "file=../shared/data/h100.jsonl key=gpu-b1-fp32-graph".
func Settings(cfg devices.Config) string {
	var parts []string
	add := func(k string, v any) {
		switch x := v.(type) {
		case string:
			if x == "" {
				return
			}
			if strings.ContainsAny(x, " \t\"") {
				v = fmt.Sprintf("%q", x)
			}
		case int:
			if x == 0 {
				return
			}
		case float64:
			if x == 0 {
				return
			}
		case []string:
			if len(x) == 0 {
				return
			}
			v = fmt.Sprintf("%q", x)
		}
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	switch cfg.Kind {
	case "replay":
		add("file", cfg.File)
		add("key", cfg.Key)
	case "lut":
		add("path", cfg.Path)
	case "sim":
		s := cfg.Sim
		add("preset", s.Preset)
		add("gmacs", s.GMACs)
		add("gbps", s.GBps)
		add("overhead_us", s.OverheadUs)
		for k, f := range sortedFactors(s.KernelFactor) {
			add("kernel_factor."+k, f)
		}
		add("template", s.Template)
		add("pad_factor", s.PadFactor)
		add("noise", s.Noise)
	case "ort":
		add("threads", cfg.Threads)
		add("batch", cfg.Batch)
		add("optimization", cfg.Optimization)
		add("precision", cfg.Precision)
		add("library", cfg.Library)
	case "agent":
		add("transport", cfg.Transport)
		add("host", cfg.Host)
		add("serial", cfg.Serial)
		add("target", cfg.Target)
		add("precision", cfg.Precision)
		add("mode", cfg.Mode)
		add("batch", cfg.Batch)
		add("command", cfg.Command)
	case "command":
		add("transport", cfg.Transport)
		add("host", cfg.Host)
		add("serial", cfg.Serial)
		add("parser", cfg.Parser)
		add("format", cfg.Format)
		add("precision", cfg.Precision)
		add("argv", cfg.Argv)
	}
	switch cfg.Kind {
	case "ort", "agent", "command":
		p := cfg.Protocol()
		parts = append(parts, fmt.Sprintf("warmup=%d repeat=%d..%d spread≤%g", p.Warmup, p.MinRuns, p.MaxRuns, p.TargetSpread))
	}
	return strings.Join(parts, " ")
}

// sortedFactors iterates a kernel-factor table in key order.
func sortedFactors(m map[string]float64) iter.Seq2[string, float64] {
	return func(yield func(string, float64) bool) {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if !yield(k, m[k]) {
				return
			}
		}
	}
}
