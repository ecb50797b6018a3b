package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

func searchRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	embedded, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	env := &Env{Ctx: context.Background(), Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errw, Embedded: embedded, Version: "test"}
	err = Run(env, append([]string{"search"}, args...))
	return out.String(), err
}

// TestSearchJSON runs a small comparison on the simulated NPU with the proxy
// as accuracy: the JSON has the documented keys, one hypervolume per seed,
// a front of archs, and the proxy is labelled proxy_score.
func TestSearchJSON(t *testing.T) {
	out, err := searchRun(t, "--space", "ofa-mbv3-w1.0", "--reduced", "../../spaces/ofa-mbv3-npu.toml", "--device", "sim-npu",
		"--seeds", "2", "--initial", "10", "--children", "10", "--generations", "2", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Ref      []float64 `json:"reference_point"`
		Accuracy string    `json:"accuracy_source"`
		Original struct {
			HVMedian float64          `json:"hypervolume_median"`
			HVs      []float64        `json:"hypervolumes"`
			Front    []map[string]any `json:"front"`
		} `json:"original"`
		Reduced struct {
			HVs []float64 `json:"hypervolumes"`
		} `json:"reduced"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Ref) != 2 || len(got.Original.HVs) != 2 || len(got.Reduced.HVs) != 2 || got.Original.HVMedian <= 0 {
		t.Fatalf("incomplete output: %s", out)
	}
	if len(got.Original.Front) == 0 || got.Original.Front[0]["proxy_score"] == nil || got.Original.Front[0]["accuracy"] != nil {
		t.Errorf("front points must carry proxy_score, not accuracy: %v", got.Original.Front)
	}
	if !strings.Contains(got.Accuracy, "proxy") {
		t.Errorf("accuracy source %q not labelled proxy", got.Accuracy)
	}
}

func TestSearchMaxAccuracy(t *testing.T) {
	out, err := searchRun(t, "--space", "ofa-mbv3-w1.0", "--reduced", "../../spaces/ofa-mbv3-max-accuracy.toml", "--budget-macs", "300e6", "--seeds", "2")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "OFA-max-accuracy") || !strings.Contains(out, "best proxy_score") {
		t.Errorf("unexpected output:\n%s", out)
	}
}

func TestSearchErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--space", "ofa-mbv3-w1.0"}, "--reduced and --device are required"},
		{[]string{"--space", "ofa-mbv3-w1.0", "--reduced", "nope.toml", "--device", "sim-npu"}, "nope.toml"},
		{[]string{"--space", "ofa-pn-w1.3", "--reduced", "../../spaces/ofa-mbv3-npu.toml", "--device", "sim-npu"}, "does not fit space ofa-pn-w1.3"},
		{[]string{"--space", "ofa-mbv3-w1.0", "--reduced", "../../spaces/ofa-mbv3-npu.toml", "--device", "gpu9"}, `no device named "gpu9"`},
	}
	for _, tc := range tests {
		_, err := searchRun(t, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.args, err, tc.want)
		}
	}
}
