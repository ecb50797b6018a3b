package app

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"blockprof/engine/session"
)

// twoDevices is a config with a simulated NPU (kernel 7 three times
// slower) and a simulated CPU core (no kernel penalty).
const twoDevices = `
[[devices]]
name = "npu"
kind = "sim"
sim = { preset = "npu" }

[[devices]]
name = "cpu"
kind = "sim"
sim = { preset = "cpu" }

[plan]
space = "ofa-mbv3-w1.0"
resolution = 160
uniform = 80
per_location = 0
seed = 3
reference_every = 0
`

// TestCompareSameAsCLI: the explorer's devices-side-by-side data and
// `blockprof compare --json` come from the same session call and give the
// same numbers; the NPU's kernel-7 penalty shows as kernel-7 effects that
// differ between the devices.
func TestCompareSameAsCLI(t *testing.T) {
	cfg, cfgPath, embedded := loadConfig(t, twoDevices)
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
	d, err := a.Compare(ctx, []string{"npu", "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Devices) != 2 || !strings.Contains(d.Labels[0], "simulated") || !strings.Contains(d.Labels[1], "simulated") {
		t.Errorf("devices %v labels %v: want both labelled simulated from their records", d.Devices, d.Labels)
	}
	if d.ScoreName == "" || d.ScoreLabel == "" || len(d.Points) != 80 || len(d.Front) == 0 {
		t.Errorf("score %q [%s], %d shared archs, front %d", d.ScoreName, d.ScoreLabel, len(d.Points), len(d.Front))
	}
	// Kernel 7 costs the NPU more than the CPU, relative to each one's
	// mean: the NPU-minus-CPU effect is larger for k7 blocks than for k3
	// ones, and some k7 cells differ beyond the intervals.
	var gap [2]float64
	var n [2]int
	k7 := 0
	for _, r := range d.Rows {
		for i, k := range []string{"k7", "k3"} {
			if strings.HasSuffix(r.What, k) {
				gap[i] += r.Sides[0].Rel - r.Sides[1].Rel
				n[i]++
			}
		}
		if strings.HasSuffix(r.What, "k7") && len(r.Differ) == 1 && r.Sides[0].Rel > r.Sides[1].Rel {
			k7++
		}
	}
	if d7, d3 := gap[0]/float64(n[0]), gap[1]/float64(n[1]); d7-d3 < 0.005 || k7 < 2 {
		t.Errorf("NPU minus CPU effect: k7 %+.4f, k3 %+.4f; %d k7 cells differ with the NPU slower", d7, d3, k7)
	}

	f := fixture{cfgPath: cfgPath, storePath: storePath, embedded: embedded}
	s.Close() // the CLI opens the store itself
	out := runCLI(t, f, "compare", "--config", cfgPath, "--store", storePath, "--devices", "npu,cpu", "--quality", "accuracy", "--json")
	var got struct {
		Blocks []struct {
			Unit    int    `json:"unit"`
			Block   string `json:"block"`
			Verdict string `json:"verdict"`
			Devices []struct {
				Rel float64 `json:"relative"`
			} `json:"devices"`
		} `json:"block_effects"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	i := 0
	for _, r := range d.Rows {
		if strings.HasPrefix(r.What, "depth") {
			continue
		}
		c := got.Blocks[i]
		i++
		if c.Unit != r.Unit || c.Block != r.What || c.Devices[0].Rel != r.Sides[0].Rel || c.Devices[1].Rel != r.Sides[1].Rel {
			t.Fatalf("cell %d: CLI %+v, explorer %+v", i, c, r)
		}
	}
	if i != len(got.Blocks) {
		t.Errorf("explorer %d block cells, CLI %d", i, len(got.Blocks))
	}
}
