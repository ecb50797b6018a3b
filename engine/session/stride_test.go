package session

import (
	"fmt"
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
