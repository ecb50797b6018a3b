package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
)

// peRun runs predict-eval with the repository's config.toml embedded.
func peRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	embedded, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	env := &Env{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errw, Embedded: embedded, Version: "test"}
	err = Run(env, append([]string{"predict-eval"}, args...))
	return out.String(), err
}

const (
	peLatency = "testdata/predict-eval-latency.jsonl"
	peTrain   = "testdata/predict-eval-top1-train.jsonl"
	peTest    = "testdata/predict-eval-top1-test.jsonl"
)

func TestPredictEvalGolden(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"latency_additive_json", []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--split", "2/3", "--json"}},
		{"latency_macs_json", []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b64-fp16-graph", "--train", peLatency, "--split", "2/3", "--model", "macs", "--json"}},
		{"latency_log_text", []string{"--space", "ofa-mbv3-w1.0", "--device", "cpu-b1-fp32", "--train", peLatency, "--split", "0.6", "--scale", "log"}},
		{"latency_test_file_json", []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--test", peLatency, "--json"}},
		{"top1_json", []string{"--space", "ofa-mbv3-w1.0", "--metric", "top1", "--train", peTrain, "--test", peTest, "--json"}},
		{"top1_text", []string{"--space", "ofa-mbv3-w1.0", "--metric", "top1", "--features", "slots,slots+capacity", "--train", peTrain, "--test", peTest}},
		{"top1_slots_json", []string{"--space", "ofa-mbv3-w1.0", "--metric", "top1", "--features", "slots", "--knn", "off", "--train", peTrain, "--test", peTest, "--json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := peRun(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			golden.RequireEqual(t, out)
		})
	}
}

// The JSON carries the fields the issue names, with consistent counts.
func TestPredictEvalJSONFields(t *testing.T) {
	out, err := peRun(t, "--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--split", "2/3", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, k := range []string{"n_train", "n_test", "mape", "within10", "spearman"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
	if m["n_train"] != 30.0 || m["n_test"] != 15.0 {
		t.Errorf("2/3 of 45 records: n_train %v n_test %v, want 30 and 15", m["n_train"], m["n_test"])
	}
	if w := m["within10"].(float64); w < 0 || w > 1 {
		t.Errorf("within10 %v", w)
	}
	out, err = peRun(t, "--space", "ofa-mbv3-w1.0", "--metric", "top1", "--features", "slots", "--knn", "off", "--train", peTrain, "--test", peTest, "--json")
	if err != nil {
		t.Fatal(err)
	}
	m = nil
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n_train", "n_test", "mae", "rmse", "spearman"} {
		if _, ok := m[k]; !ok {
			t.Errorf("no %q in %s", k, out)
		}
	}
}

func TestPredictEvalErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no space", []string{"--train", peLatency, "--split", "2/3"}, "--space is required"},
		{"unknown space", []string{"--space", "nas", "--train", peLatency, "--split", "2/3"}, `unknown space "nas"`},
		{"no train", []string{"--space", "ofa-mbv3-w1.0"}, "--train FILE is required"},
		{"neither test nor split", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency}, "either --test FILE or --split"},
		{"both test and split", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--test", peLatency, "--split", "2/3"}, "either --test FILE or --split"},
		{"bad split", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--split", "3/2"}, "strictly between 0 and 1"},
		{"split not a number", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--split", "most"}, "want a fraction"},
		{"no device", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--split", "2/3"}, "--device KEY is required for --metric latency (keys in predict-eval-latency.jsonl: cpu-b1-fp32, gpu-b1-fp32-eager"},
		{"unknown device key", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--split", "2/3", "--device", "npu"}, `no latency_ms["npu"]`},
		{"unknown model", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--split", "2/3", "--device", "cpu-b1-fp32", "--model", "gp"}, `--model "gp"`},
		{"unknown scale", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--split", "2/3", "--device", "cpu-b1-fp32", "--scale", "sqrt"}, `scale "sqrt"`},
		{"unknown metric", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--split", "2/3", "--metric", "energy"}, `--metric "energy"`},
		{"top1 on a latency file", []string{"--space", "ofa-mbv3-w1.0", "--train", peLatency, "--split", "2/3", "--metric", "top1"}, `no "top1" field`},
		{"unknown features", []string{"--space", "ofa-mbv3-w1.0", "--train", peTrain, "--test", peTest, "--metric", "top1", "--features", "slots,gp"}, `"gp"`},
		{"bad knn", []string{"--space", "ofa-mbv3-w1.0", "--train", peTrain, "--test", peTest, "--metric", "top1", "--knn", "5"}, `--knn "5"`},
		{"macs for top1", []string{"--space", "ofa-mbv3-w1.0", "--train", peTrain, "--test", peTest, "--metric", "top1", "--model", "macs"}, "--model macs is for latency"},
		{"wrong space for the file", []string{"--space", "ofa-pn-w1.3", "--train", peLatency, "--split", "2/3", "--device", "cpu-b1-fp32"}, `record of space "ofa-mbv3-w1.0"`},
		{"missing file", []string{"--space", "ofa-mbv3-w1.0", "--train", "testdata/nope.jsonl", "--split", "2/3"}, "nope.jsonl"},
		{"stray argument", []string{"--space", "ofa-mbv3-w1.0", "extra"}, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := peRun(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPredictEvalShotsGolden(t *testing.T) {
	prior := peLatency + ":gpu-b64-fp16-graph"
	tests := []struct {
		name string
		args []string
	}{
		{"shots_transfer_text", []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--split", "2/3", "--model", "transfer", "--shots", "10", "--prior", prior}},
		{"shots_transfer_json", []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--split", "2/3", "--model", "transfer", "--shots", "10", "--prior", prior, "--json"}},
		{"shots_transfer_macs_json", []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--split", "2/3", "--model", "transfer", "--shots", "10", "--prior", prior + ",macs", "--json"}},
		{"shots_additive_json", []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--split", "2/3", "--shots", "10", "--json"}},
		{"shots_macs_text", []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--split", "2/3", "--model", "macs", "--shots", "10"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := peRun(t, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			golden.RequireEqual(t, out)
		})
	}
}

func TestPredictEvalShotsErrors(t *testing.T) {
	base := []string{"--space", "ofa-mbv3-w1.0", "--device", "gpu-b1-fp32-graph", "--train", peLatency, "--split", "2/3"}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"transfer without prior", []string{"--model", "transfer", "--shots", "10"}, "--model transfer needs --prior FILE:KEY"},
		{"transfer without shots", []string{"--model", "transfer", "--prior", peLatency + ":cpu-b1-fp32"}, "--shots N is required"},
		{"prior without transfer", []string{"--shots", "10", "--prior", peLatency + ":cpu-b1-fp32"}, "--prior is for --model transfer; --model additive"},
		{"too few shots", []string{"--model", "transfer", "--shots", "2", "--prior", peLatency + ":cpu-b1-fp32"}, "--shots 2: want 3..30"},
		{"too many shots", []string{"--shots", "31"}, "--shots 31: want 3..30"},
		{"negative shots", []string{"--shots", "-4"}, "--shots -4: want 3..30"},
		{"prior key missing", []string{"--model", "transfer", "--shots", "10", "--prior", peLatency + ":npu"}, `prior predict-eval-latency.jsonl:npu: no record has latency_ms["npu"] (keys in every record of predict-eval-latency.jsonl: cpu-b1-fp32,`},
		{"prior with too few records", []string{"--model", "transfer", "--shots", "10", "--prior", "testdata/predict-eval-latency-10.jsonl:cpu-b1-fp32"}, "prior device predict-eval-latency-10.jsonl:cpu-b1-fp32: 10 records; a prior needs at least 30"},
		{"prior of another space", []string{"--model", "transfer", "--shots", "10", "--prior", "testdata/predict-eval-prior-pn.jsonl:cpu-b1-fp32"}, `predict-eval-prior-pn.jsonl:1: record of space "ofa-pn-w1.3", want "ofa-mbv3-w1.0"`},
		{"prior file missing", []string{"--model", "transfer", "--shots", "10", "--prior", "testdata/nope.jsonl:cpu-b1-fp32"}, "nope.jsonl"},
		{"bad prior spec", []string{"--model", "transfer", "--shots", "10", "--prior", "h100.jsonl"}, `--prior item "h100.jsonl": want FILE:KEY`},
		{"unknown model with shots", []string{"--model", "gp", "--shots", "10"}, `--model "gp" with --shots: want transfer, additive or macs`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := peRun(t, append(append([]string{}, base...), tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
