package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/devices/ort"
	"blockprof/devices/safetext"
	"blockprof/engine/store"
)

func runMeasure(env *Env, args []string) error { return measure(env, args, backends.Open) }

// measureOut is the JSON object `measure --json` prints.
type measureOut struct {
	Device     string             `json:"device"`
	Kind       string             `json:"kind"`
	Label      string             `json:"label"`
	Provenance devices.Provenance `json:"provenance"`
	Space      string             `json:"space"`
	Arch       string             `json:"arch"`
	Resolution int                `json:"resolution"`
	MACs       int64              `json:"macs"`
	Params     int64              `json:"params"`
	SamplesMs  []float64          `json:"samples_ms"`
	N          int                `json:"n"`
	MedianMs   float64            `json:"median_ms"`
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
	var dc devices.Config
	switch {
	case *devName != "":
		if dc, err = cfg.Device(*devName); err != nil {
			return fmt.Errorf("measure: --device: %w", err)
		}
	case len(cfg.Devices) > 0:
		dc = cfg.Devices[0]
	default:
		return fmt.Errorf("measure: %s configures no device: add a [[devices]] table", cfg.File)
	}
	timeout, err := dc.MeasureTimeout()
	if err != nil {
		return err
	}
	// The network is expanded before the device starts timing.
	net, err := sp.Network(a)
	if err != nil {
		return err
	}
	ctx := env.Ctx
	d, err := open(ctx, dc, backends.Options{Lock: devices.NewHostLock(), Dir: backends.DirOf(*cfgPath), Spaces: cfg.Spaces})
	if err != nil {
		return fmt.Errorf("measure: device %s: %w", dc.Name, err)
	}
	defer d.Close()
	info := d.Info()
	mctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	m, err := d.Measure(mctx, net)
	wall := time.Since(t0)
	if err != nil {
		if errors.Is(mctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			return fmt.Errorf("measure: device %s: no result within the %v timeout (raise `timeout` in its [[devices]] table): %w", dc.Name, timeout, err)
		}
		return fmt.Errorf("measure: device %s: %w", dc.Name, err)
	}
	if len(m.SamplesMs) == 0 {
		return fmt.Errorf("measure: device %s returned no samples", dc.Name)
	}
	st := store.Summarize(m.SamplesMs)
	prov := info.Provenance
	if prov == "" {
		prov = devices.Measured
	}
	label := info.Label
	if label == "" {
		label = string(prov)
	}
	out := measureOut{Device: d.Name(), Kind: info.Kind, Label: label, Provenance: prov, Space: sp.Name, Arch: a.String(),
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
	fmt.Fprintf(env.Stdout, "%s: %s\n  median %.4g ms, spread %.1f%% (IQR/median), min %.4g ms, max %.4g ms\n  %d %s after %d warm-up runs, mode %s, %s; %.1f MMACs, %.2f M params; took %s\n",
		out.Device, out.Arch, out.MedianMs, 100*out.Spread, out.MinMs, out.MaxMs, out.N, kind, out.Warmup, safetext.Line(orDash(out.Mode)), safetext.Line(out.Label),
		float64(out.MACs)/1e6, float64(out.Params)/1e6, shortDur(wall))
	if out.Relative > 0 {
		fmt.Fprintf(env.Stdout, "  probe (%s) timed %d times in the same window: median %.4g ms; arch/probe %.4g (blocks of %d runs)\n",
			ort.ProbeArch, len(out.ProbeMs), out.ProbeMedianMs, out.Relative, out.ProbeEvery)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
