package devices

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"time"
)

// Protocol is the measurement protocol for devices that time networks
// themselves: Warmup untimed runs, then timed runs until the relative spread
// (IQR/median) of the samples is at most TargetSpread, with at least MinRuns
// and at most MaxRuns timed runs. Every sample is kept.
//
// With ProbeEvery > 0 and a probe run, the protocol also times the probe
// (a fixed network, warmed up by its owner) once before the first timed
// run and after every ProbeEvery-th timed run, in the same window: the
// probe's samples go to Measurement.ProbeMs, and ProbeRatio turns them into
// the arch's latency relative to the probe's, free of whatever slowed the
// whole machine during the window.
type Protocol struct {
	Warmup       int
	MinRuns      int
	MaxRuns      int
	TargetSpread float64
	ProbeEvery   int
}

// DefaultProtocol: 10 warm-up runs, 50 timed runs, up to 200 until the
// spread is under 5%.
var DefaultProtocol = Protocol{Warmup: 10, MinRuns: 50, MaxRuns: 200, TargetSpread: 0.05}

// Validate checks the protocol's numbers against the bounds of the config
// keys they come from (MaxWarmup, MaxRepeat, MaxTargetSpread,
// MaxProbeEvery).
func (p Protocol) Validate() error {
	if p.Warmup < 0 || p.Warmup > MaxWarmup || p.MinRuns < 1 || p.MaxRuns < p.MinRuns || p.MaxRuns > MaxRepeat ||
		!(p.TargetSpread >= 0 && p.TargetSpread <= MaxTargetSpread) || p.ProbeEvery < 0 || p.ProbeEvery > MaxProbeEvery {
		return fmt.Errorf("measurement protocol: want 0 ≤ warmup ≤ %d, 1 ≤ repeat ≤ max_repeat ≤ %d, 0 ≤ target_spread ≤ %v, 0 ≤ probe_every ≤ %d (got warmup=%d repeat=%d max_repeat=%d target_spread=%v probe_every=%d)",
			MaxWarmup, MaxRepeat, MaxTargetSpread, MaxProbeEvery, p.Warmup, p.MinRuns, p.MaxRuns, p.TargetSpread, p.ProbeEvery)
	}
	return nil
}

// Time runs the protocol on run, which performs one inference. Only run is
// inside the timed window (probe runs are timed apart, into ProbeMs).
// probe, if non-nil and ProbeEvery > 0, runs the probe network once. lock,
// if non-nil, is held for the whole warm-up and timing so that two local
// devices never time at once, and released when ctx ends; a timing cut
// short by ctx's deadline while holding it wraps ErrStalledHost.
func (p Protocol) Time(ctx context.Context, lock *HostLock, run, probe func() error) (Measurement, error) {
	if err := p.Validate(); err != nil {
		return Measurement{}, err
	}
	held, err := lock.Hold(ctx)
	if err != nil {
		return Measurement{}, err
	}
	defer held.Release()
	m, err := p.time(ctx, run, probe)
	return m, held.Stalled(err)
}

func (p Protocol) time(ctx context.Context, run, probe func() error) (Measurement, error) {
	// Finish any garbage collection now: a cycle started by building the
	// model (exporting it allocates its weights) would otherwise run its
	// background workers on the other cores during the timed runs, and on a
	// machine whose logical cores share a physical one that slows a whole
	// window by 10–30%.
	runtime.GC()
	if p.ProbeEvery == 0 {
		probe = nil
	}
	for i := 0; i < p.Warmup; i++ {
		if err := ctx.Err(); err != nil {
			return Measurement{}, err
		}
		if err := run(); err != nil {
			return Measurement{}, fmt.Errorf("warm-up run %d: %w", i+1, err)
		}
	}
	m := Measurement{Warmup: p.Warmup, SamplesMs: make([]float64, 0, p.MinRuns)}
	if probe != nil {
		m.ProbeEvery = p.ProbeEvery
	}
	timeProbe := func() error {
		ms, err := timed(probe)
		if err != nil {
			return fmt.Errorf("probe run %d: %w", len(m.ProbeMs)+1, err)
		}
		m.ProbeMs = append(m.ProbeMs, ms)
		return nil
	}
	if probe != nil {
		if err := timeProbe(); err != nil {
			return Measurement{}, err
		}
	}
	for len(m.SamplesMs) < p.MaxRuns {
		if err := ctx.Err(); err != nil {
			return Measurement{}, err
		}
		ms, err := timed(run)
		if err != nil {
			return Measurement{}, fmt.Errorf("timed run %d: %w", len(m.SamplesMs)+1, err)
		}
		m.SamplesMs = append(m.SamplesMs, ms)
		if probe != nil && len(m.SamplesMs)%p.ProbeEvery == 0 {
			if err := timeProbe(); err != nil {
				return Measurement{}, err
			}
		}
		if len(m.SamplesMs) >= p.MinRuns && relSpread(m.SamplesMs) <= p.TargetSpread {
			break
		}
	}
	return m, nil
}

// timed runs f once and returns its wall time in milliseconds.
func timed(f func() error) (float64, error) {
	t0 := time.Now()
	err := f()
	d := time.Since(t0)
	return float64(d.Nanoseconds()) / 1e6, err
}

// ProbeRatio is the arch's latency in units of the probe's, from a window
// timed with Protocol.ProbeEvery = every: probe[0] ran before samples[0]
// and probe[j] after samples[j·every−1]. Each block of every runs is
// divided by the mean of the probe runs around it (the one before only,
// for a last block that no probe closed), and the median over blocks is
// returned, so that a machine that changes speed during the window is
// compared with itself at each moment. It is 0 when there is no probe.
func ProbeRatio(samples, probe []float64, every int) float64 {
	if len(probe) == 0 || len(samples) == 0 || every <= 0 {
		return 0
	}
	var ratios []float64
	for j := 0; j < len(probe) && j*every < len(samples); j++ {
		blk := slices.Clone(samples[j*every : min((j+1)*every, len(samples))])
		p := probe[j]
		if j+1 < len(probe) {
			p = (p + probe[j+1]) / 2
		}
		if p <= 0 {
			continue
		}
		ratios = append(ratios, median(blk)/p)
	}
	if len(ratios) == 0 {
		return 0
	}
	return median(ratios)
}

// median sorts xs and returns its median.
func median(xs []float64) float64 {
	sort.Float64s(xs)
	return quantile(xs, 0.5)
}

// relSpread is IQR/median (type-7 quantiles), the protocol's stopping rule.
func relSpread(xs []float64) float64 {
	s := slices.Clone(xs)
	sort.Float64s(s)
	med := quantile(s, 0.5)
	if med == 0 {
		return 0
	}
	return (quantile(s, 0.75) - quantile(s, 0.25)) / med
}

// quantile is the type-7 quantile p of sorted, which is not empty.
func quantile(sorted []float64, p float64) float64 {
	h := p * float64(len(sorted)-1)
	lo := int(h)
	if lo+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}
