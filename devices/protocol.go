package devices

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"time"
)

// Protocol is the measurement protocol for devices that time networks
// themselves: Warmup untimed runs, then timed runs until the relative spread
// (IQR/median) of the samples is at most TargetSpread, with at least MinRuns
// and at most MaxRuns timed runs. Every sample is kept.
type Protocol struct {
	Warmup       int
	MinRuns      int
	MaxRuns      int
	TargetSpread float64
}

// DefaultProtocol: 10 warm-up runs, 50 timed runs, up to 200 until the
// spread is under 5%.
var DefaultProtocol = Protocol{Warmup: 10, MinRuns: 50, MaxRuns: 200, TargetSpread: 0.05}

// Validate checks the protocol's numbers.
func (p Protocol) Validate() error {
	if p.Warmup < 0 || p.MinRuns < 1 || p.MaxRuns < p.MinRuns || p.TargetSpread < 0 {
		return fmt.Errorf("measurement protocol: want warmup ≥ 0, 1 ≤ repeat ≤ max_repeat, target_spread ≥ 0 (got warmup=%d repeat=%d max_repeat=%d target_spread=%v)",
			p.Warmup, p.MinRuns, p.MaxRuns, p.TargetSpread)
	}
	return nil
}

// Time runs the protocol on run, which performs one inference. Only run is
// inside the timed window. lock, if non-nil, is held for the whole
// warm-up and timing so that two local devices never time at once.
func (p Protocol) Time(ctx context.Context, lock *HostLock, run func() error) (Measurement, error) {
	if err := p.Validate(); err != nil {
		return Measurement{}, err
	}
	if lock != nil {
		if err := lock.Lock(ctx); err != nil {
			return Measurement{}, err
		}
		defer lock.Unlock()
	}
	// Finish any garbage collection now: a cycle started by building the
	// model (exporting it allocates its weights) would otherwise run its
	// background workers on the other cores during the timed runs, and on a
	// machine whose logical cores share a physical one that slows a whole
	// window by 10–30%.
	runtime.GC()
	for i := 0; i < p.Warmup; i++ {
		if err := ctx.Err(); err != nil {
			return Measurement{}, err
		}
		if err := run(); err != nil {
			return Measurement{}, fmt.Errorf("warm-up run %d: %w", i+1, err)
		}
	}
	m := Measurement{Warmup: p.Warmup, SamplesMs: make([]float64, 0, p.MinRuns)}
	for len(m.SamplesMs) < p.MaxRuns {
		if err := ctx.Err(); err != nil {
			return Measurement{}, err
		}
		t0 := time.Now()
		err := run()
		d := time.Since(t0)
		if err != nil {
			return Measurement{}, fmt.Errorf("timed run %d: %w", len(m.SamplesMs)+1, err)
		}
		m.SamplesMs = append(m.SamplesMs, float64(d.Nanoseconds())/1e6)
		if len(m.SamplesMs) >= p.MinRuns && relSpread(m.SamplesMs) <= p.TargetSpread {
			break
		}
	}
	return m, nil
}

// relSpread is IQR/median (type-7 quantiles), the protocol's stopping rule.
func relSpread(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	q := func(p float64) float64 {
		h := p * float64(len(s)-1)
		lo := int(h)
		if lo+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[lo] + (h-float64(lo))*(s[lo+1]-s[lo])
	}
	med := q(0.5)
	if med == 0 {
		return 0
	}
	return (q(0.75) - q(0.25)) / med
}

// HostLock serialises timing among devices that share this machine's cores.
// Create one per process and hand it to every local device.
type HostLock struct {
	ch chan struct{}
}

// NewHostLock returns an unlocked host lock.
func NewHostLock() *HostLock { return &HostLock{ch: make(chan struct{}, 1)} }

// Lock waits for the lock or for ctx to end.
func (l *HostLock) Lock(ctx context.Context) error {
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Unlock releases the lock.
func (l *HostLock) Unlock() { <-l.ch }
