package session

import (
	"fmt"
	"runtime/debug"
	"testing"

	"blockprof/engine/accuracy"
)

func TestStrideKeepsObservationsWithinMaxObs(t *testing.T) {
	for _, n := range []int{0, 1, MaxObs - 1, MaxObs, MaxObs + 1, 100000, 1234567} {
		step := stride(n)
		kept := (n + step - 1) / step
		if kept > MaxObs {
			t.Errorf("n=%d: step %d keeps %d > %d", n, step, kept, MaxObs)
		}
		if n <= MaxObs && step != 1 {
			t.Errorf("n=%d ≤ MaxObs subsampled with step %d", n, step)
		}
	}
}

// TestScoresBounded: the scorer keeps at most maxScores scores, however
// many archs a session scores, and returns the last one it remembered.
func TestScoresBounded(t *testing.T) {
	var s scorer
	for i := 0; i < maxScores+100; i++ {
		key := fmt.Sprint("arch", i)
		s.remember(key, accuracy.Value{Top1: float64(i), Provenance: "proxy"})
		if v, ok := s.cached(key); !ok || v.Top1 != float64(i) {
			t.Fatalf("cached(%s) = %v, %v after remember", key, v, ok)
		}
		if len(s.cache) > maxScores {
			t.Fatalf("%d scores kept after %d, want at most %d", len(s.cache), i+1, maxScores)
		}
	}
}

// TestTighterGCRestores: the host lock's GOGC is lowered and put back, and
// a lower setting or GOGC=off is left alone.
func TestTighterGCRestores(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)
	for _, tc := range []struct{ set, under int }{{100, exclusiveGCPercent}, {200, exclusiveGCPercent}, {30, 30}, {-1, -1}} {
		debug.SetGCPercent(tc.set)
		restore := tighterGC()
		if got := debug.SetGCPercent(tc.under); got != tc.under {
			t.Errorf("GOGC %d: %d under the lock, want %d", tc.set, got, tc.under)
		}
		restore()
		if got := debug.SetGCPercent(tc.set); got != tc.set {
			t.Errorf("GOGC %d: %d after, want it back", tc.set, got)
		}
	}
}
