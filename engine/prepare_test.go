package engine

import (
	"context"
	"slices"
	"sync"
	"testing"

	"blockprof/devices"
	"blockprof/model"
)

// preparer is a fake device that prepares ahead (devices.Preparer).
type preparer struct {
	fake
	pmu      sync.Mutex
	prepared []string
	// order interleaves "prepare ARCH" and "measure ARCH".
	order []string
}

func (p *preparer) Prepare(_ context.Context, net *model.Network) {
	p.pmu.Lock()
	defer p.pmu.Unlock()
	p.prepared = append(p.prepared, net.Arch)
	p.order = append(p.order, "prepare "+net.Arch)
}

func (p *preparer) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	p.pmu.Lock()
	p.order = append(p.order, "measure "+net.Arch)
	p.pmu.Unlock()
	return p.fake.Measure(ctx, net)
}

// TestWorkerPreparesTheNextArch: a device that prepares ahead is handed
// each plan arch but the first before the previous one is measured, and
// nothing after the last.
func TestWorkerPreparesTheNextArch(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 5, 0)
	st := openStore(t, "")
	p := &preparer{fake: fake{name: "p"}}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, ConfigFile: "x.toml", Version: "test",
		Targets: []Target{{Device: p, Config: devices.Config{Name: "p", Kind: "sim"}}}, Store: st, Options: fastOptions()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	r.Wait()
	measured := p.Calls()
	if len(measured) != len(distinct(plan)) {
		t.Fatalf("measured %d archs, want %d", len(measured), len(distinct(plan)))
	}
	var plans []string
	for _, a := range measured {
		if slices.Contains(distinct(plan), a) {
			plans = append(plans, a)
		}
	}
	// Each plan arch after the first is prepared just before the one
	// ahead of it is measured.
	for i := 1; i < len(plans); i++ {
		at := slices.Index(p.order, "measure "+plans[i-1])
		if at < 1 || p.order[at-1] != "prepare "+plans[i] {
			t.Errorf("before measuring %s: %v, want prepare %s", plans[i-1], p.order[max(at-1, 0)], plans[i])
		}
	}
	if slices.Contains(p.prepared, plans[0]) && slices.Index(p.prepared, plans[0]) == 0 {
		t.Errorf("the first arch was prepared: %v", p.prepared)
	}
	if len(p.prepared) != len(plans)-1 {
		t.Errorf("prepared %d archs, want %d: %v", len(p.prepared), len(plans)-1, p.prepared)
	}
}
