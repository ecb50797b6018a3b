package friendliness_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"blockprof/engine/cuts"
	"blockprof/model"
	"blockprof/tui/common"
	"blockprof/tui/friendliness"
	"blockprof/tui/internal/fakedeps"
	ts "blockprof/tui/internal/teststep"
)

func setup(t testing.TB, w, h int, color bool) (friendliness.Model, *fakedeps.Deps, *model.Space) {
	t.Helper()
	return setupWith(t, w, h, color, nil)
}

// setupWith is setup with the fake adjusted by adjust first (nil: as is).
func setupWith(t testing.TB, w, h int, color bool, adjust func(*fakedeps.Deps)) (friendliness.Model, *fakedeps.Deps, *model.Space) {
	t.Helper()
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	d := fakedeps.New(sp)
	if adjust != nil {
		adjust(d)
	}
	return start(t, d, w, h, color), d, sp
}

// start runs the view over d as the explorer does: Init, then active.
func start(t testing.TB, d *fakedeps.Deps, w, h int, color bool) friendliness.Model {
	t.Helper()
	m := friendliness.New(common.New(context.Background(), color, w, h), d.Sp, d.Devices(), d)
	for _, msg := range ts.Run(m.Init()) {
		m, _ = ts.Settle(m, msg)
	}
	m, cmd := m.SetActive(true)
	for _, msg := range ts.Run(cmd) {
		m, _ = ts.Settle(m, msg)
	}
	if m.Table() == nil {
		t.Fatal("no table after the view became active")
	}
	return m
}

func press(m friendliness.Model, keys ...string) friendliness.Model {
	m, _ = ts.Settle(m, ts.Keys(keys...)...)
	return m
}

func TestLoadsWhenActive(t *testing.T) {
	m, d, _ := setup(t, 80, 24, false)
	if d.Tables() != 1 {
		t.Errorf("%d table requests, want 1", d.Tables())
	}
	if m.Device() != "npu" || m.Metric().Name != "latency" || m.Stat() != friendliness.StatRegression {
		t.Errorf("start: %s %s %v", m.Device(), m.Metric().Name, m.Stat())
	}
}

func TestPrune(t *testing.T) {
	m, _, sp := setup(t, 80, 24, false)
	blocks := sp.BlockChoices()
	m = press(m, "down", "down", "right", "space")
	if !m.Pruned(2, blocks[2].Key()) {
		t.Fatalf("unit 2 %s not pruned", blocks[2].Key())
	}
	m = press(m, "space")
	if m.Pruned(2, blocks[2].Key()) {
		t.Fatal("second space does not keep the block")
	}
	// Pruning every block of unit 1 stops at the last one.
	m = press(m, "left", "up", "up")
	for range blocks {
		m = press(m, "space", "down")
	}
	nb, _ := m.Cuts()
	if nb != len(blocks)-1 || m.Pruned(1, blocks[len(blocks)-1].Key()) {
		t.Errorf("%d pruned, want %d (the last block of unit 1 stays)", nb, len(blocks)-1)
	}
	red, err := m.Reduction("r").ApplyTo(sp)
	if err != nil {
		t.Fatal(err)
	}
	if got := red.Units[0].Blocks; len(got) != 1 || got[0] != blocks[len(blocks)-1] {
		t.Errorf("unit 1 keeps %v", got)
	}
}

func TestReductionReasons(t *testing.T) {
	m, _, sp := setup(t, 80, 24, false)
	m = press(m, "right", "space")
	r := m.Reduction("ofa-npu")
	if r.Name != "ofa-npu" || r.Parent != sp.Name || r.Device != "npu" || !strings.Contains(r.Statistic, "regression") {
		t.Errorf("reduction %+v", r)
	}
	b := sp.BlockChoices()[0].Key()
	if want := []string{"remove " + b + ": regression -0.450 ms [-0.470, -0.430], 3 archs, on npu latency (simulated (npu))"}; !slices.Equal(r.Units[1].Reasons, want) {
		t.Errorf("reasons %q, want %q", r.Units[1].Reasons, want)
	}
	m = press(m, "space")
	if r := m.Reduction("ofa-npu"); r.Units[1].Reasons != nil {
		t.Errorf("un-pruned cell keeps its reason: %q", r.Units[1].Reasons)
	}
}

// TestDepthRange: d/D move the focused unit's max depth, </> its min
// depth, never past each other; each bound has its own reason.
func TestDepthRange(t *testing.T) {
	m, d, sp := setup(t, 80, 24, false)
	u := sp.Units[0] // depths 2, 3, 4
	steps := []struct {
		key    string
		lo, hi int
		status string
	}{
		{"d", 2, 3, "unit 1: depths 2–3 (of 2–4)"},
		{"d", 2, 2, "unit 1: depths 2–2 (of 2–4)"},
		{"d", 2, 2, "the max depth cannot pass the other bound"},
		{"D", 2, 3, "unit 1: depths 2–3"},
		{">", 3, 3, "unit 1: depths 3–3"},
		{">", 3, 3, "the min depth cannot pass the other bound"},
		{"D", 3, 4, "unit 1: depths 3–4"},
		{"D", 3, 4, "max depth 4 is the space's largest"},
		{">", 4, 4, "unit 1: depths 4–4"},
		{"<", 3, 4, "unit 1: depths 3–4"},
	}
	for i, st := range steps {
		m = press(m, st.key)
		if lo, hi := m.Depths(1); lo != st.lo || hi != st.hi {
			t.Fatalf("step %d (%s): depths %d–%d, want %d–%d (choices %v)", i+1, st.key, lo, hi, st.lo, st.hi, u.Depths)
		}
		if !strings.Contains(m.View(), st.status) {
			t.Fatalf("step %d (%s): status %q missing:\n%s", i+1, st.key, st.status, m.View())
		}
	}
	r := m.Reduction("r")
	red, err := r.ApplyTo(sp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(red.Units[0].Depths, []int{3, 4}) || !slices.Equal(red.Units[1].Depths, sp.Units[1].Depths) {
		t.Errorf("depths %v %v", red.Units[0].Depths, red.Units[1].Depths)
	}
	if want := []string{"min depth 3: regression depth effect depth 2 -0.200 ms on npu latency (simulated (npu))"}; !slices.Equal(r.Units[0].Reasons, want) {
		t.Errorf("reasons %q, want %q", r.Units[0].Reasons, want)
	}
	if !strings.Contains(m.View(), "3-4✂") {
		t.Errorf("depth range not shown:\n%s", m.View())
	}
	// Every edit reached the session, the last one last.
	if got := d.Stored(); !got.Equal(m.Current()) {
		t.Errorf("session holds\n%s\nthe view\n%s", got.Marshal(), m.Current().Marshal())
	}
}

// TestSuggestPreviewMerge: s shows the suggestion with its evidence and
// asks; n leaves the cuts alone; y merges it into the manual cuts, which
// all stay, min-depth cuts included.
func TestSuggestPreviewMerge(t *testing.T) {
	m, d, sp := setup(t, 100, 30, false)
	d.WeakSuggest = true
	// A manual cut the suggestion also makes, and one it does not.
	m = press(m, "down", "down", "right", "space") // unit 2 e6k7 (row 2)
	m = press(m, "left", "up", "space")            // unit 1 e6k5
	if !m.Pruned(2, "e6k7") || !m.Pruned(1, "e6k5") {
		t.Fatal("manual cuts not made")
	}
	manual := m.Current()
	m = press(m, "s")
	if !m.Previewing() || !m.Busy() {
		t.Fatal("no preview after s")
	}
	v := m.View()
	for _, want := range []string{"Suggested cuts for npu latency", "weak evidence", "evidence: regression fit on 120 uniform archs of npu",
		"unit 1: min depth 3 (of 2): at least 3 layers in unit 1", "merging adds 13 cuts to the current cuts (1 already made)", "no current cut is removed"} {
		if !strings.Contains(v, want) {
			t.Errorf("preview lacks %q:\n%s", want, v)
		}
	}
	if nb, nd := m.Cuts(); nb != 2 || nd != 0 {
		t.Fatalf("the preview changed the cuts: %d %d", nb, nd)
	}
	if m = press(m, "down"); !strings.Contains(m.View(), "the suggested cuts (2/14") {
		t.Errorf("↓ does not scroll the preview:\n%s", m.View())
	}
	m = press(m, "n")
	if m.Previewing() || !m.Current().Equal(manual) {
		t.Fatal("n did not cancel")
	}
	m = press(m, "s")
	m = press(m, "y")
	if m.Previewing() {
		t.Fatal("preview still open after y")
	}
	nb, nd := m.Cuts()
	if nb != 13 || nd != 2 {
		t.Fatalf("merged %d blocks, %d depths; want 13 (12 k=7 and e6k5) and 2", nb, nd)
	}
	if why := m.Current().Why(2, "e6k7"); !m.Pruned(1, "e6k5") || len(why) != 2 || !strings.HasPrefix(why[0], "remove e6k7: regression") {
		t.Errorf("manual cuts or their reasons lost: %q", why)
	}
	if lo, _ := m.Depths(1); lo != 3 {
		t.Errorf("the min-depth cut was dropped: unit 1 from %d", lo)
	}
	if !strings.Contains(m.View(), "merged the suggestion: added 13 cuts, 1 already held") {
		t.Errorf("status:\n%s", m.View())
	}
	r := m.Reduction("x")
	red, err := r.ApplyTo(sp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(red.Units[0].Depths, []int{3, 4}) {
		t.Errorf("unit 1 depths %v", red.Units[0].Depths)
	}
	if !strings.Contains(strings.Join(r.Units[3].Reasons, ""), "remove e6k7: remove k=7 in 2,3,4,5 on npu") {
		t.Errorf("suggestion's reasons lost: %q", r.Units[3].Reasons)
	}
	// Un-pruning a suggested cell drops its reason.
	m = press(m, "right", "right", "right", "down", "space") // unit 4, e6k7
	if m.Pruned(4, "e6k7") || strings.Contains(strings.Join(m.Reduction("x").Units[3].Reasons, ""), "remove e6k7") {
		t.Errorf("un-pruned e6k7 keeps its reason: %q", m.Reduction("x").Units[3].Reasons)
	}
	if !d.Stored().Equal(m.Current()) {
		t.Error("the session does not hold the view's cuts")
	}
	m = press(m, "c")
	if nb, nd := m.Cuts(); nb+nd != 0 || !d.Stored().Equal(m.Current()) {
		t.Errorf("clear left %d %d", nb, nd)
	}
}

// TestCutsRestoredOnInit: the view starts from the session's cuts.
func TestCutsRestoredOnInit(t *testing.T) {
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	d := fakedeps.New(sp)
	prev := cuts.New(sp)
	if prev, err = prev.TogglePrune(3, "e6k7", "last session"); err != nil {
		t.Fatal(err)
	}
	if prev, err = prev.SetDepths(2, 2, 3, "last session"); err != nil {
		t.Fatal(err)
	}
	d.StoreCuts(prev)
	m := start(t, d, 120, 24, false)
	if !m.Current().Equal(prev) || !m.Pruned(3, "e6k7") {
		t.Fatalf("cuts not restored:\n%s", m.Current().Marshal())
	}
	if v := m.View(); !strings.Contains(v, "cuts: 1 blocks, 1 depths") || !strings.Contains(v, "restored the session's cuts: 1 blocks, 1 depth ranges") {
		t.Errorf("restore not shown:\n%s", v)
	}
	if d.Saves() != 0 {
		t.Errorf("restoring saved %d times", d.Saves())
	}
	// An edit made before the session's cuts arrive wins over them.
	m2 := friendliness.New(common.New(context.Background(), false, 80, 24), sp, d.Devices(), d)
	late := ts.Run(m2.Init())
	m2 = press(m2, "space")
	for _, msg := range late {
		m2, _ = ts.Settle(m2, msg)
	}
	if m2.Pruned(3, "e6k7") || !m2.Pruned(1, sp.BlockChoices()[0].Key()) {
		t.Errorf("late restore replaced an edit:\n%s", m2.Current().Marshal())
	}
}

// TestLoadPrompt: o asks for a path; a missing file shows its error and
// keeps the prompt; a reduced space loads as the current cuts.
func TestLoadPrompt(t *testing.T) {
	m, d, sp := setup(t, 120, 30, false)
	m = press(m, "space")
	m = press(m, "o")
	if !m.Prompting() || !strings.Contains(m.View(), "Load a reduced space") || !strings.Contains(m.View(), "loading replaces the current cuts (1 blocks, 0 depth ranges)") {
		t.Fatalf("no prompt:\n%s", m.View())
	}
	// Keys go to the prompt, not to the table.
	missing := filepath.Join(t.TempDir(), "nope.toml")
	m, _ = ts.Settle(m, tea.PasteMsg{Content: missing})
	m = press(m, "enter")
	if !m.Prompting() || !strings.Contains(m.View(), "no such file") {
		t.Fatalf("missing file:\n%s", m.View())
	}
	for range []rune(missing) {
		m = press(m, "backspace")
	}
	npu := filepath.Join("..", "..", "spaces", "ofa-mbv3-npu.toml")
	m = press(m, strings.Split(npu, "")...)
	if !strings.Contains(m.View(), "path: "+npu+"|") {
		t.Fatalf("typed path not shown:\n%s", m.View())
	}
	m = press(m, "enter")
	if m.Prompting() {
		t.Fatalf("prompt still open:\n%s", m.View())
	}
	nb, nd := m.Cuts()
	if nb != 15 || nd != 0 || m.Pruned(1, sp.BlockChoices()[0].Key()) || !m.Pruned(1, "e6k7") {
		t.Errorf("loaded %d blocks %d depths:\n%s", nb, nd, m.Current().Marshal())
	}
	if !strings.Contains(m.View(), "loaded "+npu+": 15 blocks, 0 depth ranges cut (before: 1, 0)") {
		t.Errorf("status:\n%s", m.View())
	}
	if !d.Stored().Equal(m.Current()) {
		t.Error("the loaded cuts were not sent to the session")
	}
	r := m.Reduction("mine")
	if r.Units[4].MutationProb != 0.5 || !strings.Contains(r.Description, "cuts from: paper §5.1") {
		t.Errorf("reduction %+v", r)
	}
	// esc cancels.
	m = press(m, "o", "x", "esc")
	if m.Prompting() || m.Busy() {
		t.Error("esc does not close the prompt")
	}
}

// TestSaveErrorShown: a failed save is said in the status line and the
// next edit sends the cuts again.
func TestSaveErrorShown(t *testing.T) {
	m, d, _ := setup(t, 80, 24, false)
	d.FailSaves(errors.New("store is read-only"))
	m = press(m, "space")
	if !strings.Contains(m.View(), "cuts not saved: store is read-only") {
		t.Errorf("status:\n%s", m.View())
	}
	d.FailSaves(nil)
	m = press(m, "down", "space")
	if !d.Stored().Equal(m.Current()) || d.Saves() != 1 {
		t.Errorf("%d saves; session\n%s", d.Saves(), d.Stored().Marshal())
	}
}

func TestStatExpandDeviceMetric(t *testing.T) {
	m, d, _ := setup(t, 120, 40, false)
	var stats []friendliness.Stat
	for range friendliness.NumStats {
		m = press(m, "S")
		stats = append(stats, m.Stat())
	}
	if !slices.Equal(stats, []friendliness.Stat{friendliness.StatMean, friendliness.StatP5, friendliness.StatP95, friendliness.StatRegression}) {
		t.Errorf("stat cycle %v", stats)
	}
	m = press(m, "right", "right", "L")
	if !strings.Contains(m.View(), "unit 3 layer 1") {
		t.Errorf("expanding keeps the cursor's unit:\n%s", m.View())
	}
	m = press(m, "L")
	if !strings.Contains(m.View(), "unit 3 ·") {
		t.Errorf("collapsing keeps the cursor's unit:\n%s", m.View())
	}
	n := d.Tables()
	m = press(m, "tab")
	if m.Device() != "cpu" || d.Tables() != n+1 || m.Table().Device != "cpu" {
		t.Errorf("tab: device %s, %d tables", m.Device(), d.Tables())
	}
	m = press(m, "m")
	if m.Metric().Name != "proxy" || m.Table().Metric.Name != "proxy" {
		t.Errorf("m: metric %s", m.Metric().Name)
	}
	if v := m.View(); !strings.Contains(v, "proxy score") || !strings.Contains(v, "[proxy]") {
		t.Errorf("proxy not labelled:\n%s", v)
	}
}

func TestStale(t *testing.T) {
	m, d, _ := setup(t, 80, 24, false)
	n := d.Tables()
	// Another device's measurements do not concern the latency table.
	m, cmd := m.MarkStale("cpu")
	if cmd != nil {
		t.Error("reload for another device")
	}
	if _, cmd := m.Poll(true); cmd != nil {
		t.Error("stale without a reason")
	}
	// The device's own: within the cooldown nothing, at the end of the run at once.
	m, cmd = m.MarkStale("npu")
	if cmd != nil {
		t.Error("reload within the cooldown")
	}
	m, cmd = m.Poll(true)
	if cmd == nil {
		t.Fatal("no reload when forced")
	}
	for _, msg := range ts.Run(cmd) {
		m, _ = ts.Settle(m, msg)
	}
	if d.Tables() != n+1 {
		t.Errorf("%d tables, want %d", d.Tables(), n+1)
	}
	// An inactive view does not load.
	m, _ = m.SetActive(false)
	m, _ = m.MarkStale("npu")
	if _, cmd := m.Poll(true); cmd != nil {
		t.Error("inactive view reloads")
	}
	// Measurements do not change a table read from the plan (the proxy
	// score), on whichever device they were taken.
	m, _ = m.SetActive(true)
	m = press(m, "m")
	if m.Metric().PerDevice || m.Table() == nil {
		t.Fatalf("m: metric %s (per device %v), table %v", m.Metric().Name, m.Metric().PerDevice, m.Table() != nil)
	}
	n = d.Tables()
	for _, dev := range []string{"npu", "cpu", ""} {
		m, _ = m.MarkStale(dev)
	}
	if _, cmd := m.Poll(true); cmd != nil || m.Stale {
		t.Errorf("the proxy table goes stale on measurements (stale %v, reload %v)", m.Stale, cmd != nil)
	}
	if d.Tables() != n {
		t.Errorf("%d tables, want %d", d.Tables(), n)
	}
}

func TestDetails(t *testing.T) {
	m, _, _ := setup(t, 80, 24, false)
	m = press(m, "enter")
	if !m.Busy() {
		t.Fatal("details not open")
	}
	v := m.View()
	if !strings.Contains(v, "arch-0-") || !strings.Contains(v, "uniform archs holding") || !strings.Contains(v, "37 more") {
		t.Errorf("details:\n%s", v)
	}
	m = press(m, "esc")
	if m.Busy() {
		t.Error("esc does not close")
	}
}

func TestViewsGolden(t *testing.T) {
	cases := []struct {
		name string
		keys []string
	}{
		{"units", []string{"down", "right", "space"}},
		{"layers_cpu_p95", []string{"tab", "S", "S", "S", "L", "right"}},
		{"proxy", []string{"m"}},
		{"depth_range", []string{"right", "d", ">", "right", "d", "d"}},
		{"suggest_preview", []string{"space", "s"}},
		{"load_prompt", []string{"space", "o", "s", "p", "a", "c", "e", "s", "/"}},
	}
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s_%dx%d", c.name, sz[0], sz[1]), func(t *testing.T) {
				m, _, _ := setup(t, sz[0], sz[1], false)
				m = press(m, c.keys...)
				out := m.View()
				lines := strings.Split(out, "\n")
				if len(lines) != sz[1] {
					t.Fatalf("%d lines", len(lines))
				}
				for _, l := range lines {
					if ansi.StringWidth(l) != sz[0] {
						t.Fatalf("line %q is %d wide", l, ansi.StringWidth(l))
					}
				}
				if strings.Contains(out, "\x1b") {
					t.Error("escape sequences without colour")
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

// TestPanelsFit: the preview and the load prompt fill the screen exactly,
// with and without colour.
func TestPanelsFit(t *testing.T) {
	for _, color := range []bool{false, true} {
		for _, keys := range [][]string{{"s"}, {"o", "a", "b"}} {
			for _, sz := range [][2]int{{80, 24}, {60, 12}} {
				m, _, _ := setup(t, sz[0], sz[1], color)
				m = press(m, keys...)
				if !m.Busy() {
					t.Fatalf("%v: no panel", keys)
				}
				lines := strings.Split(m.View(), "\n")
				if len(lines) != sz[1] {
					t.Fatalf("%v colour %v %dx%d: %d lines", keys, color, sz[0], sz[1], len(lines))
				}
				for _, l := range lines {
					if w := ansi.StringWidth(l); w != sz[0] {
						t.Fatalf("%v colour %v: line %q is %d wide", keys, color, l, w)
					}
				}
			}
		}
	}
}

// TestLegendFewMarker: the legend explains the "?" marker by the table's
// minimum support, and without one by what it then marks (no interval).
func TestLegendFewMarker(t *testing.T) {
	tests := []struct {
		name      string
		noMin     bool
		want, not string
	}{
		{name: "minimum support 5", want: "? <5 archs", not: "no interval"},
		{name: "no minimum support", noMin: true, want: "? no interval", not: "archs ·"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, _, _ := setupWith(t, 160, 40, false, func(d *fakedeps.Deps) { d.NoMinSupport = tc.noMin })
			if got := m.Table().MinSupport; (got == 0) != tc.noMin {
				t.Fatalf("table MinSupport %d", got)
			}
			v := m.View()
			if !strings.Contains(v, tc.want) || strings.Contains(v, tc.not) || strings.Contains(v, "<0 archs") {
				t.Errorf("legend: want %q, not %q nor \"<0 archs\":\n%s", tc.want, tc.not, v)
			}
			// Few cells are marked only below the minimum (or without an interval).
			if marked := strings.Count(v, "?") > strings.Count(tc.want, "?"); marked == tc.noMin {
				t.Errorf("cells marked %v, want %v (the fake's cells all have intervals):\n%s", marked, !tc.noMin, v)
			}
		})
	}
}

func TestHeatColours(t *testing.T) {
	m, _, _ := setup(t, 100, 30, true)
	v := m.View()
	// The best and the worst bins differ in colour.
	if !strings.Contains(v, "\x1b[") {
		t.Fatal("no colour")
	}
	plain := ansi.Strip(v)
	if !strings.Contains(plain, "-0.500?") {
		t.Errorf("few-samples marker missing:\n%s", plain)
	}
}
