package tui_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest/v2"

	"blockprof/engine/config"
	"blockprof/model"
	"blockprof/tui"
	"blockprof/tui/app"
	ts "blockprof/tui/internal/teststep"
)

// e2eConfig has four real devices: a simulated NPU, the Note10 lookup
// tables (of the width-1.2 space, ofa-mbv3), the H100 recording (replayed,
// width 1.0) and this CPU through ONNX Runtime with a tiny plan.
const e2eConfig = `
[[devices]]
name = "npu"
kind = "sim"
sim = { preset = "npu" }

[[devices]]
name = "note10"
kind = "lut"
path = %q
label = "Note10"

[[devices]]
name = "h100-graph"
kind = "replay"
file = %q
key = "gpu-b1-fp32-graph"

[[devices]]
name = "cpu"
kind = "ort"
threads = 1
warmup = 1
repeat = 3
max_repeat = 3
probe_every = 0

[plan]
space = "ofa-mbv3-w1.0"
resolution = 224
uniform = 40
per_location = 0
seed = 5
reference_every = 0

[search]
initial = 10
children = 10
generations = 2
`

func e2eWait(t *testing.T, tm *teatest.TestModel, what ...string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
		for _, w := range what {
			if !bytes.Contains(b, []byte(w)) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(3*time.Minute), teatest.WithCheckInterval(50*time.Millisecond))
}

// TestExplorerEndToEnd drives the real explorer over the real session and
// real devices (no fakes for the engine): start, profile, friendliness,
// load a reduced space, prune, suggest, export, search, quit; reopen the
// store and find the cuts.
func TestExplorerEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("profiles four devices")
	}
	shared, err := filepath.Abs("../../shared/data")
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "blockprof.toml")
	text := fmt.Sprintf(e2eConfig, filepath.Join(shared, "lut-note10"), filepath.Join(shared, "h100-ofa-mbv3-w1.0.jsonl"))
	if err := os.WriteFile(cfgPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath, embedded)
	if err != nil {
		t.Fatal(err)
	}
	storePath := filepath.Join(dir, "e2e.db")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var warnings []string
	sess, err := app.Start(ctx, app.Setup{Config: cfg, StorePath: storePath, Version: "e2e", Devices: []string{"npu", "h100-graph", "cpu"},
		Warn: func(w string) { warnings = append(warnings, w) }})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			sess.Close()
		}
	}()
	if len(sess.Devices()) != 3 {
		t.Fatalf("devices %+v (warnings %q)", sess.Devices(), warnings)
	}
	select { // a guard against a hang, not a timing check
	case <-sess.S.Run().Done():
	case <-time.After(5 * time.Minute):
		t.Fatal("profiling did not finish")
	}
	for _, d := range sess.S.Run().Summary().Devices {
		if d.Failed || d.Resumed+d.Measured != d.Total || d.Total == 0 {
			t.Fatalf("device %s: %+v", d.Device, d)
		}
	}

	tm := teatest.NewTestModel(t, tui.New(ctx, sess.App, tui.Options{NoColor: true}), teatest.WithInitialTermSize(140, 44))
	e2eWait(t, tm, "Devices", "cpu", "h100-graph", "npu")

	// Friendliness of the simulated NPU: labelled by its records.
	tm.Send(ts.Key("2"))
	e2eWait(t, tm, "simulated", "regression effect", "LOO R²")

	// Load a reduced space shipped with blockprof as the current cuts.
	reduced, err := filepath.Abs("../spaces/ofa-mbv3-npu.toml")
	if err != nil {
		t.Fatal(err)
	}
	tm.Send(ts.Key("o"))
	tm.Send(ts.Key("ctrl+u"))
	tm.Type(reduced)
	tm.Send(ts.Key("enter"))
	e2eWait(t, tm, "loaded")

	// Prune unit 2's first block by hand.
	tm.Send(ts.Key("down"))
	tm.Send(ts.Key("space"))
	e2eWait(t, tm, "pruned")

	// The suggestion: a preview first, merged on y.
	tm.Send(ts.Key("s"))
	e2eWait(t, tm, "evidence")
	tm.Send(ts.Key("y"))
	e2eWait(t, tm, "merged")

	// Export.
	out := filepath.Join(dir, "reduced.toml")
	tm.Send(ts.Key("e"))
	e2eWait(t, tm, "Export the reduced space")
	tm.Send(ts.Key("ctrl+u"))
	tm.Type(out)
	tm.Send(ts.Key("enter"))
	e2eWait(t, tm, "wrote")
	tm.Send(ts.Key("esc"))

	// Search the original and the reduced space on the NPU.
	tm.Send(ts.Key("3"))
	e2eWait(t, tm, "Pareto")
	tm.Send(ts.Key("g"))
	e2eWait(t, tm, "HV original")
	tm.Send(ts.Key("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(time.Minute))
	final, ok := tm.FinalModel(t).(tui.Model)
	if !ok {
		t.Fatalf("final model %T", tm.FinalModel(t))
	}
	want := final.FriendlinessView().Current()
	if err := sess.Close(); err != nil {
		t.Fatal(err)
	}
	closed = true

	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r, err := model.ParseReduction(data, out, cfg.Spaces)
	if err != nil {
		t.Fatalf("the export does not load: %v\n%s", err, data)
	}
	if !strings.Contains(string(data), "remove ") {
		t.Errorf("the export has no per-cut reasons:\n%s", data)
	}

	// Reopen the store without profiling: the cuts are still there.
	again, err := app.Start(context.Background(), app.Setup{Config: cfg, StorePath: storePath, NoProfile: true})
	if err != nil {
		t.Fatal(err)
	}
	got := again.S.Cuts()
	if !got.Equal(want) {
		t.Errorf("cuts after reopening:\n%s\nwant\n%s", got.Marshal(), want.Marshal())
	}
	exported := got.Reduction(r.Name)
	for i := range r.Units {
		if fmt.Sprint(exported.Units[i].Blocks) != fmt.Sprint(r.Units[i].Blocks) {
			t.Errorf("unit %d: stored %v, exported %v", i+1, exported.Units[i].Blocks, r.Units[i].Blocks)
		}
	}

	again.Close()

	// The Note10 tables are of the width-1.2 space: a second explorer on
	// the same store profiles them there and labels them by their records.
	note, err := app.Start(context.Background(), app.Setup{Config: cfg, Space: "ofa-mbv3", StorePath: storePath, Devices: []string{"note10"}})
	if err != nil {
		t.Fatal(err)
	}
	defer note.Close()
	select {
	case <-note.S.Run().Done():
	case <-time.After(5 * time.Minute):
		t.Fatal("profiling the tables did not finish")
	}
	tm2 := teatest.NewTestModel(t, tui.New(ctx, note.App, tui.Options{NoColor: true}), teatest.WithInitialTermSize(140, 44))
	tm2.Send(ts.Key("2"))
	e2eWait(t, tm2, "table (Note10)", "regression effect")
	tm2.Send(ts.Key("q"))
	tm2.WaitFinished(t, teatest.WithFinalTimeout(time.Minute))
}
