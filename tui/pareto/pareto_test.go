package pareto_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"blockprof/model"
	"blockprof/tui/common"
	"blockprof/tui/internal/fakedeps"
	ts "blockprof/tui/internal/teststep"
	"blockprof/tui/pareto"
)

func setup(t testing.TB, w, h int, color bool, src pareto.Source, npoints int) (pareto.Model, *fakedeps.Deps, *model.Space) {
	t.Helper()
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	d := fakedeps.New(sp)
	d.NPoints = npoints
	if src == nil {
		src = d
	}
	m := pareto.New(common.New(context.Background(), color, w, h), d.Devices(), src)
	m, cmd := m.SetActive(true)
	for _, msg := range ts.Run(cmd) {
		m, _ = ts.Settle(m, msg)
	}
	if m.Data() == nil {
		t.Fatal("no data after the view became active")
	}
	return m, d, sp
}

// cut is the fake's suggested reduction of sp (no kernel 7 in units 2
// onwards, unit 1 from depth 3, the last unit to one below its largest).
func cut(t testing.TB, d *fakedeps.Deps) model.Reduction {
	s, err := d.Suggest(context.Background(), "npu", "latency")
	if err != nil {
		t.Fatal(err)
	}
	return s.Cuts.Reduction("cut")
}

func search(t testing.TB, m pareto.Model, d *fakedeps.Deps) pareto.Model {
	t.Helper()
	m, cmd := m.StartSearch(cut(t, d), "12 blocks pruned")
	if !m.Searching() {
		t.Fatal("not searching after StartSearch")
	}
	for _, msg := range ts.Run(cmd) {
		m, _ = ts.Settle(m, msg)
	}
	return m
}

func TestCursorWalksTheFront(t *testing.T) {
	m, _, _ := setup(t, 100, 30, false, nil, 0)
	n := len(m.Data().Front)
	if n < 3 {
		t.Fatalf("front of %d points", n)
	}
	if !strings.Contains(m.View(), fmt.Sprintf("stored front 1/%d", n)) {
		t.Fatalf("first point not described:\n%s", m.View())
	}
	m, _ = ts.Settle(m, ts.Keys("right", "right", "left", "right")...)
	if !strings.Contains(m.View(), fmt.Sprintf("stored front 3/%d", n)) {
		t.Errorf("cursor not on the third point:\n%s", m.View())
	}
	for range n + 5 {
		m, _ = ts.Settle(m, ts.Key("right"))
	}
	if !strings.Contains(m.View(), fmt.Sprintf("stored front %d/%d", n, n)) {
		t.Errorf("cursor past the end")
	}
	if !strings.Contains(m.View(), "proxy score [proxy]") || !strings.Contains(m.View(), "simulated (npu)") {
		t.Errorf("labels missing:\n%s", m.View())
	}
}

func TestSearch(t *testing.T) {
	m, d, _ := setup(t, 120, 40, false, nil, 0)
	m = search(t, m, d)
	if m.Searching() {
		t.Error("still searching after the result")
	}
	r := m.Result()
	if r == nil || len(r.Original) == 0 || len(r.Reduced) == 0 {
		t.Fatalf("result %+v", r)
	}
	v := m.View()
	for _, want := range []string{"original front", "reduced front", "HV original 100.0, reduced 130.0", "latency −20%", "predicted (additive)"} {
		if !strings.Contains(v, want) {
			t.Errorf("no %q in\n%s", want, v)
		}
	}
	// A second search is refused while one runs, allowed after.
	m, cmd := m.StartSearch(cut(t, d), "again")
	if cmd == nil || !m.Searching() {
		t.Error("a finished search blocks a new one")
	}
}

// blocking is a search that runs until its context ends.
type blocking struct {
	pareto.Source
	ctx chan context.Context
}

func (b blocking) Search(ctx context.Context, req pareto.SearchRequest) (<-chan pareto.SearchUpdate, error) {
	b.ctx <- ctx
	ch := make(chan pareto.SearchUpdate)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

func TestStopSearch(t *testing.T) {
	sp, _ := fakedeps.Space("ofa-mbv3-w1.0")
	d := fakedeps.New(sp)
	src := blocking{Source: d, ctx: make(chan context.Context, 1)}
	m, _, _ := setup(t, 100, 30, false, src, 0)
	m, cmd := m.StartSearch(cut(t, d), "cuts")
	for _, msg := range ts.Run(cmd) { // started; the wait for updates is dropped
		m, _ = ts.Settle(m, msg)
	}
	ctx := <-src.ctx
	m, _ = ts.Settle(m, ts.Key("G"))
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
		t.Fatal("G does not stop the search")
	}
	if !strings.Contains(m.View(), "stopping the search") {
		t.Errorf("no stop status:\n%s", m.View())
	}
}

type failing struct{ pareto.Source }

func (failing) Search(context.Context, pareto.SearchRequest) (<-chan pareto.SearchUpdate, error) {
	return nil, errors.New("no accuracy source configured")
}

func TestSearchError(t *testing.T) {
	sp, _ := fakedeps.Space("ofa-mbv3-w1.0")
	d := fakedeps.New(sp)
	m, _, _ := setup(t, 100, 30, false, failing{d}, 0)
	m = search(t, m, d)
	if m.Searching() || !strings.Contains(m.View(), "no accuracy source configured") {
		t.Errorf("error not shown:\n%s", m.View())
	}
}

func TestGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		for _, withSearch := range []bool{false, true} {
			name := fmt.Sprintf("measured_%dx%d", sz[0], sz[1])
			if withSearch {
				name = fmt.Sprintf("search_%dx%d", sz[0], sz[1])
			}
			t.Run(name, func(t *testing.T) {
				m, d, _ := setup(t, sz[0], sz[1], false, nil, 0)
				if withSearch {
					m = search(t, m, d)
				}
				m, _ = ts.Settle(m, ts.Keys("right", "right", "right")...)
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

// view10k is the Pareto view over 10,000 measured archs and a search
// result, in colour, at 120×40.
func view10k(tb testing.TB) pareto.Model {
	m, d, _ := setup(tb, 120, 40, true, nil, 10000)
	if n := len(m.Data().Points); n != 10000 {
		tb.Fatalf("%d points", n)
	}
	m = search(tb, m, d)
	m, _ = ts.Settle(m, ts.Keys("right", "right")...)
	return m
}

func BenchmarkView10k(b *testing.B) {
	m := view10k(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.View()
	}
}

// TestView10kFrameCost holds a frame with 10,000 points to a bounded
// amount of work, counted in allocations and bytes, which do not depend on
// how busy the machine is (the frame time itself is BenchmarkView10k's, in
// docs/benchmarks.md: 2.1 ms on this project's 2-core machine, budget 10 ms).
// Measured: 1,170 allocations and 203 KB a frame. The bounds are about
// twice that: a view that rebuilt per-point state every frame (10,000+
// allocations, megabytes) fails.
func TestView10kFrameCost(t *testing.T) {
	m := view10k(t)
	_ = m.View() // warm caches outside the count
	const frames = 20
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	allocs := testing.AllocsPerRun(frames, func() { _ = m.View() })
	runtime.ReadMemStats(&after)
	bytes := float64(after.TotalAlloc-before.TotalAlloc) / float64(frames+1) // AllocsPerRun adds one warm-up run
	t.Logf("View with 10,000 points: %.0f allocations, %.0f bytes per frame", allocs, bytes)
	if allocs > 2500 {
		t.Errorf("View allocates %.0f times a frame with 10,000 points, want ≤ 2500", allocs)
	}
	if bytes > 512<<10 {
		t.Errorf("View allocates %.0f bytes a frame with 10,000 points, want ≤ 512 KiB", bytes)
	}
}
