package session

import (
	"fmt"
	"testing"

	"blockprof/engine/accuracy"
	"blockprof/model"
	"blockprof/model/modeltest"
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

// TestPlanCacheBounded: the cache of parsed archs holds at most MaxObs of
// them, however many a session parses, and still returns each one right.
func TestPlanCacheBounded(t *testing.T) {
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	rng := model.NewRand(1)
	var p planCache
	for i := 0; i < MaxObs+100; i++ {
		want := sp.Sample(rng, 224)
		got, err := p.parse(sp, want.String())
		if err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("parse(%s) = %s", want, got)
		}
		if len(p.archs) > MaxObs {
			t.Fatalf("%d archs cached after %d parses, want at most %d", len(p.archs), i+1, MaxObs)
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
