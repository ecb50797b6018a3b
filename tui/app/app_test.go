package app

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"blockprof/engine"
	"blockprof/engine/config"
	"blockprof/engine/cuts"
	"blockprof/engine/session"
	"blockprof/engine/store"
	"blockprof/model"
	"blockprof/tui/cli"
	"blockprof/tui/friendliness"
	paretoview "blockprof/tui/pareto"
)

// testConfig is a config with a simulated NPU and a small plan at 160 px: 60
// uniform archs and one A_{u,l,b} per location.
const testConfig = `
[[devices]]
name = "npu"
kind = "sim"
sim = { preset = "npu" }

[plan]
space = "ofa-mbv3-w1.0"
resolution = 160
uniform = 60
per_location = 1
seed = 3
reference_every = 0

[search]
initial = 12
children = 12
generations = 2
`

type fixture struct {
	app       *App
	s         *session.Session
	sp        *model.Space
	cfgPath   string
	storePath string
	embedded  []byte
}

func loadConfig(t *testing.T, text string) (*config.Config, string, []byte) {
	t.Helper()
	embedded, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "blockprof.toml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, embedded)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path, embedded
}

// profiled profiles the plan on the simulated NPU into a fresh store
// through the session, as the explorer does.
func profiled(t *testing.T) fixture {
	t.Helper()
	cfg, cfgPath, embedded := loadConfig(t, testConfig)
	ctx := context.Background()
	storePath := filepath.Join(t.TempDir(), "results.db")
	s, err := session.Open(ctx, session.Options{Config: cfg, StorePath: storePath, Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	prep, err := s.Prepare(ctx, session.ProfileRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if err := prep.Run.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-prep.Run.Done():
	case <-time.After(2 * time.Minute): // a guard against a hang, not a timing check
		t.Fatal("the run did not finish")
	}
	a, err := New(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{app: a, s: s, sp: s.Space(), cfgPath: cfgPath, storePath: storePath, embedded: embedded}
}

func runCLI(t *testing.T, f fixture, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	env := &cli.Env{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Embedded: f.embedded, Version: "test"}
	if err := cli.Run(env, args); err != nil {
		t.Fatalf("blockprof %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.Bytes()
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

	t.Run("events replay the finished run", func(t *testing.T) {
		// The session's stream outlives a run (a re-measure attaches
		// another): read until the run's end.
		var done, prog bool
		for ev := range a.Events(ctx) {
			switch e := ev.(type) {
			case engine.RunDone:
				done = true
			case engine.Progress:
				prog = prog || e.Device == "npu" && e.State == engine.StateDone
			}
			if done {
				break
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

	t.Run("latency table is labelled by its records", func(t *testing.T) {
		tb, err := a.Table(ctx, "npu", "latency")
		if err != nil {
			t.Fatal(err)
		}
		if tb.Uniform != 60 || tb.Fixed != len(sp.Locations()) || tb.Resolution != 160 {
			t.Errorf("table: %d uniform, %d fixed, R%d", tb.Uniform, tb.Fixed, tb.Resolution)
		}
		if !strings.HasPrefix(tb.Label, "simulated") || strings.Contains(tb.Label, "measured") {
			t.Errorf("label %q: want the records' provenance, simulated", tb.Label)
		}
		if !strings.Contains(tb.Evidence, "LOO R²") {
			t.Errorf("no evidence in the table: %q", tb.Evidence)
		}
		// The simulated NPU runs kernel 7 three times slower: in every
		// unit, e6k7 costs more than e6k3.
		for u := 1; u <= len(sp.Units); u++ {
			k7 := tb.Cells[friendliness.Key{Unit: u, Block: "e6k7"}][friendliness.StatRegression]
			k3 := tb.Cells[friendliness.Key{Unit: u, Block: "e6k3"}][friendliness.StatRegression]
			if k7 == nil || k3 == nil || k7.Value <= k3.Value {
				t.Errorf("unit %d: e6k7 %+v vs e6k3 %+v", u, k7, k3)
			}
		}
	})

	t.Run("proxy is labelled proxy", func(t *testing.T) {
		tb, err := a.Table(ctx, "npu", "proxy")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(tb.Label, "proxy") {
			t.Errorf("proxy table labelled %q", tb.Label)
		}
	})

	t.Run("details list the archs and the evidence", func(t *testing.T) {
		// The proxy table was analysed last: the app keeps that one only,
		// and analyses the latency table again for its details.
		if a.last == nil || a.last.metric != "proxy" {
			t.Fatalf("kept analysis %+v, want the proxy table's", a.last)
		}
		k := friendliness.Key{Unit: 2, Block: "e6k7"}
		d, err := a.Details(ctx, "npu", "latency", k, friendliness.StatRegression)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := a.Table(ctx, "npu", "latency")
		if err != nil {
			t.Fatal(err)
		}
		if want := tb.Cells[k][friendliness.StatRegression]; d.Value == nil || want == nil || *d.Value != *want {
			t.Errorf("details value %+v, the table's %+v", d.Value, want)
		}
		if d.Total == 0 || d.Total != len(d.Archs) {
			t.Errorf("details: %d archs of %d", len(d.Archs), d.Total)
		}
		if !slices.ContainsFunc(d.Notes, func(n string) bool { return strings.HasPrefix(n, "fit quality") }) {
			t.Errorf("details without evidence: %q", d.Notes)
		}
	})

	t.Run("pareto labels", func(t *testing.T) {
		d, err := a.Points(ctx, "npu")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(d.LatencyLabel, "simulated") || d.AccuracyLabel != "proxy" || len(d.Points) != 60+len(sp.Locations()) && len(d.Points) == 0 {
			t.Errorf("pareto data: latency %q, accuracy %q, %d points", d.LatencyLabel, d.AccuracyLabel, len(d.Points))
		}
	})

	t.Run("search is labelled predicted from simulated records", func(t *testing.T) {
		r := model.ReductionOf(sp, "same")
		ch, err := a.Search(ctx, paretoview.SearchRequest{Device: "npu", Reduction: r})
		if err != nil {
			t.Fatal(err)
		}
		var res *paretoview.SearchResult
		for u := range ch {
			if u.Err != nil {
				t.Fatal(u.Err)
			}
			if u.Result != nil {
				res = u.Result
			}
		}
		if res == nil {
			t.Fatal("no result")
		}
		// A sim device is evaluated directly: its numbers are simulated.
		if !strings.HasPrefix(res.LatencyLabel, "simulated") || !strings.HasPrefix(res.AccuracyLabel, "proxy") {
			t.Errorf("search labels: latency %q, accuracy %q", res.LatencyLabel, res.AccuracyLabel)
		}
	})
}

// TestSameNumbersEverywhere: the same store gives the same latency for the
// same arch in the explorer's data, in `analyze` and in the search's
// latency model, because all three read it through Session.Series.
func TestSameNumbersEverywhere(t *testing.T) {
	f := profiled(t)
	ctx := context.Background()
	// The records, read by hand.
	baseline, err := f.s.Store().ProbeBaseline(ctx, "npu")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	recs, err := f.s.Store().Query(ctx, store.Query{Device: "npu", Kind: store.KindPlan, Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		want[r.Arch] = r.Latency(baseline)
	}
	// The explorer's Pareto data.
	d, err := f.app.Points(ctx, "npu")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Points) != len(want) {
		t.Fatalf("explorer: %d archs, store %d", len(d.Points), len(want))
	}
	for _, p := range d.Points {
		if w, ok := want[p.Arch]; !ok || p.Latency != w {
			t.Fatalf("explorer: %s at %v ms, the store says %v", p.Arch, p.Latency, w)
		}
	}
	// The explorer's table and `analyze` agree on the baseline and every
	// regression effect.
	tb, err := f.app.Table(ctx, "npu", "latency")
	if err != nil {
		t.Fatal(err)
	}
	out := runCLI(t, f, "analyze", "--config", f.cfgPath, "--store", f.storePath, "--device", "npu", "--json")
	var got struct {
		Report struct {
			Label    string `json:"label"`
			Baseline struct {
				Value float64 `json:"value"`
			} `json:"baseline"`
		} `json:"report"`
		Evidence session.Evidence `json:"evidence"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("analyze --json: %v\n%s", err, out)
	}
	if got.Report.Baseline.Value != tb.Baseline.Value || got.Report.Label != tb.Label {
		t.Errorf("analyze: baseline %v [%s]; explorer %v [%s]", got.Report.Baseline.Value, got.Report.Label, tb.Baseline.Value, tb.Label)
	}
	if got.Evidence.Analysed != len(want) || got.Evidence.Provenance != tb.Label {
		t.Errorf("analyze evidence %+v", got.Evidence)
	}
	// The search's latency model of a measured-style device is fitted on
	// the same series; for this simulated device it is the device itself.
	ser, err := f.s.Series(ctx, session.SeriesRequest{Device: "npu", Metric: session.MetricLatency})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ser.Obs {
		if want[o.Arch.String()] != o.Value {
			t.Fatalf("series: %s at %v, store %v", o.Arch, o.Value, want[o.Arch.String()])
		}
	}
}

// TestSuggestionSameAsAnalyze: the explorer's `s` and `analyze --suggest`
// give the same cuts from the same data.
func TestSuggestionSameAsAnalyze(t *testing.T) {
	f := profiled(t)
	ctx := context.Background()
	sug, err := f.app.Suggest(ctx, "npu", "latency")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "suggested.toml")
	runCLI(t, f, "analyze", "--config", f.cfgPath, "--store", f.storePath, "--device", "npu", "--suggest", "--quality", "accuracy", "--reduced-out", out)
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r, err := model.ParseReduction(data, out, f.s.Config().Spaces)
	if err != nil {
		t.Fatal(err)
	}
	fromCLI, err := cuts.FromReduction(f.sp, r)
	if err != nil {
		t.Fatal(err)
	}
	a, b := sug.Cuts.Reduction("x"), fromCLI.Reduction("x")
	for i := range a.Units {
		if !slices.Equal(a.Units[i].Blocks, b.Units[i].Blocks) || !slices.Equal(a.Units[i].Depths, b.Units[i].Depths) {
			t.Errorf("unit %d: explorer %v %v, analyze %v %v", i+1, a.Units[i].Blocks, a.Units[i].Depths, b.Units[i].Blocks, b.Units[i].Depths)
		}
	}
	if n, m := sug.Cuts.Counts(); n+m == 0 {
		t.Error("the simulated NPU's kernel-7 penalty gave no cut")
	}
}

// TestCutsSurviveReopen: the current cuts are kept in the store per space.
func TestCutsSurviveReopen(t *testing.T) {
	cfg, _, _ := loadConfig(t, testConfig)
	ctx := context.Background()
	storePath := filepath.Join(t.TempDir(), "s.db")
	s, err := session.Open(ctx, session.Options{Config: cfg, StorePath: storePath})
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Cuts().TogglePrune(2, "e6k7", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetCuts(ctx, c); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = session.Open(ctx, session.Options{Config: cfg, StorePath: storePath})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Cuts().Pruned(2, "e6k7") {
		t.Error("the cut was lost on reopening the store")
	}
}
