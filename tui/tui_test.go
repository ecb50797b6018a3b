package tui

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"blockprof/engine"
	"blockprof/model"
	"blockprof/tui/internal/fakedeps"
	ts "blockprof/tui/internal/teststep"
)

var _ Deps = (*fakedeps.Deps)(nil)

func newModel(t testing.TB, w, h int, color bool) (Model, *fakedeps.Deps) {
	t.Helper()
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	d := fakedeps.New(sp)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return New(ctx, d, Options{NoColor: !color, Width: w, Height: h}), d
}

func progress() []engine.Event {
	return []engine.Event{
		engine.Progress{Device: "npu", Done: 40, Total: 120, Resumed: 10, State: engine.StateMeasuring, Rate: 2.5, ETA: 32 * time.Second,
			Elapsed: 16 * time.Second, LastMs: 12.345, LastSpread: 0.012, Drift: 0.004, DriftKnown: true},
		engine.Progress{Device: "cpu", Done: 120, Total: 120, State: engine.StateDone, Rate: 0.5, LastMs: 55.1, LastSpread: 0.1, Elapsed: 4 * time.Minute},
		engine.DeviceError{Device: "npu", Arch: "ofa-mbv3-w1.0:160:e3k3/e3k3", Err: fmt.Errorf("timeout after 2m"), Attempt: 1, Transient: true},
	}
}

func settle(t testing.TB, m Model, msgs ...tea.Msg) (Model, bool) {
	t.Helper()
	out, quit := ts.SettleTea(m, msgs...)
	return out.(Model), quit
}

func checkScreen(t testing.TB, s string, w, h int) {
	t.Helper()
	lines := strings.Split(s, "\n")
	if len(lines) != h {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), h, s)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got != w {
			t.Fatalf("line %d is %d cells wide, want %d: %q", i+1, got, w, l)
		}
	}
}

// TestScreensGolden renders every view at 80×24 and 120×40 without colour.
func TestScreensGolden(t *testing.T) {
	steps := []struct {
		name string
		keys []string
	}{
		{"devices", nil},
		{"devices_cancel_prompt", []string{"x"}},
		{"friendliness", []string{"2"}},
		{"friendliness_pruned", []string{"2", "down", "down", "right", "space", "d", "d"}},
		{"friendliness_layers", []string{"2", "L", "S", "right"}},
		{"friendliness_details", []string{"2", "down", "enter"}},
		{"friendliness_suggested", []string{"2", "s"}},
		{"friendliness_cpu_mean", []string{"2", "tab", "S"}},
		{"pareto", []string{"3", "right", "right"}},
		{"pareto_search", []string{"2", "s", "y", "3", "g"}},
		{"help", []string{"?"}},
		{"export_prompt", []string{"2", "space", "e"}},
	}
	for _, size := range [][2]int{{80, 24}, {120, 40}} {
		for _, st := range steps {
			name := fmt.Sprintf("%s_%dx%d", st.name, size[0], size[1])
			t.Run(name, func(t *testing.T) {
				m, _ := newModel(t, size[0], size[1], false)
				m, _ = settle(t, m, eventsMsg{events: progress()})
				for _, k := range st.keys {
					m, _ = settle(t, m, ts.Key(k))
				}
				out := m.View().Content
				checkScreen(t, out, size[0], size[1])
				if strings.Contains(out, "\x1b") {
					t.Errorf("escape sequences without colour: %q", out)
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

func TestColorScreens(t *testing.T) {
	for _, keys := range [][]string{nil, {"2"}, {"3"}} {
		m, _ := newModel(t, 100, 30, true)
		m, _ = settle(t, m, eventsMsg{events: progress()})
		m, _ = settle(t, m, ts.Keys(keys...)...)
		out := m.View().Content
		checkScreen(t, out, 100, 30)
		if !strings.Contains(out, "\x1b[") {
			t.Errorf("view %v: no colour with colour on", keys)
		}
	}
}

func TestResizeAndTooSmall(t *testing.T) {
	m, _ := newModel(t, 80, 24, false)
	m, _ = settle(t, m, tea.WindowSizeMsg{Width: 30, Height: 8})
	out := m.View().Content
	checkScreen(t, out, 30, 8)
	if !strings.Contains(out, "at least") {
		t.Errorf("too small terminal not said: %q", out)
	}
	for _, sz := range [][2]int{{80, 24}, {200, 60}, {40, 12}, {133, 41}} {
		for _, v := range []string{"1", "2", "3"} {
			m, _ = settle(t, m, tea.WindowSizeMsg{Width: sz[0], Height: sz[1]}, ts.Key(v))
			checkScreen(t, m.View().Content, sz[0], sz[1])
		}
	}
}

func TestColorProfile(t *testing.T) {
	tests := []struct {
		profile colorprofile.Profile
		noColor bool
		want    bool
	}{
		{colorprofile.NoTTY, false, false},
		{colorprofile.ASCII, false, false},
		{colorprofile.ANSI, false, true},
		{colorprofile.TrueColor, false, true},
		{colorprofile.TrueColor, true, false}, // NO_COLOR wins
	}
	for _, tc := range tests {
		m, _ := newModel(t, 80, 24, !tc.noColor)
		out, _ := m.Update(tea.ColorProfileMsg{Profile: tc.profile})
		got := out.(Model)
		if got.Common().Color != tc.want {
			t.Errorf("profile %v, NO_COLOR %v: colour %v", tc.profile, tc.noColor, got.Common().Color)
		}
		if has := strings.Contains(got.View().Content, "\x1b["); has != tc.want {
			t.Errorf("profile %v: escape sequences %v", tc.profile, has)
		}
	}
}

func TestKeys(t *testing.T) {
	m, _ := newModel(t, 80, 24, false)
	if _, quit := settle(t, m, ts.Key("q")); !quit {
		t.Error("q does not quit")
	}
	if _, quit := settle(t, m, ts.Key("ctrl+c")); !quit {
		t.Error("ctrl+c does not quit")
	}
	tests := []struct {
		keys []string
		want View
	}{
		{[]string{"2"}, Friendliness},
		{[]string{"3"}, Pareto},
		{[]string{"3", "1"}, Devices},
		{[]string{"shift+tab"}, Friendliness},
		{[]string{"shift+tab", "shift+tab", "shift+tab"}, Devices},
		{[]string{"?", "2"}, Devices}, // help takes the keys
		{[]string{"?", "?", "2"}, Friendliness},
		{[]string{"e", "3"}, Devices}, // the prompt takes the keys
	}
	for _, tc := range tests {
		got, _ := settle(t, m, ts.Keys(tc.keys...)...)
		if got.Active() != tc.want {
			t.Errorf("%v: view %v, want %v", tc.keys, got.Active(), tc.want)
		}
	}
	// In the export prompt, q is typed, not a quit.
	got, quit := settle(t, m, ts.Keys("e", "q")...)
	if quit || !strings.HasSuffix(got.ExportPrompt().Path(), "q") {
		t.Errorf("q in the prompt: quit=%v path=%q", quit, got.ExportPrompt().Path())
	}
}

// TestLoadPromptTakesKeys: while the friendliness view's load prompt is
// open, view and quit keys are typed into the path.
func TestLoadPromptTakesKeys(t *testing.T) {
	m, _ := newModel(t, 100, 30, false)
	got, quit := settle(t, m, ts.Keys("2", "o", "q", "1", "e", "3")...)
	if quit || got.Active() != Friendliness || !got.FriendlinessView().Prompting() || got.ExportPrompt().Active() {
		t.Fatalf("quit=%v view %v prompt %v export %v", quit, got.Active(), got.FriendlinessView().Prompting(), got.ExportPrompt().Active())
	}
	got, _ = settle(t, got, tea.PasteMsg{Content: "/x"})
	if !strings.Contains(got.View().Content, "path: q1e3/x|") {
		t.Errorf("typed path:\n%s", got.View().Content)
	}
}

func TestEventsReachDevices(t *testing.T) {
	m, d := newModel(t, 80, 24, false)
	m, _ = settle(t, m, ts.Run(m.Init())...)
	if d.Subscribers() != 1 {
		t.Fatalf("%d subscriptions, want 1", d.Subscribers())
	}
	m, _ = settle(t, m, eventsMsg{events: progress()})
	p, ok := m.DevicesView().Progress("npu")
	if !ok || p.Done != 40 {
		t.Errorf("npu progress %+v %v", p, ok)
	}
	m, _ = settle(t, m, eventsMsg{closed: true})
	if !m.DevicesView().Ended() {
		t.Error("closed stream not noticed")
	}
}

// TestWaitEvents checks the pull command: it merges what is queued into one
// message, waits a frame before reading, and ends with the stream.
func TestWaitEvents(t *testing.T) {
	ch := make(chan engine.Event, 2000)
	for i := range 1500 {
		ch <- engine.Progress{Device: "cpu", Done: i}
	}
	msg := waitEvents(t.Context(), ch, 0)().(eventsMsg)
	if len(msg.events) != maxBatch || msg.closed {
		t.Fatalf("first batch %d events (closed %v), want %d", len(msg.events), msg.closed, maxBatch)
	}
	msg = waitEvents(t.Context(), ch, frame)().(eventsMsg)
	if len(msg.events) != 1500-maxBatch {
		t.Errorf("second batch %d events", len(msg.events))
	}
	// Nothing is read before the frame's tick: what arrives meanwhile
	// comes in one message after it.
	tick := make(chan time.Time)
	got := make(chan eventsMsg, 1)
	go func() { got <- readEvents(t.Context(), ch, tick).(eventsMsg) }()
	for i := range 3 {
		ch <- engine.Progress{Device: "cpu", Done: i}
	}
	if len(ch) != 3 {
		t.Fatalf("%d of 3 events left in the channel before the tick: read too early", len(ch))
	}
	tick <- time.Time{}
	if msg := <-got; len(msg.events) != 3 || msg.closed {
		t.Errorf("after the tick: %d events (closed %v), want the 3 sent before it", len(msg.events), msg.closed)
	}
	close(ch)
	if msg := waitEvents(t.Context(), ch, 0)().(eventsMsg); !msg.closed || len(msg.events) != 0 {
		t.Errorf("closed stream: %+v", msg)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if msg := waitEvents(ctx, make(chan engine.Event), 0)(); msg != nil {
		t.Errorf("cancelled: %v", msg)
	}
}

// TestPruneThenExport follows the intents end to end through the model.
func TestPruneThenExport(t *testing.T) {
	m, d := newModel(t, 100, 30, false)
	dir := t.TempDir()
	path := filepath.Join(dir, "out.toml")
	m, _ = settle(t, m, ts.Keys("2", "right", "space", "down", "space", "d")...)
	if b, c := m.FriendlinessView().Cuts(); b != 2 || c != 1 {
		t.Fatalf("cuts %d blocks %d depths, want 2 and 1", b, c)
	}
	m, _ = settle(t, m, ts.Key("e"), ts.Key("ctrl+u"))
	m, _ = settle(t, m, ts.Keys(strings.Split(path, "")...)...)
	m, _ = settle(t, m, ts.Key("enter"))
	w := m.ExportPrompt().Written()
	if w == nil {
		t.Fatalf("nothing written; screen:\n%s", m.View().Content)
	}
	if w.Path != path || len(d.Exports()) != 1 {
		t.Errorf("wrote %s (%v), want %s", w.Path, d.Exports(), path)
	}
	checkExport(t, path, m.space)
	// Again: the file exists, so the prompt asks first.
	m, _ = settle(t, m, ts.Key("esc"), ts.Key("e"), ts.Key("ctrl+u"))
	m, _ = settle(t, m, ts.Keys(strings.Split(path, "")...)...)
	m, _ = settle(t, m, ts.Key("enter"))
	if !strings.Contains(m.View().Content, "Overwrite") {
		t.Fatalf("no overwrite question:\n%s", m.View().Content)
	}
	m, _ = settle(t, m, ts.Key("y"))
	if len(d.Exports()) != 2 {
		t.Errorf("overwrite not written: %v", d.Exports())
	}
}

func checkExport(t testing.TB, path string, sp *model.Space) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spaces, err := model.ParseSpaces(mustRead(t, "../config.toml"), "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := model.ParseReduction(data, path, spaces)
	if err != nil {
		t.Fatalf("exported file does not load: %v\n%s", err, data)
	}
	red, err := r.ApplyTo(sp)
	if err != nil {
		t.Fatal(err)
	}
	if red.Units[1].Allows(sp.BlockChoices()[0]) || red.Units[1].MaxDepth() != 3 {
		t.Errorf("unit 2 of the export: blocks %v depths %v", red.Units[1].Blocks, red.Units[1].Depths)
	}
}

func mustRead(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func checkExportFile(t testing.TB, path, pruned string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	spaces, err := model.ParseSpaces(mustRead(t, "../config.toml"), "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := model.ParseReduction(data, path, spaces)
	if err != nil {
		t.Fatalf("exported file does not load: %v\n%s", err, data)
	}
	for _, k := range r.Units[1].Blocks {
		if k == pruned {
			t.Errorf("unit 2 of %s keeps %s", path, pruned)
		}
	}
}
