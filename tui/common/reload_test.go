package common

import (
	"testing"
	"time"
)

func TestReload(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	r := Reload{Cooldown: 2 * time.Second, Now: clock}
	if r.Due(false) || r.Due(true) {
		t.Fatal("a fresh, inactive, clean view is due")
	}
	r.Active, r.Stale = true, true
	if !r.Due(false) {
		t.Fatal("a stale active view that never loaded is not due")
	}
	r, gen := r.Begin()
	if r.Stale || !r.Loading || gen != 1 || !r.Loaded.Equal(now) {
		t.Fatalf("after Begin: %+v gen %d", r, gen)
	}
	r.Stale = true // new data while loading
	if r.Due(true) {
		t.Error("due while a load is in flight")
	}
	r, ok := r.Answer(gen)
	if !ok || r.Loading {
		t.Fatalf("the current answer was dropped: %+v", r)
	}
	if r.Due(false) {
		t.Error("due before the cooldown")
	}
	if !r.Due(true) {
		t.Error("not due when forced (the run ended)")
	}
	now = now.Add(2 * time.Second)
	if !r.Due(false) {
		t.Error("not due after the cooldown")
	}
	r, g1 := r.Begin()
	r, g2 := r.Begin()
	if _, ok := r.Answer(g1); ok {
		t.Error("a superseded answer was taken")
	}
	if r, ok = r.Answer(g2); !ok || r.Loading {
		t.Error("the latest answer was dropped")
	}
	r.Active = false
	r.Stale = true
	if r.Due(true) {
		t.Error("an inactive view is due")
	}
}
