package session

import "testing"

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
