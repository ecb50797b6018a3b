package tui

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"blockprof/engine"
	"blockprof/tui/internal/fakedeps"
	ts "blockprof/tui/internal/teststep"
)

func waitFor(t *testing.T, tm *teatest.TestModel, what string) {
	t.Helper()
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return bytes.Contains(b, []byte(what)) },
		teatest.WithDuration(10*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// TestFlow drives a whole program: start, progress events arrive, a cell is
// pruned, the reduced space is exported, and the user quits.
func TestFlow(t *testing.T) {
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	d := fakedeps.New(sp)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tm := teatest.NewTestModel(t, New(ctx, d, Options{NoColor: true}), teatest.WithInitialTermSize(100, 30))

	waitFor(t, tm, "Devices")
	deadline := time.Now().Add(10 * time.Second)
	for d.Subscribers() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the program did not subscribe to the run's events")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.Publish(engine.Progress{Device: "npu", Done: 40, Total: 120, State: engine.StateMeasuring, Rate: 2, LastMs: 12.5})
	d.Publish(engine.Measured{Device: "npu", Arch: "a"})
	waitFor(t, tm, "measuring")

	tm.Send(ts.Key("2"))
	waitFor(t, tm, "regression effect")
	tm.Send(ts.Key("right"))
	tm.Send(ts.Key("space"))
	waitFor(t, tm, "pruned")

	path := filepath.Join(t.TempDir(), "reduced.toml")
	tm.Send(ts.Key("e"))
	waitFor(t, tm, "Export the reduced space")
	tm.Send(ts.Key("ctrl+u"))
	tm.Type(path)
	tm.Send(ts.Key("enter"))
	waitFor(t, tm, "wrote")
	tm.Send(ts.Key("esc"))
	tm.Send(ts.Key("q"))
	tm.WaitFinished(t, teatest.WithFinalTimeout(10*time.Second))

	final, ok := tm.FinalModel(t).(Model)
	if !ok {
		t.Fatalf("final model %T", tm.FinalModel(t))
	}
	if p, ok := final.DevicesView().Progress("npu"); !ok || p.Done != 40 {
		t.Errorf("progress not applied: %+v", p)
	}
	if nb, _ := final.FriendlinessView().Cuts(); nb != 1 {
		t.Errorf("%d cells pruned, want 1", nb)
	}
	if w := final.ExportPrompt().Written(); w == nil || w.Path != path {
		t.Fatalf("export %+v", w)
	}
	red, err := final.Reduction().ApplyTo(sp)
	if err != nil {
		t.Fatal(err)
	}
	if red.Units[1].Allows(sp.BlockChoices()[0]) {
		t.Error("the pruned block is still in unit 2")
	}
	checkExportFile(t, path, sp.BlockChoices()[0].Key())
	var _ tea.Model = final
}
