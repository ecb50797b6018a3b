package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/devices/sim"
	"blockprof/engine"
	"blockprof/engine/accuracy"
	"blockprof/engine/analysis"
	"blockprof/engine/search"
	"blockprof/engine/store"
	"blockprof/model"
	"blockprof/tui/export"
	"blockprof/tui/friendliness"
	paretoview "blockprof/tui/pareto"
)

type fixture struct {
	app    *App
	run    *engine.Run
	st     *store.Store
	sp     *model.Space
	spaces *model.Spaces
}

// profiled runs a small plan on a simulated NPU into a fresh store: 60
// uniform archs and one A_{u,l,b} per location.
func profiled(t *testing.T) fixture {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	spaces, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := spaces.Get("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "results.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := sim.Presets()["npu"]
	p.Runs = 3
	dev, err := sim.New("npu", "", p)
	if err != nil {
		t.Fatal(err)
	}
	spec := model.PlanSpec{Uniform: 60, PerLocation: 1, Resolution: 160, Seed: 3}
	plan, err := sp.Plan(spec)
	if err != nil {
		t.Fatal(err)
	}
	run, err := engine.Prepare(ctx, engine.Spec{Space: sp, Plan: plan, PlanSpec: spec, Store: st,
		Targets: []engine.Target{{Device: dev}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-run.Done():
	case <-time.After(2 * time.Minute):
		t.Fatal("the run did not finish")
	}
	a, err := New(ctx, Config{Space: sp, Store: st, Run: run, Accuracy: accuracy.NewProxy(sp),
		Search: search.Options{Initial: 12, Children: 12, Generations: 2}, Seeds: []uint64{1, 2},
		Analysis: analysis.Options{Boot: 200, Seed: 1}, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{app: a, run: run, st: st, sp: sp, spaces: spaces}
}

func TestApp(t *testing.T) {
	f := profiled(t)
	ctx := context.Background()
	a, sp := f.app, f.sp

	t.Run("devices", func(t *testing.T) {
		devs := a.Devices()
		if len(devs) != 1 || devs[0].Name != "npu" || devs[0].Kind != "sim" || devs[0].Measured() || !strings.Contains(devs[0].Source(), "simulated") {
			t.Errorf("devices %+v", devs)
		}
		if !a.Live() || a.Space() != sp {
			t.Error("live run or space lost")
		}
	})

	t.Run("events", func(t *testing.T) {
		// The run is over: a new subscriber still gets every device's
		// latest progress and the run's end, then the stream closes.
		var done, prog bool
		for ev := range a.Events(ctx) {
			switch e := ev.(type) {
			case engine.RunDone:
				done = true
			case engine.Progress:
				prog = prog || e.Device == "npu" && e.State == engine.StateDone
			}
		}
		if !done || !prog {
			t.Errorf("replayed progress %v, run done %v", prog, done)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		var names []string
		for _, m := range a.Metrics() {
			names = append(names, m.Name)
		}
		if !slices.Equal(names, []string{"latency", "proxy", "macs", "params"}) {
			t.Errorf("metrics %v", names)
		}
	})

	t.Run("latency table", func(t *testing.T) {
		tb, err := a.Table(ctx, "npu", "latency")
		if err != nil {
			t.Fatal(err)
		}
		if tb.Uniform != 60 || tb.Fixed != len(sp.Locations()) || tb.Resolution != 160 || !strings.Contains(tb.Label, "simulated") {
			t.Errorf("table: %d uniform, %d fixed, R%d, label %q", tb.Uniform, tb.Fixed, tb.Resolution, tb.Label)
		}
		// The numbers are the analysis' own, from the store's records.
		recs, err := f.st.Query(ctx, store.Query{Device: "npu", Kind: store.KindPlan, Latest: true})
		if err != nil {
			t.Fatal(err)
		}
		var obs []analysis.Obs
		for _, r := range recs {
			arch, err := sp.ParseArch(r.Arch)
			if err != nil {
				t.Fatal(err)
			}
			fix, err := store.ParseFix(r.Fix)
			if err != nil {
				t.Fatal(err)
			}
			obs = append(obs, analysis.Obs{Arch: arch, Fix: fix, Value: r.Median})
		}
		rep, err := analysis.Analyze(analysis.Series{Space: sp, Device: "npu", Metric: "latency", Unit: "ms", Obs: obs}, analysis.Options{Boot: 200, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		for u := range sp.Units {
			for _, b := range sp.Units[u].Blocks {
				want, ok := rep.BlockEffectOf(u+1, b.Key())
				v := tb.Cells[friendliness.Key{Unit: u + 1, Block: b.Key()}][friendliness.StatRegression]
				if !ok || v == nil || v.Value != want.Value || v.Lo != want.Lo {
					t.Fatalf("unit %d %s: cell %+v, analysis %+v", u+1, b.Key(), v, want)
				}
				if v.Support == 0 {
					t.Errorf("unit %d %s: no support", u+1, b.Key())
				}
			}
		}
		// Layer cells carry Eq. 2 and 3 from one sample each: all marked few.
		k := friendliness.Key{Unit: 2, Layer: 1, Block: "e6k7"}
		c := tb.Cells[k]
		if c[friendliness.StatMean] == nil || c[friendliness.StatP5] == nil || c[friendliness.StatP95] == nil || !c[friendliness.StatMean].Few {
			t.Errorf("layer cell %v", c)
		}
		// The simulated NPU runs kernel 7 three times slower: in every
		// unit, e6k7 costs more than e6k3.
		for u := 1; u <= len(sp.Units); u++ {
			k7 := tb.Cells[friendliness.Key{Unit: u, Block: "e6k7"}][friendliness.StatRegression]
			k3 := tb.Cells[friendliness.Key{Unit: u, Block: "e6k3"}][friendliness.StatRegression]
			if k7.Value <= k3.Value {
				t.Errorf("unit %d: e6k7 %+.3f ms ≤ e6k3 %+.3f ms", u, k7.Value, k3.Value)
			}
		}
		if len(tb.DepthEffects) == 0 {
			t.Error("no depth effects")
		}
	})

	t.Run("device-free metrics", func(t *testing.T) {
		for _, m := range []string{"macs", "proxy"} {
			tb, err := a.Table(ctx, "npu", m)
			if err != nil {
				t.Fatal(err)
			}
			if tb.Uniform != 60 || len(tb.Cells) == 0 {
				t.Errorf("%s: %d uniform, %d cells", m, tb.Uniform, len(tb.Cells))
			}
			if m == "proxy" && (tb.Label != "proxy" || !tb.Metric.HigherIsBetter) {
				t.Errorf("proxy table labelled %q", tb.Label)
			}
		}
		if _, err := a.Table(ctx, "gpu", "latency"); err == nil {
			t.Error("no error for an unknown device")
		}
	})

	t.Run("details", func(t *testing.T) {
		k := friendliness.Key{Unit: 3, Block: "e4k5"}
		d, err := a.Details(ctx, "npu", "latency", k, friendliness.StatRegression)
		if err != nil {
			t.Fatal(err)
		}
		if d.Total == 0 || d.Total != d.Value.Support || len(d.Archs) != d.Total {
			t.Fatalf("%d archs, support %d", d.Total, d.Value.Support)
		}
		for _, av := range d.Archs {
			arch, err := sp.ParseArch(av.Arch)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.ContainsFunc(arch.Units[2], func(b model.Block) bool { return b.Key() == "e4k5" }) {
				t.Errorf("%s does not hold e4k5 in unit 3", av.Arch)
			}
		}
		if !slices.IsSortedFunc(d.Archs, func(x, y friendliness.ArchValue) int {
			switch {
			case x.Value < y.Value:
				return -1
			case x.Value > y.Value:
				return 1
			}
			return 0
		}) {
			t.Error("archs not sorted by value")
		}
		d, err = a.Details(ctx, "npu", "latency", friendliness.Key{Unit: 3, Layer: 2, Block: "e4k5"}, friendliness.StatMean)
		if err != nil {
			t.Fatal(err)
		}
		if d.Total != 1 || !strings.Contains(d.Role, "A_{u,l,b}") {
			t.Errorf("Eq. 2 details: %d archs, role %q", d.Total, d.Role)
		}
	})

	t.Run("suggest", func(t *testing.T) {
		r, err := a.Suggest(ctx, "npu", "latency")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			t.Logf("no suggestion: %v", err)
			return
		}
		if _, err := r.ApplyTo(sp); err != nil {
			t.Errorf("suggestion does not apply: %v", err)
		}
	})

	t.Run("points", func(t *testing.T) {
		d, err := a.Points(ctx, "npu")
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Points) == 0 || len(d.Front) == 0 || d.AccuracyName != "proxy score" || d.AccuracyLabel != "proxy" {
			t.Fatalf("%d points, front %d, %q [%q]", len(d.Points), len(d.Front), d.AccuracyName, d.AccuracyLabel)
		}
		seen := map[string]bool{}
		for _, p := range d.Points {
			if seen[p.Arch] {
				t.Fatalf("%s listed twice", p.Arch)
			}
			seen[p.Arch] = true
		}
		for i := 1; i < len(d.Front); i++ {
			a, b := d.Points[d.Front[i-1]], d.Points[d.Front[i]]
			if a.Latency > b.Latency || a.Accuracy >= b.Accuracy {
				t.Errorf("front not increasing: %+v then %+v", a, b)
			}
		}
	})

	t.Run("search", func(t *testing.T) {
		red := model.ReductionOf(sp, "no-k7")
		for i := 1; i < len(red.Units); i++ {
			red.Units[i].Blocks = slices.DeleteFunc(red.Units[i].Blocks, func(k string) bool { return strings.HasSuffix(k, "k7") })
		}
		ch, err := a.Search(ctx, paretoview.SearchRequest{Device: "npu", Reduction: red})
		if err != nil {
			t.Fatal(err)
		}
		var updates int
		var res *paretoview.SearchResult
		for u := range ch {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			if u.Result != nil {
				res = u.Result
				continue
			}
			updates++
		}
		// 2 spaces × 2 seeds × 3 reports (initial + 2 generations).
		if updates != 12 || res == nil {
			t.Fatalf("%d updates, result %v", updates, res != nil)
		}
		if len(res.Original) == 0 || len(res.Reduced) == 0 || !strings.Contains(res.LatencyLabel, "predicted") || res.Seeds != 2 {
			t.Errorf("result %+v", res)
		}
		for _, p := range res.Reduced {
			if strings.Contains(strings.SplitN(p.Arch, "/", 2)[1], "k7") {
				t.Errorf("reduced front holds a kernel-7 block past unit 1: %s", p.Arch)
			}
		}
	})

	t.Run("export", func(t *testing.T) {
		dir := t.TempDir()
		path := filepath.Join(dir, "r.toml")
		red := model.ReductionOf(sp, "ofa-npu")
		red.Units[0].Depths = []int{2, 3}
		w, err := a.Export(path, red, false)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil || string(data) != string(w.Bytes) {
			t.Fatalf("file and Written differ (%v)", err)
		}
		back, err := model.ParseReduction(data, path, f.spaces)
		if err != nil {
			t.Fatalf("does not load back: %v\n%s", err, data)
		}
		if back.Version != "test" || back.Created == "" || !slices.Equal(back.Units[0].Depths, []int{2, 3}) {
			t.Errorf("loaded back %+v", back)
		}
		if _, err := a.Export(path, red, false); !errors.Is(err, export.ErrExists) {
			t.Errorf("existing file: %v", err)
		}
		if _, err := a.Export(path, red, true); err != nil {
			t.Errorf("overwrite: %v", err)
		}
		if _, err := a.Export(dir, red, true); err == nil {
			t.Error("a directory was overwritten")
		}
		bad := red
		bad.Units = slices.Clone(red.Units)
		bad.Units[2].Blocks = nil
		if _, err := a.Export(filepath.Join(dir, "bad.toml"), bad, false); err == nil {
			t.Error("a unit without blocks was exported")
		}
		left, _ := filepath.Glob(filepath.Join(dir, ".blockprof-export-*"))
		if len(left) > 0 {
			t.Errorf("temporary files left: %v", left)
		}
	})

	t.Run("host lock", func(t *testing.T) {
		// While a local device times (it holds the lock), the analysis waits.
		lock := devices.NewHostLock()
		locked, err := New(ctx, Config{Space: sp, Store: f.st, Run: f.run, HostLock: lock})
		if err != nil {
			t.Fatal(err)
		}
		if err := lock.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		_, err = locked.Table(short, "npu", "latency")
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("analysis ran while the host lock was held: %v", err)
		}
		lock.Unlock()
		if _, err := locked.Table(ctx, "npu", "latency"); err != nil {
			t.Errorf("after the lock: %v", err)
		}
	})

	t.Run("intents", func(t *testing.T) {
		if err := a.Pause("gpu"); err == nil {
			t.Error("pausing an unknown device")
		}
		if err := a.Resume("npu"); err != nil {
			t.Error(err)
		}
		browse, err := New(ctx, Config{Space: sp, Store: f.st})
		if err != nil {
			t.Fatal(err)
		}
		if browse.Live() || browse.Pause("npu") == nil || browse.Cancel("npu") == nil {
			t.Error("intents without a run")
		}
		if devs := browse.Devices(); len(devs) != 1 || devs[0].Name != "npu" {
			t.Errorf("store devices %+v", devs)
		}
		for range browse.Events(ctx) {
			t.Error("events without a run")
		}
		if _, err := browse.Points(ctx, "npu"); err == nil {
			t.Error("points without an accuracy source")
		}
	})

	// Last, as it adds a measurement: a latency with a probe timed in its
	// window makes the device's latencies probe-corrected, and the table's
	// and the Pareto view's labels say so.
	t.Run("probe-corrected labels", func(t *testing.T) {
		tb, err := a.Table(ctx, "npu", "latency")
		if err != nil {
			t.Fatal(err)
		}
		d, err := a.Points(ctx, "npu")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(tb.Label, "probe-corrected") || strings.Contains(d.LatencyLabel, "probe-corrected") {
			t.Fatalf("labels %q, %q before any probe", tb.Label, d.LatencyLabel)
		}
		arch := sp.MinArch(160)
		net, err := sp.Network(arch)
		if err != nil {
			t.Fatal(err)
		}
		devs, err := f.st.Devices(ctx) // the npu device, with its fingerprint
		if err != nil || len(devs) != 1 {
			t.Fatalf("stored devices %+v, %v", devs, err)
		}
		now := time.Now()
		if _, err := f.st.Put(ctx, store.Measurement{Device: "npu", Arch: store.ArchOfNetwork(sp, arch, net), Kind: store.KindPlan,
			SamplesMs: []float64{3, 3, 3}, ProbeMs: []float64{1, 1, 1, 1}, ProbeEvery: 1, Provenance: devices.Simulated,
			Fingerprint: devs[0].Fingerprint, Started: now, Finished: now}); err != nil {
			t.Fatal(err)
		}
		if tb, err = a.Table(ctx, "npu", "latency"); err != nil {
			t.Fatal(err)
		}
		if d, err = a.Points(ctx, "npu"); err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(tb.Label, ", probe-corrected") || !strings.HasSuffix(d.LatencyLabel, ", probe-corrected") {
			t.Errorf("labels %q, %q after a probed measurement", tb.Label, d.LatencyLabel)
		}
	})
}
