package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/engine/store"
)

// TestKindChangeMeasuresAgain: a device "cpu" profiled as kind sim (40
// simulated records), then configured as kind ort under the same name.
// The simulated records must not count as done for the ort device: it is
// warned about, estimated without their history, and measures all 40
// again; a third run with the ort device resumes everything; going back
// to sim finds its own records again.
func TestKindChangeMeasuresAgain(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 40, 0)
	canons := distinct(plan)
	if len(canons) != 40 {
		t.Fatalf("the plan has %d distinct archs, want 40", len(canons))
	}
	st := openStore(t, "")
	spec := func(tg Target) Spec {
		return Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: []Target{tg}, Store: st, Options: fastOptions()}
	}

	simDev := &fake{name: "cpu"}
	simCfg := devices.Config{Name: "cpu", Kind: "sim", Sim: devices.SimConfig{Preset: "npu"}}
	r1, err := Start(ctx, spec(Target{Device: simDev, Config: simCfg}))
	if err != nil {
		t.Fatal(err)
	}
	if s := r1.Wait(); s.Devices[0].Measured != 40 || len(r1.Warnings()) != 0 || r1.Stale("cpu") != nil {
		t.Fatalf("sim run: %+v, warnings %q, stale %+v", s.Devices[0], r1.Warnings(), r1.Stale("cpu"))
	}

	// The same name, now kind ort. The arch of median MACs fails once, so
	// that a failed attempt is stored too (Estimate times the smallest and
	// the largest).
	byMACs := slices.Clone(canons)
	macs := map[string]int64{}
	for _, p := range plan {
		net, err := sp.Network(p.Arch)
		if err != nil {
			t.Fatal(err)
		}
		macs[p.Arch.String()] = net.MACs()
	}
	slices.SortFunc(byMACs, func(a, b string) int { return int(min(max(macs[a]-macs[b], -1), 1)) })
	failing := byMACs[len(byMACs)/2]
	ortInfo := devices.Info{Kind: "ort", Runtime: "onnxruntime", Version: "1.22.0", Hardware: "cpu A", Threads: 1, Precision: "fp32", Batch: 1,
		Provenance: devices.Measured, Label: "measured", Local: true}
	ortDev := &fake{name: "cpu", info: &ortInfo, fail: func(_ int, arch string) error {
		if arch == failing {
			return errors.New("the runtime rejected the model")
		}
		return nil
	}}
	ortCfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Optimization: "all"}
	fpSim, fpOrt := devices.Fingerprint(simCfg, simDev.Info()), devices.Fingerprint(ortCfg, ortDev.Info())
	if fpSim == fpOrt {
		t.Fatalf("sim and ort share the fingerprint %q", fpSim)
	}
	r2, err := Prepare(ctx, spec(Target{Device: ortDev, Config: ortCfg}))
	if err != nil {
		t.Fatal(err)
	}
	if p := r2.Progress()[0]; p.Resumed != 0 || p.Done != 0 || p.Total != 40 {
		t.Errorf("ort device resumes %d, done %d of %d; want 0 of 40", p.Resumed, p.Done, p.Total)
	}
	if done, err := st.Done(ctx, "cpu", fpOrt, canons); err != nil || len(done) != 0 {
		t.Errorf("Done under the ort fingerprint = %d archs, %v; want 0", len(done), err)
	}
	if got, want := r2.Stale("cpu"), []store.StaleGroup{{Fingerprint: fpSim, Provenance: devices.Simulated, Count: 40}}; !slices.Equal(got, want) {
		t.Errorf("Stale = %+v, want %+v", got, want)
	}
	wantWarning := fmt.Sprintf("device cpu: 40 records were taken with other settings (%s, recorded as simulated); they are kept but no longer count: this run measures those archs again", fpSim)
	if !slices.Contains(r2.Warnings(), wantWarning) {
		t.Errorf("warnings %q\nwant among them %q", r2.Warnings(), wantWarning)
	}
	if !slices.ContainsFunc(r2.Warnings(), func(w string) bool { return strings.Contains(w, `Kind: "sim" → "ort"`) }) {
		t.Errorf("warnings %q do not say the kind changed", r2.Warnings())
	}
	est, err := r2.Estimate(ctx)
	if err != nil || est.Devices[0].Err != nil || !strings.HasPrefix(est.Devices[0].Basis, "timed 2 archs") {
		t.Errorf("estimate %+v, %v; want one that times 2 archs, not the simulated history", est, err)
	}
	events := collect(r2.Subscribe(ctx))
	if err := r2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s2 := r2.Wait()
	if got := ortDev.Calls(); len(got) != 40 || !sameSet(got, canons) {
		t.Errorf("ort device measured %d archs, want the 40 of the plan", len(got))
	}
	if d := s2.Devices[0]; d.Measured != 39 || d.Errors != 1 || d.Resumed != 0 {
		t.Errorf("ort run: %+v", d)
	}
	for _, e := range events() {
		if m, ok := e.(Measured); ok && m.Provenance != devices.Measured {
			t.Errorf("Measured event with provenance %q", m.Provenance)
		}
	}
	counts := []struct {
		q    store.Query
		want int
		prov devices.Provenance
	}{
		{store.Query{Device: "cpu", Kind: store.KindPlan, Fingerprint: fpSim}, 40, devices.Simulated},
		{store.Query{Device: "cpu", Kind: store.KindPlan, Fingerprint: fpOrt}, 39, devices.Measured},
		{store.Query{Device: "cpu", Kind: store.KindPlan, Fingerprint: fpOrt, Errors: true}, 1, devices.Measured},
	}
	for _, c := range counts {
		recs, err := st.Query(ctx, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != c.want {
			t.Errorf("%+v: %d records, want %d", c.q, len(recs), c.want)
		}
		for _, r := range recs {
			if r.Provenance != c.prov {
				t.Errorf("%+v: a record of %s with provenance %q, want %q", c.q, r.Arch, r.Provenance, c.prov)
			}
		}
	}

	// A third run of the ort device, whose Info grew since it was opened
	// (as an agent's does after its hello): with the fingerprint computed
	// at open it resumes the 39 and retries the failed arch only.
	grown := ortInfo
	grown.Hardware = "cpu A, seen after the first hello"
	third := &fake{name: "cpu", info: &grown}
	r3, err := Start(ctx, spec(Target{Device: third, Config: ortCfg, Fingerprint: fpOrt}))
	if err != nil {
		t.Fatal(err)
	}
	r3.Wait()
	if got := third.Calls(); !slices.Equal(got, []string{failing}) {
		t.Errorf("third run measured %v, want only the failed %s", got, failing)
	}
	wantWarning = fmt.Sprintf("device cpu: 40 records were taken with other settings (%s, recorded as simulated); they are kept but no longer count: this run measures 1 of their 40 archs again", fpSim)
	if !slices.Contains(r3.Warnings(), wantWarning) {
		t.Errorf("warnings %q\nwant among them %q", r3.Warnings(), wantWarning)
	}

	// Back to sim: its own 40 records count again; the ort ones are stale.
	back := &fake{name: "cpu"}
	r4, err := Start(ctx, spec(Target{Device: back, Config: simCfg}))
	if err != nil {
		t.Fatal(err)
	}
	r4.Wait()
	if n := len(back.Calls()); n != 0 {
		t.Errorf("back to sim: measured %d archs, want none", n)
	}
	wantWarning = fmt.Sprintf("device cpu: 40 records were taken with other settings (%s, recorded as measured); they are kept but no longer count: this run has none of their archs left to measure", fpOrt)
	if !slices.Contains(r4.Warnings(), wantWarning) {
		t.Errorf("warnings %q\nwant among them %q", r4.Warnings(), wantWarning)
	}
	if got, want := r4.Stale("cpu"), []store.StaleGroup{{Fingerprint: fpOrt, Provenance: devices.Measured, Count: 40}}; !slices.Equal(got, want) {
		t.Errorf("back to sim: Stale = %+v, want %+v", got, want)
	}
	if r4.Stale("gpu") != nil {
		t.Error("Stale of a device not in the run is not nil")
	}
}

// TestPrepareRefusesNoProvenance: a device that does not say what its
// numbers are is an error before anything is recorded, never "measured"
// by default.
func TestPrepareRefusesNoProvenance(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 3, 0)
	st := openStore(t, "")
	dev := &fake{name: "mystery", info: &devices.Info{Kind: "ort"}}
	_, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(&fake{name: "ok"}, dev), Store: st, Options: fastOptions()})
	if err == nil || !strings.Contains(err.Error(), "device mystery reported no provenance") {
		t.Fatalf("err = %v, want one saying the device reported no provenance", err)
	}
	if runs, err := st.Runs(ctx); err != nil || len(runs) != 0 {
		t.Errorf("runs %+v, %v; want none recorded", runs, err)
	}
	if len(dev.Calls()) != 0 {
		t.Error("the device was measured")
	}
}

func TestStaleText(t *testing.T) {
	sim := store.StaleGroup{Fingerprint: "kind=sim preset=npu", Provenance: devices.Simulated, Count: 40}
	legacy := store.StaleGroup{Fingerprint: "legacy: recorded as measured before fingerprints", Provenance: devices.Measured, Count: 3}
	tests := []struct {
		groups       []store.StaleGroup
		again, archs int
		want         string
	}{
		{[]store.StaleGroup{sim}, 40, 40,
			"device cpu: 40 records were taken with other settings (kind=sim preset=npu, recorded as simulated); they are kept but no longer count: this run measures those archs again"},
		{[]store.StaleGroup{sim}, 5, 38,
			"device cpu: 40 records were taken with other settings (kind=sim preset=npu, recorded as simulated); they are kept but no longer count: this run measures 5 of their 38 archs again"},
		{[]store.StaleGroup{legacy}, 0, 3,
			"device cpu: 3 records were taken with other settings (legacy: recorded as measured before fingerprints); they are kept but no longer count: this run has none of their archs left to measure"},
		{[]store.StaleGroup{sim, legacy}, 43, 43,
			"device cpu: 43 records were taken with other settings (40 under kind=sim preset=npu, recorded as simulated; 3 under legacy: recorded as measured before fingerprints); they are kept but no longer count: this run measures those archs again"},
	}
	for _, tt := range tests {
		if got := staleText("cpu", tt.groups, tt.again, tt.archs); got != tt.want {
			t.Errorf("staleText(%+v, %d, %d) =\n  %s\nwant\n  %s", tt.groups, tt.again, tt.archs, got, tt.want)
		}
	}
}
