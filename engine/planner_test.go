package engine

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/replay"
	"blockprof/engine/store"
	"blockprof/model"
	"blockprof/model/modeltest"
)

// planner is a fake device that can only measure the archs it offers.
type planner struct {
	*fake
	offer []model.PlanItem
}

func (p *planner) Plan(sp *model.Space) ([]model.PlanItem, error) { return p.offer, nil }

func (p *planner) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	if !slices.ContainsFunc(p.offer, func(it model.PlanItem) bool { return it.Arch.String() == net.Arch }) {
		// Not devices.ErrTransient: it counts toward failing the device.
		return devices.Measurement{}, os.ErrNotExist
	}
	return p.fake.Measure(ctx, net)
}

// TestPlannerMeasuresItsOwnPlan: a device that offers its own plan measures
// exactly that (at the run's resolution, or all of it when it holds nothing
// there) and no reference; the other devices measure the sampled plan.
func TestPlannerMeasuresItsOwnPlan(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	rng := model.NewRand(11)
	fix := model.Fix{Unit: 3, Layer: 0, Block: model.Block{K: 5, E: 4}}
	fixed := sp.Sample(rng, 224)
	for j := range fixed.Units[2] {
		fixed.Units[2][j] = fix.Block
	}
	offer := []model.PlanItem{{Arch: sp.Sample(rng, 160)}, {Arch: sp.Sample(rng, 160)}, {Arch: sp.Sample(rng, 224)}, {Arch: fixed, Fix: &fix}}
	tests := []struct {
		name    string
		res     int
		want    []model.PlanItem
		warning string
	}{
		{name: "at the plan's resolution", res: 160, want: offer[:2]},
		{name: "none at the plan's resolution", res: 192, want: offer, warning: "device rec holds no arch of ofa-mbv3-w1.0 at 192 px, only at [160 224]: it measures all 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ps := model.PlanSpec{Uniform: 5, Resolution: tc.res, Seed: 3}
			plan, err := sp.Plan(ps)
			if err != nil {
				t.Fatal(err)
			}
			st := openStore(t, "")
			rec := &planner{fake: &fake{name: "rec"}, offer: offer}
			cpu := &fake{name: "cpu"}
			opts := fastOptions()
			opts.ReferenceEvery = 2
			r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Store: st, Options: opts,
				Targets: []Target{{Device: rec}, {Device: cpu}}})
			if err != nil {
				t.Fatal(err)
			}
			if w := strings.Join(r.Warnings(), "\n"); !strings.Contains(w, tc.warning) || (tc.warning == "") != (w == "") {
				t.Errorf("warnings %q, want %q", w, tc.warning)
			}
			if err := r.Start(ctx); err != nil {
				t.Fatal(err)
			}
			sum := r.Wait()
			want := distinct(tc.want)
			if calls := rec.Calls(); !sameSet(calls, want) || len(calls) != len(want) {
				t.Errorf("rec measured %v, want its own plan %v and no reference", calls, want)
			}
			if calls := cpu.Calls(); !sameSet(calls, append(distinct(plan), r.ref.canon)) {
				t.Errorf("cpu measured %v, want the sampled plan and the reference", calls)
			}
			for _, d := range sum.Devices {
				n := map[string]int{"rec": len(want), "cpu": len(plan)}[d.Device]
				if d.State != StateDone || d.Total != n || d.Measured != n || d.Errors != 0 {
					t.Errorf("%s: %+v, want %d of %d measured, no error", d.Device, d, n, n)
				}
			}
			if fixes := planFixes(t, st, "rec"); tc.res == 192 && fixes[fixed.String()] != "u3.l0=e4k5" {
				t.Errorf("the recorded whole-unit fix is not stored with its arch: %v", fixes)
			}
		})
	}
}

// planFixes maps each arch measured on device to its plan role.
func planFixes(t *testing.T, st *store.Store, device string) map[string]string {
	t.Helper()
	recs, err := st.Query(context.Background(), store.Query{Device: device, Kind: store.KindPlan})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range recs {
		out[r.Arch] = r.Fix
	}
	return out
}

// TestReplayDeviceProfilesItsRecording profiles the shared H100 recording
// (the README's h100-graph device) with a sampled plan: every recorded arch
// is measured, none fails, and the recording's whole-unit fixes label them.
func TestReplayDeviceProfilesItsRecording(t *testing.T) {
	ctx := context.Background()
	spaces := modeltest.Spaces(t)
	sp, err := spaces.Get("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(modeltest.SharedData(t), "h100-ofa-mbv3-w1.0.jsonl")
	dev, err := replay.Open(devices.Config{Name: "h100-graph", Kind: "replay", Key: "gpu-b1-fp32-graph"}, file, spaces)
	if err != nil {
		t.Fatalf("the shared data (see the README's h100-graph device): %v", err)
	}
	recorded := dev.Archs()
	ps := model.PlanSpec{Uniform: 4, Resolution: 224, Seed: 3}
	plan, err := sp.Plan(ps)
	if err != nil {
		t.Fatal(err)
	}
	st := openStore(t, "")
	opts := fastOptions()
	opts.ReferenceEvery = 25
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Store: st, Options: opts,
		Targets: []Target{{Device: dev, Config: devices.Config{Name: "h100-graph", Kind: "replay"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	sum := r.Wait()
	d := sum.Devices[0]
	if d.State != StateDone || d.Failed || d.Errors != 0 || d.Total != len(recorded) || d.Measured != len(recorded) || d.References != 0 {
		t.Fatalf("summary %+v, want all %d recorded archs measured, no error, no reference", d, len(recorded))
	}
	fixes := planFixes(t, st, "h100-graph")
	if len(fixes) != len(recorded) {
		t.Errorf("store holds %d archs of h100-graph, the recording %d", len(fixes), len(recorded))
	}
	for _, rec := range dev.Recording().Records {
		f, ok := fixes[rec.Canon]
		uniform := len(rec.Fixed) == 0 || string(rec.Fixed) == "null"
		switch {
		case !ok:
			t.Errorf("line %d: %s not stored", rec.Line, rec.Canon)
		case uniform && f != "":
			t.Errorf("line %d: uniform arch stored with fix %q", rec.Line, f)
		case !uniform && !strings.Contains(f, ".l0="):
			t.Errorf("line %d: fixed %s stored with fix %q, want a whole-unit fix", rec.Line, rec.Fixed, f)
		}
	}
	errs, err := st.Count(ctx, store.Query{Device: "h100-graph", Errors: true})
	if err != nil || errs != 0 {
		t.Errorf("%d failed attempts stored (%v)", errs, err)
	}
}
