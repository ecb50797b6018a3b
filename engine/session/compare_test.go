package session

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/engine/analysis"
	"blockprof/engine/compare"
	"blockprof/engine/store"
	"blockprof/model"
)

// fillWith writes n uniform plan archs of sp at 224 px on device (one run),
// latency f(arch, i) with three samples around it.
func fillWith(t *testing.T, st *store.Store, sp *model.Space, device string, n int, seed uint64, f func(store.Arch, int) float64) {
	t.Helper()
	ctx := context.Background()
	items, err := sp.Plan(model.PlanSpec{Uniform: n, Resolution: 224, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	var pis []store.PlanItem
	for _, it := range items {
		a, err := store.ArchOf(sp, it.Arch)
		if err != nil {
			t.Fatal(err)
		}
		pis = append(pis, store.PlanItem{Arch: a})
	}
	run, err := st.StartRun(ctx, store.RunInfo{Started: time.Unix(0, 0), Space: sp.Name, PlanSpec: model.PlanSpec{Uniform: n, Resolution: 224}}, pis)
	if err != nil {
		t.Fatal(err)
	}
	cfg := devices.Config{Name: device, Kind: "sim"}
	info := devices.Info{Name: device, Kind: "sim", Provenance: devices.Simulated, Label: "simulated (" + device + ")"}
	if _, err := st.PutDevice(ctx, cfg, info); err != nil {
		t.Fatal(err)
	}
	var ms []store.Measurement
	for i, p := range pis {
		v := f(p.Arch, i)
		ms = append(ms, store.Measurement{Device: device, Arch: p.Arch, Run: run, Kind: store.KindPlan, SamplesMs: []float64{0.99 * v, v, 1.01 * v},
			Provenance: info.Provenance, Fingerprint: devices.Fingerprint(cfg, info), Started: time.Unix(0, 0), Finished: time.Unix(1, 0)})
	}
	if err := st.PutBatch(ctx, ms); err != nil {
		t.Fatal(err)
	}
}

// macsLatency is 1 ms + 1 ms per 100 MMACs, times scale, with a
// reproducible ±2% wobble per arch.
func macsLatency(scale float64, seed uint64) func(store.Arch, int) float64 {
	rng := model.NewRand(seed)
	return func(a store.Arch, _ int) float64 {
		return scale * (1 + float64(a.MACs)/1e8) * (1 + 0.02*(2*rng.Float64()-1))
	}
}

func compareStore(t *testing.T, fills map[string]int) string {
	t.Helper()
	_, sp := testSpace(t)
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	scale := 1.0
	for _, d := range []string{"cpu", "npu", "few"} {
		if n, ok := fills[d]; ok {
			fillWith(t, st, sp, d, n, 5, macsLatency(scale, uint64(len(d))+uint64(scale)))
			scale *= 4
		}
	}
	st.Close()
	return path
}

func TestCompareStoreDevices(t *testing.T) {
	path := compareStore(t, map[string]int{"cpu": 150, "npu": 150})
	s := openSession(t, testConfig(t), path, nil)
	c, err := s.Compare(context.Background(), CompareRequest{Devices: []string{"cpu", "npu"}}, analysis.Options{Boot: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"simulated (cpu)", "simulated (npu)"} {
		if c.Devices[i].Label != want || c.Devices[i].Analysed != 150 {
			t.Errorf("device %d: label %q, %d analysed; want %q from its records, 150", i, c.Devices[i].Label, c.Devices[i].Analysed, want)
		}
	}
	// Both devices are MACs-proportional (npu 4× slower): their effects,
	// on each device's own scale, agree, and they rank archs alike.
	agree, differ, _ := compare.Counts(c.Blocks)
	if differ > agree/10 {
		t.Errorf("%d block cells differ, %d agree, for two MACs-proportional devices", differ, agree)
	}
	if p := c.Pairs[0]; p.Archs != 150 || p.Latency < 0.9 || p.BlockEffect < 0.9 {
		t.Errorf("pair %+v: want 150 shared archs and Spearman ≥ 0.9", p)
	}
	// By default the suggestions trade latency against what Suggest uses
	// by default, the space's accuracy source (proxy here), so the explorer,
	// compare and analyze --suggest cut alike.
	q, err := s.Analyze(context.Background(), SeriesRequest{Metric: MetricAccuracy}, analysis.Options{Boot: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if c.QualityMetric != q.Series.Metric || c.Quality == "" {
		t.Errorf("quality %q/%q, want the accuracy source's %q by default", c.QualityMetric, c.Quality, q.Series.Metric)
	}
	if c.Points[0].Quality == nil {
		t.Error("the shared archs carry no quality for the worst-device plot")
	}
	// Each device's suggestion comes from the session's own rule; the
	// common cuts are the ones every device suggested.
	if len(c.PerDevice) != 2 {
		t.Fatalf("%d per-device suggestions", len(c.PerDevice))
	}
	sp := c.Common.Space()
	for u := 1; u <= len(sp.Units); u++ {
		for _, b := range sp.Units[u-1].Blocks {
			all := c.PerDevice[0].Cuts.Pruned(u, b.Key()) && c.PerDevice[1].Cuts.Pruned(u, b.Key())
			if c.Common.Pruned(u, b.Key()) != all {
				t.Errorf("unit %d block %s: common %v, on every device %v", u, b.Key(), !all, all)
			}
		}
	}
	if got := c.CommonModel.Device; got != "cpu,npu" {
		t.Errorf("common reduced space device %q", got)
	}
}

func TestCompareStoreErrors(t *testing.T) {
	path := compareStore(t, map[string]int{"cpu": 120, "npu": 120, "few": 6})
	s := openSession(t, testConfig(t), path, nil)
	opt := analysis.Options{Boot: 20, Seed: 1}
	for _, tc := range []struct {
		name    string
		devices []string
		want    string
	}{
		{"one", []string{"cpu"}, "two or more devices (got 1)"},
		{"unknown", []string{"cpu", "gpu"}, `device gpu: store ` + path + ` has no device "gpu" (devices: `},
		{"too few", []string{"cpu", "few"}, "device few: too few records for the effects (6 analysed of 6)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Compare(context.Background(), CompareRequest{Devices: tc.devices}, opt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}
