package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"blockprof/model"
)

type blockwiseJSON struct {
	Baseline    float64               `json:"baseline"`
	Blocks      map[string]float64    `json:"blocks"`
	CI          map[string][2]float64 `json:"ci"`
	Sampler     string                `json:"sampler"`
	Label       string                `json:"label"`
	Inactive    int                   `json:"inactive"`
	Archs       int                   `json:"archs"`
	PerLocation int                   `json:"per_location"`
}

func runBlockwiseJSON(t *testing.T, args ...string) blockwiseJSON {
	t.Helper()
	env, out, _ := analyzeEnv(t)
	if err := Run(env, append([]string{"blockwise", "--boot", "50", "--json"}, args...)); err != nil {
		t.Fatal(err)
	}
	var b blockwiseJSON
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	return b
}

func TestBlockwiseMACs(t *testing.T) {
	for _, tc := range []struct {
		space, compat  string
		keys           []string
		big, small     string
		inactiveWanted bool
	}{
		{"ofa-mbv3", "", []string{"e6k3", "e6k5", "e6k7", "e4k3", "e4k5", "e4k7", "e3k3", "e3k5", "e3k7"}, "e6k7", "e3k3", false},
		{"ofa-mbv3", "blockprofile", nil, "e6k7", "e3k3", true},
		{"ofa-resnet50", "", []string{"c100b20", "c100b35", "c65b20", "c80b25"}, "c100b35", "c65b20", false},
	} {
		args := []string{"--space", tc.space, "--metric", "macs", "--per-location", "3", "--uniform", "30"}
		if tc.compat != "" {
			args = append(args, "--compat", tc.compat)
		}
		b := runBlockwiseJSON(t, args...)
		for _, k := range tc.keys {
			if _, ok := b.Blocks[k]; !ok {
				t.Errorf("%s: no block %s in %v", tc.space, k, b.Blocks)
			}
		}
		if len(b.Blocks) != 9 || len(b.CI) != 9 {
			t.Errorf("%s: %d blocks, %d intervals", tc.space, len(b.Blocks), len(b.CI))
		}
		if !(b.Blocks[tc.big] > b.Blocks[tc.small]) || b.Baseline <= 0 {
			t.Errorf("%s: M_b(%s)=%v should exceed M_b(%s)=%v (MACs grow with the block)", tc.space, tc.big, b.Blocks[tc.big], tc.small, b.Blocks[tc.small])
		}
		if (b.Inactive > 0) != tc.inactiveWanted || b.Label != "computed from the network" {
			t.Errorf("%s %s: %d inactive fixed blocks, label %q", tc.space, tc.compat, b.Inactive, b.Label)
		}
	}
}

// TestBlockwiseSimNPU: on the simulated NPU of the embedded config kernel 7
// is three times slower, so its blocks lead every row.
func TestBlockwiseSimNPU(t *testing.T) {
	b := runBlockwiseJSON(t, "--space", "ofa-mbv3", "--device", "sim-npu", "--per-location", "20", "--uniform", "20")
	col := func(k string) float64 { return b.Blocks["e6"+k] + b.Blocks["e4"+k] + b.Blocks["e3"+k] }
	if !(col("k7") > col("k5") && col("k7") > col("k3")) {
		t.Errorf("kernel 7 should be the slowest column: %v", b.Blocks)
	}
	if !strings.Contains(b.Label, "simulated") {
		t.Errorf("label %q", b.Label)
	}
}

func TestBlockwiseText(t *testing.T) {
	env, out, _ := analyzeEnv(t)
	if err := Run(env, []string{"blockwise", "--space", "ofa-mbv3", "--metric", "params", "--per-location", "2", "--uniform", "20", "--boot", "50"}); err != nil {
		t.Fatal(err)
	}
	golden.RequireEqual(t, out.String())
}

func TestBlockwiseFlagErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{}, "--space is required"},
		{[]string{"--space", "ofa-mbv3"}, "needs --device"},
		{[]string{"--space", "ofa-mbv3", "--device", "nope"}, "no device named"},
		{[]string{"--space", "ofa-mbv3", "--metric", "flops"}, "want latency, macs or params"},
		{[]string{"--space", "ofa-mbv3", "--metric", "macs", "--resolution", "300"}, "allows"},
		{[]string{"--space", "ofa-mbv3", "--metric", "macs", "--compat", "x"}, "blockprofile"},
		{[]string{"--space", "ofa-mbv3", "--metric", "macs", "--per-location", "0"}, "≥ 1"},
	} {
		env, _, _ := analyzeEnv(t)
		err := Run(env, append([]string{"blockwise"}, tc.args...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}

func TestBlockwiseReference(t *testing.T) {
	// The run itself as its reference: no difference, perfect agreement.
	first := runBlockwiseJSON(t, "--space", "ofa-mbv3", "--metric", "macs", "--per-location", "2", "--uniform", "10")
	ref := filepath.Join(t.TempDir(), "ref.json")
	data, _ := json.Marshal(map[string]any{"blocks": first.Blocks})
	if err := os.WriteFile(ref, data, 0o600); err != nil {
		t.Fatal(err)
	}
	env, out, _ := analyzeEnv(t)
	if err := Run(env, []string{"blockwise", "--space", "ofa-mbv3", "--metric", "macs", "--per-location", "2", "--uniform", "10", "--boot", "50", "--json", "--reference", ref}); err != nil {
		t.Fatal(err)
	}
	var b struct {
		Reference blockwiseCompare `json:"reference"`
	}
	if err := json.Unmarshal(out.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	c := b.Reference
	if c.Blocks != 9 || c.MeanDiff != 0 || c.MaxAbsDiff != 0 || c.Inside != 9 || c.SpearmanJ == nil || *c.SpearmanJ != 1 {
		t.Errorf("self-comparison: %+v", c)
	}
}

func FuzzBlockwiseReference(f *testing.F) {
	f.Add([]byte(`{"blocks": {"e6k7": 43.41, "B1": 41.14}}`))
	f.Add([]byte(`{"blocks": {}}`))
	f.Add([]byte(`{"blocks": {"c100b35": 1}}`))
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		f.Fatal(err)
	}
	ss, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		f.Fatal(err)
	}
	sp, _ := ss.Get("ofa-mbv3")
	f.Fuzz(func(t *testing.T, in []byte) {
		ref, err := parseBlockwiseReference(in, "fuzz", sp)
		if err != nil {
			return
		}
		for k, v := range ref {
			b, err := model.ParseBlock(k)
			if err != nil || b.Key() != k || v != v {
				t.Fatalf("accepted %q = %v", k, v)
			}
		}
	})
}
