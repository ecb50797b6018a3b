package friendliness_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

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
	m := friendliness.New(common.New(context.Background(), color, w, h), sp, d.Devices(), d)
	m, cmd := m.SetActive(true)
	for _, msg := range ts.Run(cmd) {
		m, _ = ts.Settle(m, msg)
	}
	if m.Table() == nil {
		t.Fatal("no table after the view became active")
	}
	return m, d, sp
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

func TestDepthCap(t *testing.T) {
	m, _, sp := setup(t, 80, 24, false)
	u := sp.Units[0]
	want := []int{3, 2, 0, 3}
	for i, w := range want {
		m = press(m, "d")
		if got := m.DepthCap(1); got != w {
			t.Fatalf("press %d: cap %d, want %d (depths %v)", i+1, got, w, u.Depths)
		}
	}
	red, err := m.Reduction("r").ApplyTo(sp)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(red.Units[0].Depths, []int{2, 3}) || !slices.Equal(red.Units[1].Depths, sp.Units[1].Depths) {
		t.Errorf("depths %v %v", red.Units[0].Depths, red.Units[1].Depths)
	}
	if !strings.Contains(strings.Join(m.Reduction("r").Units[0].Reasons, "\n"), "cap unit 1 at depth 3: regression depth effect depth 4") {
		t.Errorf("reasons %q", m.Reduction("r").Units[0].Reasons)
	}
}

func TestReductionReasons(t *testing.T) {
	m, _, sp := setup(t, 80, 24, false)
	m = press(m, "right", "space")
	r := m.Reduction("ofa-npu")
	if r.Name != "ofa-npu" || r.Parent != sp.Name || r.Device != "npu" || !strings.Contains(r.Statistic, "regression") {
		t.Errorf("reduction %+v", r)
	}
	why := strings.Join(r.Units[1].Reasons, "\n")
	b := sp.BlockChoices()[0].Key()
	if !strings.Contains(why, "remove "+b+" from unit 2: regression -0.450 ms [-0.470, -0.430], 3 archs, on npu latency (simulated (npu))") {
		t.Errorf("reason %q", why)
	}
}

func TestSuggestion(t *testing.T) {
	m, _, sp := setup(t, 80, 24, false)
	m = press(m, "s")
	nb, nc := m.Cuts()
	if nb != 12 || nc != 1 {
		t.Fatalf("suggestion applied %d blocks, %d caps; want 12 and 1", nb, nc)
	}
	r := m.Reduction("x")
	if _, err := r.ApplyTo(sp); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Units[3].Reasons, ""), "remove k=7 in unit 4") {
		t.Errorf("suggestion's reasons lost: %q", r.Units[3].Reasons)
	}
	m = press(m, "c")
	if nb, nc := m.Cuts(); nb+nc != 0 {
		t.Errorf("clear left %d %d", nb, nc)
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
