package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/engine/session"
	"blockprof/engine/store"
)

func runMeasure(env *Env, args []string) error { return measure(env, args, nil) }

// measureOut is the JSON object `measure --json` prints.
type measureOut struct {
	Device     string             `json:"device"`
	Kind       string             `json:"kind"`
	Label      string             `json:"label"`
	Provenance devices.Provenance `json:"provenance"`
	// Precision and Format are the model the device timed (fp32, fp16,
	// int8; onnx, tflite), where the device writes one.
	Precision  string    `json:"precision,omitempty"`
	Format     string    `json:"format,omitempty"`
	Space      string    `json:"space"`
	Arch       string    `json:"arch"`
	Resolution int       `json:"resolution"`
	MACs       int64     `json:"macs"`
	Params     int64     `json:"params"`
	SamplesMs  []float64 `json:"samples_ms"`
	N          int       `json:"n"`
	MedianMs   float64   `json:"median_ms"`
	// Spread is IQR/median.
	Spread  float64 `json:"spread"`
	MinMs   float64 `json:"min_ms"`
	MaxMs   float64 `json:"max_ms"`
	MeanMs  float64 `json:"mean_ms"`
	Warmup  int     `json:"warmup"`
	Mode    string  `json:"mode,omitempty"`
	Summary bool    `json:"summary,omitempty"`
	// WallMs is the whole measurement (warm-up, timed runs, device overhead).
	WallMs float64 `json:"wall_ms"`
	// ProbeMs are the probe network's runs timed in the same window, after
	// every ProbeEvery-th sample; Relative is the arch's latency in probe
	// units (devices.ProbeRatio).
	ProbeMs       []float64 `json:"probe_ms,omitempty"`
	ProbeEvery    int       `json:"probe_every,omitempty"`
	ProbeMedianMs float64   `json:"probe_median_ms,omitempty"`
	Relative      float64   `json:"relative,omitempty"`
}

func measure(env *Env, args []string, open openDevice) error {
	fs := newFlags(env, "measure", "--arch A [--space S] [--device D] [--config F] [--json]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	spaceName := fs.String("space", "", "search space (default: the canonical arch's prefix, else [plan] space)")
	archText := fs.String("arch", "", "architecture: canonical (ofa-mbv3:224:e4k3,...) or OFA JSON ({\"ks\":[...],\"e\":[...],\"d\":[...],\"r\":224})")
	devName := fs.String("device", "", "device name (default: the first configured device)")
	asJSON := fs.Bool("json", false, "print one JSON object")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	if strings.TrimSpace(*archText) == "" {
		fs.Usage()
		return errors.New("measure: --arch is required")
	}
	name := *spaceName
	if name == "" {
		name = cfg.Plan.Space
		if prefix, _, ok := strings.Cut(strings.TrimSpace(*archText), ":"); ok && !strings.HasPrefix(prefix, "{") {
			if _, err := cfg.Spaces.Get(prefix); err == nil {
				name = prefix
			}
		}
	}
	sp, err := cfg.Spaces.Get(name)
	if err != nil {
		return fmt.Errorf("measure: --space: %w", err)
	}
	a, err := sp.ParseArchAny(*archText)
	if err != nil {
		return fmt.Errorf("measure: --arch: %w", err)
	}
	bench := session.NewBench(cfg, open)
	defer bench.Close()
	m, err := bench.Measure(env.Ctx, *devName, sp, a)
	if err != nil {
		return fmt.Errorf("measure: %w", err)
	}
	st := store.Summarize(m.SamplesMs)
	info, net, wall := m.Info, m.Net, m.Wall
	label := info.Label
	if label == "" {
		label = string(info.Provenance)
	}
	out := measureOut{Device: m.Device, Kind: info.Kind, Label: label, Provenance: info.Provenance, Precision: info.Precision, Format: info.Format, Space: sp.Name, Arch: a.String(),
		Resolution: a.Resolution, MACs: net.MACs(), Params: net.Params(), SamplesMs: m.SamplesMs, N: st.N, MedianMs: st.Median,
		Spread: st.Spread, MinMs: st.Min, MaxMs: st.Max, MeanMs: st.Mean, Warmup: m.Warmup, Mode: m.Mode, Summary: m.Summary,
		WallMs: float64(wall.Microseconds()) / 1000}
	if len(m.ProbeMs) > 0 {
		out.ProbeMs, out.ProbeEvery, out.ProbeMedianMs = m.ProbeMs, m.ProbeEvery, store.Summarize(m.ProbeMs).Median
		out.Relative = devices.ProbeRatio(m.SamplesMs, m.ProbeMs, m.ProbeEvery)
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(out)
	}
	kind := "samples"
	if m.Summary {
		kind = "summary values"
	}
	prec := ""
	if out.Precision != "" {
		prec = " " + safetext.Line(out.Precision)
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n  median %.4g ms%s, spread %.1f%% (IQR/median), min %.4g ms, max %.4g ms\n  %d %s after %d warm-up runs, mode %s, %s; %.1f MMACs, %.2f M params; took %s\n",
		out.Device, out.Arch, out.MedianMs, prec, 100*out.Spread, out.MinMs, out.MaxMs, out.N, kind, out.Warmup, safetext.Line(orDash(out.Mode)), safetext.Line(out.Label),
		float64(out.MACs)/1e6, float64(out.Params)/1e6, shortDur(wall))
	if out.Relative > 0 {
		fmt.Fprintf(env.Stdout, "  probe (%s) timed %d times in the same window: median %.4g ms; arch/probe %.4g (blocks of %d runs)\n",
			session.ProbeArch, len(out.ProbeMs), out.ProbeMedianMs, out.Relative, out.ProbeEvery)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
