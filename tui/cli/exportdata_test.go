package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/model"
)

// TestExportDataRoundTrip: export-data, then analyze --data on the file,
// gives the effects analyze --store gives (uniform archs and A_{u,l,b}
// fixes, every table), and the file keeps every sample, the provenance
// and the fingerprint.
func TestExportDataRoundTrip(t *testing.T) {
	env, out, errw := analyzeEnv(t)
	cfg, err := loadConfig(env, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, _ := cfg.Spaces.Get("ofa-mbv3-w1.0")
	db := analyzeStore(t, sp, model.PlanSpec{Uniform: 80, PerLocation: 1, Resolution: 160, Seed: 1})
	if err := Run(env, []string{"export-data", "--store", db, "--device", "synth"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errw.String(), "synth: ") {
		t.Errorf("summary on stderr: %q", errw.String())
	}
	file := filepath.Join(t.TempDir(), "synth-export.jsonl")
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n"))
	var first struct {
		Space   string           `json:"space"`
		Fixed   *json.RawMessage `json:"fixed"`
		Latency map[string]struct {
			Samples     []float64 `json:"samples_ms"`
			Provenance  string    `json:"provenance"`
			Fingerprint string    `json:"fingerprint"`
			Median      float64   `json:"median"`
		} `json:"latency_ms"`
	}
	if err := json.Unmarshal(lines[0], &first); err != nil {
		t.Fatal(err)
	}
	e := first.Latency["synth"]
	if first.Space != sp.Name || len(e.Samples) != 3 || e.Provenance != "simulated" || e.Fingerprint == "" || e.Median <= 0 {
		t.Errorf("first line: %s", lines[0])
	}
	fixes := 0
	for _, l := range lines {
		if bytes.Contains(l, []byte(`"fix":"u`)) {
			fixes++
		}
	}
	if fixes == 0 {
		t.Error("no A_{u,l,b} line exported")
	}

	report := func(args ...string) map[string]json.RawMessage {
		t.Helper()
		env, out, _ := analyzeEnv(t)
		if err := Run(env, append([]string{"analyze", "--boot", "50", "--sampler", "paper", "--json"}, args...)); err != nil {
			t.Fatal(err)
		}
		var w struct {
			Report map[string]json.RawMessage `json:"report"`
		}
		if err := json.Unmarshal(out.Bytes(), &w); err != nil {
			t.Fatal(err)
		}
		return w.Report
	}
	fromStore := report("--store", db, "--device", "synth")
	fromFile := report("--data", file, "--key", "synth")
	for _, k := range []string{"regression", "blocks", "locations", "units", "baseline", "uniform", "fixed", "resolution"} {
		if string(fromStore[k]) != string(fromFile[k]) {
			t.Errorf("%s differs:\nstore %.400s\nfile  %.400s", k, fromStore[k], fromFile[k])
		}
	}
	if len(fromStore["regression"]) < 100 || string(fromStore["fixed"]) == "0" {
		t.Fatalf("nothing compared: regression %.100s, fixed %s", fromStore["regression"], fromStore["fixed"])
	}
	// The labels say where the numbers came from: simulated on both.
	if got := string(fromFile["label"]); got != `"simulated"` {
		t.Errorf("label of the exported file %s, want simulated (its records' own provenance)", got)
	}
}

func TestExportDataErrors(t *testing.T) {
	env, _, _ := analyzeEnv(t)
	cfg, _ := loadConfig(env, "")
	sp, _ := cfg.Spaces.Get("ofa-mbv3-w1.0")
	db := analyzeStore(t, sp, model.PlanSpec{Uniform: 10, Resolution: 160, Seed: 1})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--store DB is required"},
		{[]string{"--store", db, "--device", "gpu"}, `has no device "gpu" (devices: synth)`},
		{[]string{"--store", db, "--resolution", "224"}, "no plan measurements of ofa-mbv3-w1.0 at 224 px to export (present: 160 px"},
	} {
		env, _, _ := analyzeEnv(t)
		err := Run(env, append([]string{"export-data"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
}

// TestPredictEvalStore: predict-eval fits on a store device's records as
// it does on the same records exported to a file.
func TestPredictEvalStore(t *testing.T) {
	env, out, _ := analyzeEnv(t)
	cfg, _ := loadConfig(env, "")
	sp, _ := cfg.Spaces.Get("ofa-mbv3-w1.0")
	db := analyzeStore(t, sp, model.PlanSpec{Uniform: 90, Resolution: 160, Seed: 2})
	if err := Run(env, []string{"export-data", "--store", db}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "x.jsonl")
	if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	eval := func(args ...string) string {
		t.Helper()
		env, out, _ := analyzeEnv(t)
		if err := Run(env, append([]string{"predict-eval", "--space", sp.Name, "--device", "synth", "--split", "2/3", "--json"}, args...)); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	fromStore, fromFile := eval("--store", db), eval("--train", file)
	if fromStore != fromFile {
		t.Errorf("store %s\nfile  %s", fromStore, fromFile)
	}
	if !strings.Contains(fromStore, `"n_train":60`) {
		t.Errorf("want 60 training archs: %s", fromStore)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--store", db}, "--store needs --device"},
		{[]string{"--store", db, "--train", file, "--device", "synth"}, "not both"},
		{[]string{"--store", db, "--device", "gpu"}, `has no device "gpu"`},
	} {
		env, _, _ := analyzeEnv(t)
		err := Run(env, append([]string{"predict-eval", "--space", sp.Name, "--split", "2/3"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.args, err, tc.want)
		}
	}
}
