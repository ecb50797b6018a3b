package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/devices/replay"
	"blockprof/engine/store"
	"blockprof/model/modeltest"
)

// TestProfileReplayDevice profiles the README's h100-graph device alone:
// a replay device measures the archs of its recording, every one of them,
// whatever the sampled plan holds, and a re-run has nothing left.
func TestProfileReplayDevice(t *testing.T) {
	embedded, _ := testConfig(t)
	file := filepath.Join(modeltest.SharedData(t), "h100-ofa-mbv3-w1.0.jsonl")
	recorded, err := replay.Archs(file, "gpu-b1-fp32-graph", modeltest.Spaces(t))
	if err != nil {
		t.Fatal(err)
	}
	n := len(recorded)
	device := `
[[devices]]
name = "h100-graph"
kind = "replay"
file = "` + file + `"
key = "gpu-b1-fp32-graph"
`
	tests := []struct {
		name, plan string
		args       []string
	}{
		{name: "sampled plan at 224", plan: "[plan]\nspace = \"ofa-mbv3-w1.0\"\nresolution = 224\nuniform = 150\nreference_every = 25\n"},
		{name: "sampled plan at 160", plan: "[plan]\nspace = \"ofa-mbv3-w1.0\"\nresolution = 160\nuniform = 20\nreference_every = 5\n"},
		{name: "no plan", args: []string{"--space", "ofa-mbv3-w1.0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "config.toml")
			if err := os.WriteFile(cfgPath, []byte(device+tc.plan), 0o600); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "p.db")
			args := append([]string{"profile", "--config", cfgPath, "--store", db, "--devices", "h100-graph"}, tc.args...)

			env, out, errw := testEnv(context.Background(), embedded)
			if err := Run(env, args); err != nil {
				t.Fatalf("%v\n%s", err, errw)
			}
			fields := summaryFields(out.String(), "h100-graph")
			if len(fields) < 5 || fields[1] != "done" || fields[2] != fmt.Sprintf("%d/%d", n, n) || fields[4] != "0" {
				t.Errorf("summary row %q, want done %d/%d with 0 errors:\n%s", fields, n, n, out)
			}
			if want := "h100-graph: overhead n/a (replay device: recorded numbers, no timed window)"; !strings.Contains(out.String(), want) {
				t.Errorf("summary lacks %q:\n%s", want, out)
			}
			if want := fmt.Sprintf("h100-graph measures the %d archs it holds", n); !strings.Contains(errw.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, errw)
			}
			if strings.Contains(errw.String(), "attempt") {
				t.Errorf("device errors on stderr:\n%s", errw)
			}

			st, err := store.Open(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			ok, _ := st.Count(context.Background(), store.Query{Device: "h100-graph", Kind: store.KindPlan})
			bad, _ := st.Count(context.Background(), store.Query{Device: "h100-graph", Errors: true})
			refs, _ := st.Count(context.Background(), store.Query{Device: "h100-graph", Kind: store.KindReference})
			st.Close()
			if ok != n || bad != 0 || refs != 0 {
				t.Errorf("store: %d plan measurements, %d failed, %d references; want %d, 0, 0", ok, bad, refs, n)
			}

			env, _, errw = testEnv(context.Background(), embedded)
			if err := Run(env, args); err != nil {
				t.Fatalf("re-run: %v\n%s", err, errw)
			}
			if !strings.Contains(errw.String(), "h100-graph: nothing left to measure") {
				t.Errorf("re-run stderr:\n%s", errw)
			}
		})
	}
}

// summaryFields is the summary table's row of device, split on spaces.
func summaryFields(summary, device string) []string {
	for _, line := range strings.Split(summary, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == device {
			return f
		}
	}
	return nil
}
