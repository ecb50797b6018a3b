package compare_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"blockprof/tui/common"
	"blockprof/tui/compare"
	ts "blockprof/tui/internal/teststep"
)

// fake compares three devices: b is a slower copy of a, c differs on unit
// 2's e6k7 and on unit 1's depth 4.
type fake struct {
	calls int
	err   error
}

func (f *fake) Compare(_ context.Context, devices []string) (compare.Data, error) {
	f.calls++
	if f.err != nil {
		return compare.Data{}, f.err
	}
	d := compare.Data{Devices: devices, Labels: []string{"measured", "simulated (npu)", "replayed: measured on NVIDIA H100"},
		Weak: []string{"", "", "the additive fit explains little (leave-one-out R² 0.10 < 0.5)"}, Units: 2,
		ScoreName: "top-1 accuracy", ScoreLabel: "table", Normalisation: "relative", Common: 2, PerDevice: []int{3, 3, 4}}
	row := func(unit int, what string, rels []float64, differ ...string) compare.Row {
		r := compare.Row{Unit: unit, What: what, Differ: differ, SameSign: true}
		for _, x := range rels {
			r.Sides = append(r.Sides, compare.Side{Rel: x, Lo: x - 0.01, Hi: x + 0.01})
			r.SameSign = r.SameSign && (x-0.01 > 0) == (rels[0]-0.01 > 0) && math.Abs(x) > 0.01
		}
		return r
	}
	d.Rows = []compare.Row{
		row(1, "e3k3", []float64{-0.02, -0.02, -0.018}),
		row(1, "e6k7", []float64{0.03, 0.031, 0.029}),
		row(2, "e3k3", []float64{-0.01, -0.011, -0.04}, "a/c", "b/c"),
		row(2, "e6k7", []float64{0.01, 0.012, 0.06}, "a/c", "b/c"),
		row(1, "depth 2", []float64{-0.05, -0.05, -0.049}),
		row(1, "depth 4", []float64{0.05, 0.052, 0.01}, "a/c", "b/c"),
	}
	d.Pairs = []compare.Pair{{A: "a", B: "b", Archs: 30, Latency: 0.99, Blocks: 0.95, Depths: 1},
		{A: "a", B: "c", Archs: 30, Latency: 0.4, Blocks: 0.2, Depths: math.NaN()},
		{A: "b", B: "c", Archs: 30, Latency: 0.41, Blocks: 0.21, Depths: math.NaN()}}
	for i := range 30 {
		x := 1 + float64(i)/10
		p := compare.Point{Arch: "arch" + string(rune('A'+i)), Latency: []float64{x, 3 * x, x * x}, Worst: x * x / 3, Score: 70 + float64(i%7), HasScore: true}
		d.Points = append(d.Points, p)
	}
	d.Front = []int{0, 6, 13, 20}
	return d, nil
}

func devs(names ...string) []common.DeviceInfo {
	var out []common.DeviceInfo
	for _, n := range names {
		out = append(out, common.DeviceInfo{Name: n})
	}
	return out
}

func open(t *testing.T, src compare.Source, names ...string) compare.Model {
	t.Helper()
	m := compare.New(common.New(context.Background(), false, 100, 24), devs(names...), src)
	m, cmd := m.SetActive(true)
	for _, msg := range ts.Run(cmd) {
		m, _ = ts.Settle(m, msg)
	}
	return m
}

func TestViewGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys []string
	}{
		{"effects-unit1", nil},
		{"effects-unit2-pair-ac", []string{"down", "tab"}},
		{"latency-plot", []string{"m"}},
		{"worst-plot", []string{"m", "m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := open(t, &fake{}, "a", "b", "c")
			m, _ = ts.Settle(m, ts.Keys(tc.keys...)...)
			golden.RequireEqual(t, m.View())
		})
	}
}

func TestNavigation(t *testing.T) {
	f := &fake{}
	m := open(t, f, "a", "b", "c")
	if f.calls != 1 || m.Data() == nil {
		t.Fatalf("%d comparisons, data %v", f.calls, m.Data())
	}
	for _, tc := range []struct {
		keys   []string
		a, b   string
		mode   int
		differ string
	}{
		{nil, "a", "b", compare.ModeTable, "6 effects agree, 0 differ"},
		{[]string{"tab"}, "a", "c", compare.ModeTable, "3 effects agree, 3 differ"},
		{[]string{"tab", "tab"}, "b", "c", compare.ModeTable, "3 effects agree, 3 differ"},
		{[]string{"tab", "tab", "tab"}, "a", "b", compare.ModeTable, "6 effects agree, 0 differ"},
		{[]string{"m", "m", "m"}, "a", "b", compare.ModeTable, ""},
	} {
		m := open(t, f, "a", "b", "c")
		m, _ = ts.Settle(m, ts.Keys(tc.keys...)...)
		a, b := m.Pair()
		if a != tc.a || b != tc.b || m.Mode() != tc.mode {
			t.Errorf("%v: pair %s/%s mode %d, want %s/%s %d", tc.keys, a, b, m.Mode(), tc.a, tc.b, tc.mode)
		}
		if !strings.Contains(m.View(), tc.differ) {
			t.Errorf("%v: status lacks %q:\n%s", tc.keys, tc.differ, m.View())
		}
	}
	// Depth 4 of unit 1 differs between a and c only.
	m, _ = ts.Settle(m, ts.Keys("tab")...)
	line := ""
	for _, l := range strings.Split(m.View(), "\n") {
		if strings.HasPrefix(l, "depth 4") {
			line = l
		}
	}
	if !strings.Contains(line, "DIFFER") {
		t.Errorf("unit 1 depth 4 for a/c: %q, want DIFFER", line)
	}
}

func TestFewDevicesAndErrors(t *testing.T) {
	f := &fake{}
	m := open(t, f, "a")
	if f.calls != 0 || !strings.Contains(m.View(), "compare needs two or more devices; this session has 1") {
		t.Errorf("one device: %d calls\n%s", f.calls, m.View())
	}
	m = open(t, &fake{err: errors.New(`device b: too few records for the effects (6 analysed of 6)`)}, "a", "b")
	if !strings.Contains(m.View(), "device b: too few records") {
		t.Errorf("error not shown:\n%s", m.View())
	}
}
