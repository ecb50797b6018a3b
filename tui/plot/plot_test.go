package plot

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
)

// checkBlock fails unless out is exactly h lines of exactly w cells
// (escape sequences excluded).
func checkBlock(t testing.TB, out string, w, h int) {
	t.Helper()
	if w <= 0 || h <= 0 {
		if out != "" {
			t.Fatalf("%dx%d: want empty output, got %q", w, h, out)
		}
		return
	}
	lines := strings.Split(out, "\n")
	if len(lines) != h {
		t.Fatalf("%dx%d: got %d lines:\n%s", w, h, len(lines), out)
	}
	for i, l := range lines {
		if got := ansi.StringWidth(l); got != w {
			t.Fatalf("%dx%d: line %d is %d cells wide: %q", w, h, i, got, l)
		}
	}
	if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
		t.Fatalf("%dx%d: output mentions NaN/Inf:\n%s", w, h, out)
	}
}

// cloud is a seeded, deterministic set of (latency ms, accuracy %) points
// shaped like a design space: accuracy saturates with latency.
func cloud(seed uint64, n int, shift float64) []XY {
	rng := rand.New(rand.NewPCG(seed, 7))
	pts := make([]XY, n)
	for i := range pts {
		x := 15 + 60*rng.Float64()
		y := 70 + shift + 8*(1-15/(x+5)) - 5*math.Sqrt(rng.Float64())
		pts[i] = XY{x, y}
	}
	return pts
}

// front is the Pareto front (min X, max Y) of pts, sorted by X; written
// here so the plot package stays independent of engine/pareto.
func front(pts []XY) []XY {
	s := slices.Clone(pts)
	slices.SortFunc(s, func(a, b XY) int {
		if a.X != b.X {
			return cmpFloat(a.X, b.X)
		}
		return cmpFloat(b.Y, a.Y)
	})
	var f []XY
	for _, p := range s {
		if len(f) == 0 || p.Y > f[len(f)-1].Y {
			f = append(f, p)
		}
	}
	return f
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func paretoSeries() []Series {
	all := cloud(1, 1500, 0)
	reduced := cloud(2, 500, 0.8)
	return []Series{
		{Name: "archs", Points: append(slices.Clone(all), reduced...)},
		{Name: "original front", Points: front(all), Front: true, Marker: '◆'},
		{Name: "reduced front", Points: front(reduced), Front: true, Marker: '●'},
	}
}

func baseOptions(w, h int) Options {
	return Options{
		Width: w, Height: h,
		XLabel: "latency", XUnit: "ms",
		YLabel: "top-1 accuracy", YUnit: "%",
		Braille: true, Staircase: true,
	}
}

func TestRenderGolden(t *testing.T) {
	pareto := paretoSeries()
	hl := pareto[2].Points[len(pareto[2].Points)/2]
	cases := []struct {
		name   string
		series []Series
		opts   func(Options) Options
	}{
		{"cloud_fronts", pareto, nil},
		{"empty", nil, nil},
		{"single_point", []Series{{Name: "arch", Points: []XY{{23.5, 76.1}}, Front: true}}, nil},
		{"highlight", pareto, func(o Options) Options { o.Highlight = &hl; return o }},
		{"dots_log_x", pareto, func(o Options) Options { o.Braille, o.Staircase, o.XLog = false, false, true; return o }},
	}
	for _, size := range [][2]int{{80, 20}, {120, 36}} {
		for _, c := range cases {
			t.Run(fmt.Sprintf("%s_%dx%d", c.name, size[0], size[1]), func(t *testing.T) {
				opts := baseOptions(size[0], size[1])
				if c.opts != nil {
					opts = c.opts(opts)
				}
				out := Render(c.series, opts)
				checkBlock(t, out, size[0], size[1])
				if strings.Contains(out, "\x1b") {
					t.Fatal("plain output holds an escape sequence")
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

func TestRenderDimensions(t *testing.T) {
	pareto := paretoSeries()
	hl := pareto[1].Points[0]
	series := map[string][]Series{
		"empty":  nil,
		"pareto": pareto,
		"single": {{Points: []XY{{5, 5}}}},
		"same x": {{Points: []XY{{3, 1}, {3, 2}, {3, 9}}, Front: true}},
		"wide names": {{Name: "前沿 front with a very long name that does not fit anywhere", Points: []XY{{1, 2}}, Marker: '界'},
			{Name: "tab\tand\nnewline\x1b[31m", Points: []XY{{2, 1}}}},
		"extreme":   {{Points: []XY{{-1e300, 1e-300}, {1e300, 1e300}, {math.NaN(), 1}, {math.Inf(1), 2}}}},
		"tiny span": {{Points: []XY{{1e15, 1}, {1e15 + 0.25, 1 + 1e-12}}}},
	}
	sizes := [][2]int{{0, 0}, {-1, 5}, {5, 0}, {1, 1}, {2, 1}, {1, 5}, {3, 3}, {7, 4}, {12, 6}, {20, 8}, {40, 12}, {80, 20}, {200, 60}}
	for name, s := range series {
		t.Run(name, func(t *testing.T) {
			for _, sz := range sizes {
				for _, variant := range []func(*Options){
					func(*Options) {},
					func(o *Options) { o.Highlight = &hl; o.Styles = DefaultStyles() },
					func(o *Options) { o.XLog, o.YLog, o.Braille = true, true, false },
					func(o *Options) { o.XRange, o.YRange = Range{10, 30}, Range{72, 76}; o.NoLegend = true },
					func(o *Options) { o.Margin = -1; o.XLabel, o.YLabel, o.XUnit, o.YUnit = "", "", "", "" },
				} {
					opts := baseOptions(sz[0], sz[1])
					variant(&opts)
					checkBlock(t, Render(s, opts), sz[0], sz[1])
				}
			}
		})
	}
}

// plotCell renders pts on a 1×1-cell plot (no axes) with fixed ranges
// [0, 2]×[0, 4], so each unit square is one braille dot.
func plotCell(pts []XY, braille bool) string {
	return Render([]Series{{Points: pts}}, Options{
		Width: 1, Height: 1, Braille: braille, NoLegend: true,
		XRange: Range{0, 2}, YRange: Range{0, 4},
	})
}

func TestBrailleDots(t *testing.T) {
	tests := []struct {
		x, y float64
		bit  rune
	}{
		{0.5, 3.5, 0x01}, {0.5, 2.5, 0x02}, {0.5, 1.5, 0x04}, {0.5, 0.5, 0x40},
		{1.5, 3.5, 0x08}, {1.5, 2.5, 0x10}, {1.5, 1.5, 0x20}, {1.5, 0.5, 0x80},
		{0, 4, 0x01}, {2, 0, 0x80}, // range corners land in the corner dots
	}
	var all []XY
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v,%v", tt.x, tt.y), func(t *testing.T) {
			if got, want := plotCell([]XY{{tt.x, tt.y}}, true), string(0x2800+tt.bit); got != want {
				t.Errorf("dot at (%v, %v) = %q (%U), want %q", tt.x, tt.y, got, []rune(got)[0], want)
			}
		})
		all = append(all, XY{tt.x, tt.y})
	}
	if got := plotCell(all, true); got != "⣿" {
		t.Errorf("all eight dots = %q, want ⣿", got)
	}
	if got := plotCell(all, false); got != string(CloudDot) {
		t.Errorf("without braille = %q, want %q", got, string(CloudDot))
	}
	if got := plotCell([]XY{{3, 1}}, true); got != " " {
		t.Errorf("point outside the fixed range drawn as %q", got)
	}
}

func TestNiceStep(t *testing.T) {
	tests := []struct {
		raw  float64
		m, e int
	}{
		{1, 1, 0}, {1.01, 2, 0}, {2, 2, 0}, {3, 5, 0}, {7, 1, 1}, {0.13, 2, -1},
		{0.0049, 5, -3}, {420, 5, 2}, {0, 1, 0}, {math.NaN(), 1, 0}, {math.Inf(1), 1, 0},
	}
	for _, tt := range tests {
		if m, e := niceStep(tt.raw); m != tt.m || e != tt.e {
			t.Errorf("niceStep(%v) = %d×10^%d, want %d×10^%d", tt.raw, m, e, tt.m, tt.e)
		}
	}
}

// TestTicksAreRound checks on many ranges that linear ticks are evenly
// spaced by 1, 2 or 5×10^k, lie in the range, and that labels parse back to
// their values and are distinct.
func TestTicksAreRound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		lo := (rng.Float64() - 0.5) * math.Pow10(rng.IntN(8)-3)
		hi := lo + rng.Float64()*math.Pow10(rng.IntN(8)-3)
		n := 5 + rng.IntN(150)
		s := newScale(false, Range{lo, hi})
		if !s.fixed {
			continue
		}
		ts := s.ticks(n, func(ts []tick) bool { return colsFit(ts, s, n, 0, n) })
		if len(ts) == 0 {
			t.Fatalf("range [%v, %v] on %d cells: no ticks", lo, hi, n)
		}
		seen := map[string]bool{}
		for i, tk := range ts {
			if tk.v < lo-1e-9*(hi-lo) || tk.v > hi+1e-9*(hi-lo) {
				t.Fatalf("tick %v outside [%v, %v]", tk.v, lo, hi)
			}
			v, err := strconv.ParseFloat(tk.label, 64)
			if err != nil || math.Abs(v-tk.v) > 1e-6*math.Max(1, math.Abs(tk.v)) {
				t.Fatalf("label %q does not read back as %v (%v)", tk.label, tk.v, err)
			}
			if seen[tk.label] {
				t.Fatalf("duplicate label %q in %v", tk.label, ts)
			}
			seen[tk.label] = true
			if i == 0 {
				continue
			}
			step := tk.v - ts[i-1].v
			e := math.Floor(math.Log10(step) + 1e-9)
			m := step / math.Pow10(int(e))
			if !slices.ContainsFunc([]float64{1, 2, 5, 10}, func(x float64) bool { return math.Abs(m-x) < 1e-6 }) {
				t.Fatalf("step %v between %v and %v is not 1, 2 or 5×10^k", step, ts[i-1].v, tk.v)
			}
		}
	}
}

func TestLogTicks(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   []string // labels that must be present
	}{
		{1, 1000, []string{"1", "10", "100", "1000"}},
		{0.001, 0.1, []string{"0.001", "0.01", "0.1"}},
		{1e-9, 1e9, []string{"1e-8", "1e0", "1e8"}}, // every other decade
		{20, 24, []string{"20.0", "22.0", "24.0"}},  // one 1..9×10^k tick only: linear ticks
	}
	for _, tt := range tests {
		s := newScale(true, Range{tt.lo, tt.hi})
		ts := s.ticks(80, func(ts []tick) bool { return colsFit(ts, s, 80, 0, 80) })
		var labels []string
		for _, tk := range ts {
			labels = append(labels, tk.label)
			if tk.v < tt.lo*(1-1e-9) || tk.v > tt.hi*(1+1e-9) {
				t.Errorf("[%v, %v]: tick %v outside the range", tt.lo, tt.hi, tk.v)
			}
		}
		for _, w := range tt.want {
			if !slices.Contains(labels, w) {
				t.Errorf("[%v, %v]: labels %v lack %q", tt.lo, tt.hi, labels, w)
			}
		}
	}
}

func TestAxisLabels(t *testing.T) {
	out := Render(paretoSeries(), baseOptions(80, 20))
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "top-1 accuracy (%)") {
		t.Errorf("first line %q does not start with the y title", lines[0])
	}
	if !strings.Contains(lines[len(lines)-2], "latency (ms)") {
		t.Errorf("x title missing from %q", lines[len(lines)-2])
	}
	legend := lines[len(lines)-1]
	for _, want := range []string{"⣿ archs", "◆ original front", "● reduced front"} {
		if !strings.Contains(legend, want) {
			t.Errorf("legend %q lacks %q", legend, want)
		}
	}
	if !strings.Contains(lines[len(lines)-4], "└") || !strings.Contains(lines[len(lines)-4], "┬") {
		t.Errorf("x axis line %q lacks corner or ticks", lines[len(lines)-4])
	}
	if strings.Count(out, "┤") < 2 {
		t.Errorf("fewer than two y ticks:\n%s", out)
	}
}

func TestHighlight(t *testing.T) {
	pts := []XY{{10, 70}, {20, 75}, {30, 77}}
	hl := pts[1]
	opts := Options{Width: 40, Height: 12, XUnit: "ms", YUnit: "%", Highlight: &hl}
	out := Render([]Series{{Name: "front", Points: pts, Front: true}}, opts)
	if got := strings.Count(out, string(HighlightMarker)); got != 2 { // plot + legend
		t.Errorf("highlight marker appears %d times, want 2:\n%s", got, out)
	}
	if !strings.Contains(out, "◉ 20.00 ms, 75.00 %") {
		t.Errorf("legend lacks the highlighted values:\n%s", out)
	}
	if got := strings.Count(out, string(FrontMarker)); got != 3 { // two points + legend
		t.Errorf("front marker appears %d times, want 3:\n%s", got, out)
	}

	opts.HighlightMarker = 'X'
	if out := Render(nil, opts); !strings.Contains(out, "X") || strings.Contains(out, "no data") {
		t.Errorf("a lone custom highlight is not drawn:\n%s", out)
	}
	opts.XRange = Range{40, 50}
	out = Render([]Series{{Points: pts}}, opts)
	if got := strings.Count(out, "X"); got != 1 { // legend only
		t.Errorf("highlight outside the fixed range: marker appears %d times, want 1 (legend):\n%s", got, out)
	}
}

func TestStaircase(t *testing.T) {
	opts := Options{Width: 5, Height: 3, XRange: Range{0, 1}, YRange: Range{0, 1}, NoLegend: true}
	tests := []struct {
		name      string
		pts       []XY
		staircase bool
		want      []string // a 5×3 block: too small for axes
	}{
		{"up", []XY{{1, 1}, {0, 0}}, true, []string{"    ◆", "    │", "◆───┘"}},
		{"down", []XY{{0, 1}, {1, 0}}, true, []string{"◆───┐", "    │", "    ◆"}},
		{"flat", []XY{{0, 0.5}, {1, 0.5}}, true, []string{"     ", "◆───◆", "     "}},
		{"vertical", []XY{{0, 0}, {0, 1}}, true, []string{"◆    ", "│    ", "◆    "}},
		{"off", []XY{{1, 1}, {0, 0}}, false, []string{"    ◆", "     ", "◆    "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.Staircase = tt.staircase
			got := strings.Split(Render([]Series{{Points: tt.pts, Front: true}}, o), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestColor(t *testing.T) {
	series := paretoSeries()
	series[1].Style = lipgloss.NewStyle().Foreground(lipgloss.Color("#ff8800"))
	series[2].Style = lipgloss.NewStyle().Foreground(lipgloss.Color("4"))
	hl := series[1].Points[0]
	opts := baseOptions(80, 20)
	opts.Highlight = &hl
	plain := Render(series, opts)
	opts.Styles = DefaultStyles()
	colored := Render(series, opts)
	if !strings.Contains(colored, "\x1b[") {
		t.Fatal("styled output has no escape sequence")
	}
	if ansi.Strip(colored) != plain {
		t.Errorf("styled output without escapes differs from plain output:\n%s\n---\n%s", ansi.Strip(colored), plain)
	}
	checkBlock(t, colored, 80, 20)
}

func TestDeterministic(t *testing.T) {
	series := paretoSeries()
	opts := baseOptions(120, 36)
	a, b := Render(series, opts), Render(series, opts)
	if a != b {
		t.Fatal("two renders of the same input differ")
	}
}

func TestNoData(t *testing.T) {
	bad := []Series{{Name: "bad", Points: []XY{{math.NaN(), 1}, {1, math.Inf(-1)}}}}
	for _, s := range [][]Series{nil, {}, {{Name: "none"}}, bad} {
		out := Render(s, Options{Width: 40, Height: 10})
		checkBlock(t, out, 40, 10)
		if !strings.Contains(out, "no data") {
			t.Errorf("no-data note missing:\n%s", out)
		}
	}
	if out := Render([]Series{{Points: []XY{{-1, 5}, {0, 6}}}}, Options{Width: 40, Height: 10, XLog: true}); !strings.Contains(out, "no data") {
		t.Errorf("non-positive points on a log axis are drawn:\n%s", out)
	}
}

func FuzzRender(f *testing.F) {
	f.Add([]byte{}, uint8(80), uint8(20), uint8(0), "archs")
	f.Add(make([]byte, 48), uint8(1), uint8(1), uint8(0xff), "")
	f.Add([]byte("0123456789abcdef0123456789abcdef"), uint8(120), uint8(36), uint8(0x15), "front\x1b")
	f.Fuzz(func(t *testing.T, data []byte, w, h, flags uint8, name string) {
		var pts []XY
		for len(data) >= 16 {
			pts = append(pts, XY{
				math.Float64frombits(leUint64(data[:8])),
				math.Float64frombits(leUint64(data[8:16])),
			})
			data = data[16:]
		}
		half := len(pts) / 2
		series := []Series{
			{Name: name, Points: pts[:half]},
			{Name: name, Points: pts[half:], Front: flags&1 != 0, Marker: rune(flags)},
		}
		opts := Options{
			Width: int(w), Height: int(h), XLabel: name, YUnit: name,
			Braille: flags&2 != 0, Staircase: flags&4 != 0, XLog: flags&8 != 0, YLog: flags&16 != 0,
		}
		if flags&32 != 0 && len(pts) > 0 {
			opts.Highlight = &pts[0]
		}
		if flags&64 != 0 && len(pts) > 1 {
			opts.XRange = Range{pts[0].X, pts[1].X}
			opts.YRange = Range{pts[0].Y, pts[1].Y}
		}
		if flags&128 != 0 {
			opts.Styles = DefaultStyles()
		}
		checkBlock(t, Render(series, opts), int(w), int(h))
	})
}

func leUint64(b []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func BenchmarkRender10k(b *testing.B) {
	pts := cloud(5, 10000, 0)
	f := front(pts)
	hl := f[len(f)/2]
	series := []Series{{Name: "archs", Points: pts}, {Name: "front", Points: f, Front: true}}
	opts := baseOptions(120, 36)
	opts.Highlight = &hl
	b.ReportAllocs()
	for b.Loop() {
		Render(series, opts)
	}
}
