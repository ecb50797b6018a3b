package engine

import (
	"math"
	"testing"
	"time"

	"blockprof/engine/store"
)

// TestNormalizeRemovesDrift: a device that slows linearly by 20% over the run
// measures three archs of true latency 10, 12, 14 ms; normalising by the
// reference recovers them.
func TestNormalizeRemovesDrift(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	slow := func(s float64) float64 { return 1 + 0.2*s/100 } // s seconds into the run
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	rec := func(s, v float64) store.Record {
		return store.Record{Started: at(s), Finished: at(s), Median: v * slow(s)}
	}
	refs := []store.Record{rec(0, 5), rec(50, 5), rec(100, 5)}
	recs := []store.Record{rec(10, 10), rec(60, 12), rec(95, 14), rec(120, 14)}
	got := Normalize(recs, refs)
	want := []float64{10, 12, 14, 14 * slow(120) / slow(100)}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 0.02 {
			t.Errorf("record %d: normalised %.4f, want %.4f", i, got[i], want[i])
		}
	}
	if raw := Normalize(recs, nil); raw[1] != recs[1].Median {
		t.Errorf("without references the medians must stay: %v", raw)
	}
}
