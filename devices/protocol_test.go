package devices

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestProtocolTime(t *testing.T) {
	tests := []struct {
		name      string
		p         Protocol
		durations func(i int) time.Duration // duration of run i (warm-up included)
		wantRuns  int
	}{
		{"steady stops at MinRuns", Protocol{Warmup: 3, MinRuns: 10, MaxRuns: 50, TargetSpread: 0.5}, func(int) time.Duration { return 100 * time.Microsecond }, 10},
		{"noisy runs to MaxRuns", Protocol{Warmup: 1, MinRuns: 5, MaxRuns: 12, TargetSpread: 0.0001}, func(i int) time.Duration { return time.Duration(50+200*(i%2)) * time.Microsecond }, 12},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			m, err := tc.p.Time(context.Background(), nil, func() error {
				time.Sleep(tc.durations(calls))
				calls++
				return nil
			}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.SamplesMs) != tc.wantRuns || m.Warmup != tc.p.Warmup || calls != tc.p.Warmup+tc.wantRuns {
				t.Fatalf("samples %d (want %d), warmup %d, calls %d", len(m.SamplesMs), tc.wantRuns, m.Warmup, calls)
			}
			for _, s := range m.SamplesMs {
				if s <= 0 {
					t.Fatalf("non-positive sample %v", s)
				}
			}
		})
	}
}

func TestProtocolProbe(t *testing.T) {
	tests := []struct {
		name       string
		p          Protocol
		wantProbes int // timed probe runs
		wantCalls  int // probe calls
	}{
		{"off", Protocol{Warmup: 3, MinRuns: 10, MaxRuns: 10}, 0, 0},
		{"every 5 of 10", Protocol{Warmup: 3, MinRuns: 10, MaxRuns: 10, ProbeEvery: 5}, 3, 3},
		{"every 4 of 10", Protocol{Warmup: 1, MinRuns: 10, MaxRuns: 10, ProbeEvery: 4}, 3, 3},
		{"every 1, no warm-up", Protocol{MinRuns: 3, MaxRuns: 3, ProbeEvery: 1}, 4, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seq []string
			m, err := tc.p.Time(context.Background(), nil, func() error {
				seq = append(seq, "r")
				return nil
			}, func() error {
				seq = append(seq, "p")
				time.Sleep(2 * time.Millisecond) // the probe is slow, the arch fast
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(m.ProbeMs) != tc.wantProbes || strings.Count(strings.Join(seq, ""), "p") != tc.wantCalls {
				t.Fatalf("%d probe samples (want %d), sequence %v", len(m.ProbeMs), tc.wantProbes, seq)
			}
			// Warm-up, the probe, then a probe after every ProbeEvery-th run.
			want := strings.Repeat("r", tc.p.Warmup)
			if tc.p.ProbeEvery > 0 {
				want += "p"
			}
			for i := 1; i <= tc.p.MinRuns; i++ {
				want += "r"
				if tc.p.ProbeEvery > 0 && i%tc.p.ProbeEvery == 0 {
					want += "p"
				}
			}
			if got := strings.Join(seq, ""); got != want || len(m.SamplesMs) != tc.p.MinRuns {
				t.Fatalf("sequence %s with %d samples, want %s with %d", got, len(m.SamplesMs), want, tc.p.MinRuns)
			}
			for _, s := range m.ProbeMs {
				if s < 2 {
					t.Fatalf("probe sample %v ms, want ≥ 2", s)
				}
			}
		})
	}
	boom := errors.New("boom")
	p := Protocol{MinRuns: 4, MaxRuns: 4, ProbeEvery: 2}
	n := 0
	_, err := p.Time(context.Background(), nil, func() error { return nil }, func() error {
		if n++; n == 2 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "probe run 2") {
		t.Errorf("a failing probe: %v", err)
	}
	if err := (Protocol{MinRuns: 1, MaxRuns: 1, ProbeEvery: -1}).Validate(); err == nil || !strings.Contains(err.Error(), "probe_every") {
		t.Errorf("negative probe_every: %v", err)
	}
}

func TestProtocolErrors(t *testing.T) {
	boom := errors.New("boom")
	p := Protocol{Warmup: 2, MinRuns: 3, MaxRuns: 3}
	calls := 0
	if _, err := p.Time(context.Background(), nil, func() error {
		calls++
		if calls == 4 {
			return boom
		}
		return nil
	}, nil); !errors.Is(err, boom) {
		t.Errorf("a failing run: %v", err)
	}
	if _, err := (Protocol{MinRuns: 0, MaxRuns: 1}).Time(context.Background(), nil, func() error { return nil }, nil); err == nil {
		t.Error("invalid protocol accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Time(ctx, nil, func() error { return nil }, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestHostLockSerialises: a second timer waits for the lock, and gives up
// when its context ends.
func TestHostLockSerialises(t *testing.T) {
	lock := NewHostLockAt(filepath.Join(t.TempDir(), "host.lock"))
	if err := lock.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p := Protocol{MinRuns: 1, MaxRuns: 1}
	ran := false
	if _, err := p.Time(ctx, lock, func() error { ran = true; return nil }, nil); !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("timed while another device held the lock: err %v ran %v", err, ran)
	}
	lock.Unlock()
	if _, err := p.Time(context.Background(), lock, func() error { ran = true; return nil }, nil); err != nil || !ran {
		t.Fatalf("after unlock: %v", err)
	}
}

func TestConfigProtocolDefaults(t *testing.T) {
	p := Config{Repeat: 20}.Protocol()
	if p.MinRuns != 20 || p.MaxRuns != DefaultProtocol.MaxRuns || p.Warmup != DefaultProtocol.Warmup {
		t.Errorf("%+v", p)
	}
	if p := (Config{Repeat: 300}).Protocol(); p.MaxRuns != 300 {
		t.Errorf("max runs below min runs: %+v", p)
	}
	if _, err := (Config{Name: "x", Timeout: "soon"}).MeasureTimeout(); err == nil {
		t.Error("bad timeout accepted")
	}
}

func TestConfigTiming(t *testing.T) {
	batch, p, timeout, err := Config{Name: "x"}.Timing()
	if err != nil || batch != 1 || p != DefaultProtocol || timeout != 2*time.Minute {
		t.Errorf("defaults: batch %d protocol %+v timeout %v err %v", batch, p, timeout, err)
	}
	for _, c := range []Config{{Name: "x", Batch: -1}, {Name: "x", Threads: -2}, {Name: "x", Repeat: 10, MaxRepeat: 5}, {Name: "x", Timeout: "later"}} {
		if _, _, _, err := c.Timing(); err == nil || !strings.Contains(err.Error(), "device x") {
			t.Errorf("%+v: error %v, want one naming the device", c, err)
		}
	}
}

func TestProbeRatio(t *testing.T) {
	// window builds samples of an arch 3× the probe's latency on a machine
	// whose speed factor is speed(i) at sample i, with a probe before
	// sample 0 and after every k-th.
	window := func(n, k int, speed func(i int) float64) (samples, probe []float64) {
		probe = append(probe, 2*speed(0))
		for i := range n {
			samples = append(samples, 6*speed(i))
			if (i+1)%k == 0 {
				probe = append(probe, 2*speed(i))
			}
		}
		return samples, probe
	}
	steady := func(int) float64 { return 1 }
	shift := func(i int) float64 { // slowed by 40% for the middle 30 of 50 runs
		if i >= 10 && i < 40 {
			return 1.4
		}
		return 1
	}
	tests := []struct {
		name  string
		n, k  int
		speed func(int) float64
		want  float64
	}{
		{"steady", 50, 10, steady, 3},
		{"a slow spell mid-window", 50, 10, shift, 3},
		{"a last block no probe closed", 55, 10, shift, 3},
		{"probe after every run", 7, 1, steady, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, p := window(tc.n, tc.k, tc.speed)
			if got := ProbeRatio(s, p, tc.k); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("ProbeRatio = %v, want %v", got, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		s, p []float64
		k    int
	}{{"no probe", []float64{1, 2}, nil, 10}, {"no samples", nil, []float64{1}, 10}, {"every 0", []float64{1}, []float64{1}, 0}} {
		if got := ProbeRatio(tc.s, tc.p, tc.k); got != 0 {
			t.Errorf("%s: ProbeRatio = %v, want 0", tc.name, got)
		}
	}
	// The protocol records the interleaving it used.
	m, err := Protocol{MinRuns: 20, MaxRuns: 20, ProbeEvery: 5}.Time(context.Background(), nil,
		func() error { return nil }, func() error { return nil })
	if err != nil || m.ProbeEvery != 5 || len(m.ProbeMs) != 5 {
		t.Errorf("probe_every %d, %d probe runs, %v; want 5, 5", m.ProbeEvery, len(m.ProbeMs), err)
	}
}
