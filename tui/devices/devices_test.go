package devices

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	bdev "blockprof/devices"
	"blockprof/engine"
	"blockprof/engine/store"
	"blockprof/tui/common"
	ts "blockprof/tui/internal/teststep"
)

type control struct{ intents []string }

func (c *control) Pause(d string) error  { c.intents = append(c.intents, "pause "+d); return nil }
func (c *control) Resume(d string) error { c.intents = append(c.intents, "resume "+d); return nil }
func (c *control) Cancel(d string) error {
	c.intents = append(c.intents, "cancel "+d)
	if d == "broken" {
		return errors.New("no such device")
	}
	return nil
}

func (c *control) Remeasure(d string) (int, error) {
	c.intents = append(c.intents, "remeasure "+d)
	if d == "broken" {
		return 0, errors.New("no such device")
	}
	return 7, nil
}

var infos = []common.DeviceInfo{
	{Name: "cpu", Kind: "ort", Provenance: bdev.Measured, Label: "measured", Detail: "onnxruntime, 1 threads"},
	{Name: "h100-graph", Kind: "replay", Provenance: bdev.Replayed, Label: "replayed (NVIDIA H100)"},
	{Name: "note10", Kind: "lut", Provenance: bdev.Table, Label: "table (Note10)"},
}

func newView(w, h int, live bool) (Model, *control) {
	c := &control{}
	return New(common.New(context.Background(), false, w, h), infos, c, live), c
}

func events() []engine.Event {
	return []engine.Event{
		engine.Progress{Device: "cpu", Done: 12, Total: 120, Resumed: 2, State: engine.StateMeasuring, Rate: 0.8, ETA: 135 * time.Second,
			Elapsed: time.Minute, LastMs: 9.87, LastSpread: 0.031, Drift: -0.012, DriftKnown: true},
		engine.Measured{Device: "cpu", Arch: "a", Kind: store.KindPlan},
		engine.Measured{Device: "cpu", Arch: "b", Kind: store.KindPlan},
		engine.Measured{Device: "cpu", Arch: "ref", Kind: store.KindReference},
		engine.Progress{Device: "h100-graph", Done: 120, Total: 120, State: engine.StateDone, Rate: 40, LastMs: 1.234, LastSpread: 0.004},
		engine.Progress{Device: "note10", Done: 3, Total: 120, State: engine.StateFailed, Failed: true, Errors: 3, LastErr: "lut: no entry for expanded_conv-input:7x7x160"},
	}
}

func apply(m Model, evs []engine.Event) Model {
	for _, e := range evs {
		m = m.Apply(e)
	}
	return m
}

func TestApply(t *testing.T) {
	m, _ := newView(80, 24, true)
	m = apply(m, events())
	p, ok := m.Progress("cpu")
	if !ok || p.Done != 12 || p.State != engine.StateMeasuring {
		t.Fatalf("cpu %+v %v", p, ok)
	}
	// Latest wins.
	m = m.Apply(engine.Progress{Device: "cpu", Done: 13, Total: 120, State: engine.StateMeasuring})
	if p, _ := m.Progress("cpu"); p.Done != 13 {
		t.Errorf("not latest: %+v", p)
	}
	// An error names the arch and the attempt.
	m = m.Apply(engine.DeviceError{Device: "cpu", Arch: "ofa-mbv3:224:e3k3/e4k5", Err: errors.New("boom"), Attempt: 2, Final: true})
	if !strings.Contains(m.rows[0].lastErr, "gave up 2") || !strings.Contains(m.rows[0].lastErr, "boom") {
		t.Errorf("last error %q", m.rows[0].lastErr)
	}
	// A device the view did not know gets a row.
	m = m.Apply(engine.Progress{Device: "new", Total: 5, State: engine.StateConnecting})
	if _, ok := m.Progress("new"); !ok || len(m.rows) != 4 {
		t.Error("new device not added")
	}
	m = m.Apply(engine.RunDone{Summary: engine.Summary{Run: 7, Wall: time.Minute}})
	if !strings.Contains(m.View(), "run 7 finished") {
		t.Error("run summary not shown")
	}
}

func TestIntents(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		// state of cpu before the keys
		state engine.State
		live  bool
		want  []string
	}{
		{"pause", []string{"p"}, engine.StateMeasuring, true, []string{"pause cpu"}},
		{"pause then resume", []string{"p", "p"}, engine.StateMeasuring, true, []string{"pause cpu", "resume cpu"}},
		{"resume a paused device", []string{"p"}, engine.StatePaused, true, []string{"resume cpu"}},
		{"second device", []string{"down", "down", "up", "p"}, engine.StateMeasuring, true, []string{"pause h100-graph"}},
		{"cancel confirmed", []string{"x", "y"}, engine.StateMeasuring, true, []string{"cancel cpu"}},
		{"cancel refused", []string{"x", "n"}, engine.StateMeasuring, true, nil},
		{"nothing after the end", []string{"p", "x", "y"}, engine.StateDone, true, nil},
		{"nothing without a run", []string{"p", "x", "y"}, engine.StateMeasuring, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, c := newView(80, 24, tc.live)
			m = apply(m, []engine.Event{engine.Progress{Device: "cpu", Total: 10, State: tc.state}, engine.Progress{Device: "h100-graph", Total: 10, State: engine.StateMeasuring}})
			m, _ = ts.Settle(m, ts.Keys(tc.keys...)...)
			if !slices.Equal(c.intents, tc.want) {
				t.Errorf("intents %v, want %v", c.intents, tc.want)
			}
		})
	}
}

// A view that subscribes late gets only each device's latest Progress
// (the broker replays it), not the Measured events before: its counts come
// from that Progress.
func TestLateJoinerCounts(t *testing.T) {
	early, _ := newView(120, 24, true)
	early = apply(early, events())
	late, _ := newView(120, 24, true)
	late = late.Apply(events()[0])
	want := "measured 12 of 120 plan archs (2 from earlier runs, 10 in this run)"
	for name, m := range map[string]Model{"early": early, "late": late} {
		if !strings.Contains(m.View(), want) {
			t.Errorf("%s subscriber: no %q in\n%s", name, want, m.View())
		}
	}
}

// Intents sent by other sessions are shown with who sent them.
func TestNotices(t *testing.T) {
	tests := []struct {
		msg          tea.Msg
		status, last string
	}{
		{NoticeMsg{Device: "cpu", Action: "pause", By: "alice@laptop"}, "pause cpu: sent by alice@laptop", "last intent: pause by alice@laptop"},
		{NoticeMsg{Device: "cpu", Action: "cancel", By: "SHA256:abc"}, "cancel cpu: sent by SHA256:abc", "last intent: cancel by SHA256:abc"},
		{IntentMsg{Device: "cpu", Action: "resume"}, "resume cpu: sent", "last intent: resume by this session"},
		{IntentMsg{Device: "cpu", Action: "resume", Err: errors.New("not an operator")}, "resume cpu: not an operator", ""},
	}
	for _, tc := range tests {
		m, _ := newView(120, 24, true)
		m = apply(m, events())
		m, _ = ts.Settle(m, tc.msg)
		v := m.View()
		if !strings.Contains(v, tc.status) || (tc.last != "") != strings.Contains(v, "last intent:") || !strings.Contains(v, tc.last) {
			t.Errorf("%+v: want %q and %q in\n%s", tc.msg, tc.status, tc.last, v)
		}
	}
}

func TestIntentError(t *testing.T) {
	m, _ := newView(80, 24, true)
	m, _ = ts.Settle(m, IntentMsg{Device: "cpu", Action: "cancel", Err: errors.New("no such device")})
	if !strings.Contains(m.View(), "cancel cpu: no such device") {
		t.Errorf("error not shown:\n%s", m.View())
	}
}

func TestPausingShown(t *testing.T) {
	m, _ := newView(100, 20, true)
	m = apply(m, []engine.Event{engine.Progress{Device: "cpu", Total: 10, State: engine.StateMeasuring}})
	m, _ = ts.Settle(m, ts.Key("p"))
	if !strings.Contains(m.View(), "pausing…") {
		t.Errorf("no pausing state:\n%s", m.View())
	}
	m = m.Apply(engine.Progress{Device: "cpu", Total: 10, State: engine.StatePaused})
	if strings.Contains(m.View(), "pausing…") || !strings.Contains(m.View(), "paused") {
		t.Errorf("paused not shown:\n%s", m.View())
	}
}

func TestColumnsFitTheWidth(t *testing.T) {
	for _, w := range []int{40, 60, 80, 100, 120, 160, 240} {
		m, _ := newView(w, 24, true)
		m = apply(m, events())
		out := m.View()
		lines := strings.Split(out, "\n")
		if len(lines) != 24 {
			t.Fatalf("width %d: %d lines", w, len(lines))
		}
		for i, l := range lines {
			if ansi.StringWidth(l) != w {
				t.Fatalf("width %d: line %d is %d wide: %q", w, i, ansi.StringWidth(l), l)
			}
		}
		header := lines[1]
		for _, col := range []string{"device", "state", "progress", "done"} {
			if w < 60 && col == "done" {
				continue // the row is cut at the screen's edge
			}
			if !strings.Contains(header, col) {
				t.Errorf("width %d: no %s column: %q", w, col, header)
			}
		}
		if w >= 160 && !strings.Contains(header, "last error") {
			t.Errorf("width %d: no error column: %q", w, header)
		}
		if w <= 80 && strings.Contains(header, "drift") {
			t.Errorf("width %d: drift should give way: %q", w, header)
		}
	}
}

func TestGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("%dx%d", sz[0], sz[1]), func(t *testing.T) {
			m, _ := newView(sz[0], sz[1], true)
			m = apply(m, events())
			m, _ = ts.Settle(m, ts.Key("down"), ts.Key("down"))
			out := m.View()
			if strings.Contains(out, "\x1b") {
				t.Error("escape sequences without colour")
			}
			golden.RequireEqual(t, out)
		})
	}
}

func TestColor(t *testing.T) {
	m := New(common.New(context.Background(), true, 100, 20), infos, &control{}, true)
	m = apply(m, events())
	if !strings.Contains(m.View(), "\x1b[") {
		t.Error("no colour")
	}
	var _ tea.Msg = IntentMsg{}
}

// TestRemeasureKey: r asks the engine to re-measure the selected device's
// noisy archs and reports how many it queued, or why not.
func TestRemeasureKey(t *testing.T) {
	m, c := newView(100, 30, true)
	m, _ = ts.Settle(m, ts.Key("r"))
	if len(c.intents) != 1 || c.intents[0] != "remeasure cpu" {
		t.Fatalf("intents %q", c.intents)
	}
	if !strings.Contains(m.View(), "re-measure 7 noisy archs of cpu: sent") {
		t.Errorf("status:\n%s", m.View())
	}
}

// A profile-until-confident run's progress carries the predicted table's
// interval widths, and the detail shows them shrinking.
func TestIntervalWidthShown(t *testing.T) {
	m, _ := newView(120, 40, true)
	m = m.Apply(engine.Progress{Device: "cpu", Done: 4, Total: 4, State: engine.StateMeasuring,
		Interval: &engine.IntervalWidth{Max: 12.5, Mean: 4.25, Target: 5, Measured: 10}})
	if out := m.View(); !strings.Contains(out, "95% block intervals max 12.5% mean 4.2%") || !strings.Contains(out, "after 10 measured (stops at 5.0%)") {
		t.Errorf("no interval widths in the detail:\n%s", out)
	}
	m = m.Apply(engine.Progress{Device: "cpu", Done: 4, Total: 4, State: engine.StateMeasuring,
		Interval: &engine.IntervalWidth{Max: 6.1, Mean: 2, Target: 5, Measured: 14}})
	if out := m.View(); !strings.Contains(out, "max 6.1%") || strings.Contains(out, "max 12.5%") {
		t.Errorf("the latest widths are not shown:\n%s", out)
	}
	// Without a confident plan there is no such line.
	m, _ = newView(120, 40, true)
	m = apply(m, events())
	if strings.Contains(m.View(), "block intervals") {
		t.Error("interval line without a confident plan")
	}
}
