package devices

import (
	"context"
	"errors"
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
			})
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
	}); !errors.Is(err, boom) {
		t.Errorf("a failing run: %v", err)
	}
	if _, err := (Protocol{MinRuns: 0, MaxRuns: 1}).Time(context.Background(), nil, func() error { return nil }); err == nil {
		t.Error("invalid protocol accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Time(ctx, nil, func() error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// TestHostLockSerialises: a second timer waits for the lock, and gives up
// when its context ends.
func TestHostLockSerialises(t *testing.T) {
	lock := NewHostLock()
	if err := lock.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	p := Protocol{MinRuns: 1, MaxRuns: 1}
	ran := false
	if _, err := p.Time(ctx, lock, func() error { ran = true; return nil }); !errors.Is(err, context.DeadlineExceeded) || ran {
		t.Fatalf("timed while another device held the lock: err %v ran %v", err, ran)
	}
	lock.Unlock()
	if _, err := p.Time(context.Background(), lock, func() error { ran = true; return nil }); err != nil || !ran {
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
