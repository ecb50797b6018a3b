package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/engine/analysis"
	"blockprof/engine/store"
	"blockprof/model"
)

// analyzeEnv is an Env over the repository's config.toml.
func analyzeEnv(t *testing.T) (*Env, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	return &Env{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errw, Embedded: data, Version: "test"}, &out, &errw
}

// plantedLatency is an additive synthetic latency: kernel 7 costs 0.3 ms
// per layer more than the others, every layer 0.1 ms per unit of
// expansion.
func plantedLatency(a model.Arch) float64 {
	v := 5.0
	for _, blocks := range a.Units {
		for _, b := range blocks {
			v += 0.1 * b.E
			if b.K == 7 {
				v += 0.3
			}
		}
	}
	return v
}

// analyzeStore writes a run of sp's plan with planted latencies on device
// "synth" and planted accuracies into a new store.
func analyzeStore(t *testing.T, sp *model.Space, spec model.PlanSpec) string {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "a.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	items, err := sp.Plan(spec)
	if err != nil {
		t.Fatal(err)
	}
	var pis []store.PlanItem
	for _, it := range items {
		a, err := store.ArchOf(sp, it.Arch)
		if err != nil {
			t.Fatal(err)
		}
		pi := store.PlanItem{Arch: a}
		if it.Fix != nil {
			pi.Fix = it.Fix.String()
		}
		pis = append(pis, pi)
	}
	run, err := st.StartRun(ctx, store.RunInfo{Started: time.Now(), Space: sp.Name, PlanSpec: spec, Version: "test"}, pis)
	if err != nil {
		t.Fatal(err)
	}
	cfg := devices.Config{Name: "synth", Kind: "sim"}
	info := devices.Info{Name: "synth", Kind: "sim", Provenance: devices.Simulated, Label: "simulated"}
	if _, err := st.PutDevice(ctx, cfg, info); err != nil {
		t.Fatal(err)
	}
	rng := model.NewRand(3)
	var ms []store.Measurement
	var accs []store.Accuracy
	seen := map[string]bool{}
	for i, it := range items {
		if seen[pis[i].Arch.Canonical] {
			continue
		}
		seen[pis[i].Arch.Canonical] = true
		v := plantedLatency(it.Arch)
		ms = append(ms, store.Measurement{Device: "synth", Arch: pis[i].Arch, Run: run, Kind: store.KindPlan,
			SamplesMs:  []float64{v + 0.02*rng.NormFloat64(), v + 0.02*rng.NormFloat64(), v + 0.02*rng.NormFloat64()},
			Provenance: devices.Simulated, Fingerprint: devices.Fingerprint(cfg, info), Started: time.Now(), Finished: time.Now()})
		accs = append(accs, store.Accuracy{Arch: pis[i].Arch, Source: "synthetic", Top1: 70 + 0.01*plantedLatency(it.Arch), Label: store.AccuracyProxy})
	}
	if err := st.PutBatch(ctx, ms); err != nil {
		t.Fatal(err)
	}
	if err := st.PutAccuracy(ctx, accs...); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAnalyzeStore(t *testing.T) {
	env, out, _ := analyzeEnv(t)
	cfg, err := loadConfig(env, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := cfg.Spaces.Get("ofa-mbv3-w1.0")
	db := analyzeStore(t, sp, model.PlanSpec{Uniform: 120, PerLocation: 2, Resolution: 160, Seed: 1})
	if err := Run(env, []string{"analyze", "--store", db, "--device", "synth", "--boot", "50", "--json"}); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Space      string `json:"space"`
		Label      string `json:"label"`
		Uniform    int    `json:"uniform"`
		Fixed      int    `json:"fixed"`
		Resolution int    `json:"resolution"`
		Blocks     []struct {
			Block string `json:"block"`
			Eq1   *struct {
				Value float64 `json:"value"`
			} `json:"eq1"`
		} `json:"blocks"`
		Regression *struct {
			BlockEffects []struct {
				Unit  int     `json:"unit"`
				Block string  `json:"block"`
				Value float64 `json:"value"`
			} `json:"block_effects"`
		} `json:"regression"`
	}
	var wrapped struct {
		Report   json.RawMessage `json:"report"`
		Evidence struct {
			Analysed int      `json:"analysed"`
			Q2       *float64 `json:"loo_r2"`
		} `json:"evidence"`
	}
	if err := json.Unmarshal(out.Bytes(), &wrapped); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if wrapped.Evidence.Analysed == 0 || wrapped.Evidence.Q2 == nil {
		t.Errorf("analyze --json without its evidence: %+v", wrapped.Evidence)
	}
	if err := json.Unmarshal(wrapped.Report, &rep); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if rep.Space != "ofa-mbv3-w1.0" || rep.Label != "simulated" || rep.Uniform != 120 || rep.Fixed != 360 || rep.Resolution != 160 {
		t.Errorf("report header: %+v", rep)
	}
	if rep.Regression == nil {
		t.Fatal("no regression")
	}
	eff := map[string]float64{}
	for _, e := range rep.Regression.BlockEffects {
		if e.Unit == 1 {
			eff[e.Block] = e.Value
		}
	}
	// Planted: kernel 7 costs 0.3 ms more, expansion 0.1 ms per unit.
	if d := eff["e6k7"] - eff["e6k3"]; d < 0.25 || d > 0.35 {
		t.Errorf("unit 1 e6k7 − e6k3 = %.3f, planted 0.3", d)
	}
	if d := eff["e6k3"] - eff["e3k3"]; d < 0.25 || d > 0.35 {
		t.Errorf("unit 1 e6k3 − e3k3 = %.3f, planted 0.3", d)
	}
	for _, b := range rep.Blocks {
		if b.Eq1 == nil {
			t.Errorf("block %s has no Eq. 1", b.Block)
		}
	}

	// CSV, MACs and accuracy from the same store.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--csv"}, "ofa-mbv3-w1.0,synth,latency,simulated,baseline"},
		{[]string{"--metric", "macs", "--csv"}, ",macs,computed from the network,eq1,"},
		// The space's configured source (the proxy score), stored per arch
		// by the session, labelled proxy: never an accuracy.
		{[]string{"--metric", "accuracy", "--csv"}, ",proxy,proxy,block_effect,1,,e6k7"},
	} {
		env, out, _ := analyzeEnv(t)
		args := append([]string{"analyze", "--store", db, "--device", "synth", "--boot", "20"}, tc.args...)
		if err := Run(env, args); err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		rows, err := csv.NewReader(bytes.NewReader(out.Bytes())).ReadAll()
		if err != nil || len(rows) < 100 || strings.Join(rows[0], ",") != strings.Join(analysis.CSVHeader, ",") {
			t.Errorf("%v: %d rows, %v", tc.args, len(rows), err)
		}
		if !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: output lacks %q", tc.args, tc.want)
		}
	}

	// Suggestions against the accuracy proxy and a paper space.
	env, out, _ = analyzeEnv(t)
	if err := Run(env, []string{"analyze", "--store", db, "--device", "synth", "--boot", "20", "--suggest", "--quality", "accuracy", "--paper", "OFA-NPU"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"suggested reduction", "paper space OFA-NPU (remove k=7", "mean latency -"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestAnalyzeRecordedFile(t *testing.T) {
	var dir string
	for _, d := range []string{"../../../shared/data", "../../../../shared/data"} {
		if _, err := os.Stat(filepath.Join(d, "README.md")); err == nil {
			dir = d
		}
	}
	if dir == "" {
		t.Skip("shared/data not found beside the repository")
	}
	env, out, _ := analyzeEnv(t)
	if err := Run(env, []string{"analyze", "--data", filepath.Join(dir, "h100-ofa-mbv3-w1.0.jsonl"), "--key", "gpu-b64-fp16-graph", "--boot", "50"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ofa-mbv3-w1.0, gpu-b64-fp16-graph latency at R224", "replayed: measured on NVIDIA H100", "unit 1 block effect (regression)", "held-out whole-unit archs"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestAnalyzeFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--device", "x"}, "either --store"},
		{[]string{"--store", "a.db", "--data", "b"}, "either --store"},
		{[]string{"--data", "x", "--json", "--csv"}, "one of --json"},
		{[]string{"--data", "x", "--taus", "5"}, "--taus"},
		{[]string{"--data", "x", "--suggest"}, "needs --quality"},
		{[]string{"--data", "/nonexistent.jsonl", "--key", "k"}, "no such file"},
	} {
		env, _, _ := analyzeEnv(t)
		err := Run(env, append([]string{"analyze"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
