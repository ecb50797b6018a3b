// Package plot renders scatter plots and Pareto fronts as a block of text:
// a braille dot cloud for dense series, rune markers (optionally joined by a
// staircase) for fronts, a highlighted point for the cursor, axes with round
// tick values, axis titles and a one-line legend.
//
// Render is a pure function of its arguments: the same input gives the same
// string, which makes it easy to golden-test and to call from any View. It
// emits escape sequences only when Options.Styles is set.
package plot

import (
	"math"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// XY is one point in data coordinates.
type XY struct{ X, Y float64 }

// Default glyphs.
const (
	FrontMarker     = '◆' // default marker of a front series
	HighlightMarker = '◉' // default marker of the highlighted point
	CloudDot        = '·' // a cloud cell when Options.Braille is off
	brailleBase     = 0x2800
	brailleFull     = '⣿' // legend glyph of a braille cloud
)

// Series is one set of points.
//
// A series with neither Marker nor Front is a dot cloud: with Options.Braille
// each cell holds 2×4 braille dots, otherwise a cell with any point shows
// CloudDot. Series with a Marker or Front are drawn as one rune per occupied
// cell on top of all clouds, later series over earlier ones.
type Series struct {
	Name   string // legend text; a series without a name is left out of the legend
	Points []XY
	// Marker is the rune drawn at each point. Zero means a cloud, or
	// FrontMarker for a front. Runes that are not one cell wide are replaced
	// by the default.
	Marker rune
	// Front marks a Pareto front: drawn with markers and, with
	// Options.Staircase, joined in X order by a staircase (across to the next
	// point's X, then up or down to its Y).
	Front bool
	// Style colours the series' dots, markers, staircase and legend glyph.
	// It is used only when Options.Styles is set.
	Style lipgloss.Style
}

// Range is a fixed axis range. The zero Range (or any range that is not
// finite with Min < Max, or not positive on a log axis) means automatic.
type Range struct{ Min, Max float64 }

func (r Range) fixed(log bool) bool {
	ok := r.Min < r.Max && !math.IsInf(r.Min, 0) && !math.IsInf(r.Max, 0)
	return ok && (!log || r.Min > 0)
}

// DefaultMargin is the automatic range's padding on each side, as a fraction
// of the data span.
const DefaultMargin = 0.05

// Options controls the layout. Only Width and Height are required.
type Options struct {
	// Width and Height are the size of the block in terminal cells. Render
	// returns exactly Height lines of exactly Width cells (no trailing
	// newline); nothing when either is not positive. Parts are dropped as
	// space runs out: legend, x title, y title, tick labels, axes.
	Width, Height int

	XLabel, YLabel string // axis titles, e.g. "latency", "top-1 accuracy"
	XUnit, YUnit   string // units, shown in parentheses after the titles

	// XRange and YRange fix the axes; the zero Range fits the data (and the
	// highlighted point) with Margin on each side. Points outside a fixed
	// range are not drawn.
	XRange, YRange Range
	// Margin is the automatic padding as a fraction of the data span:
	// 0 means DefaultMargin, a negative value means none.
	Margin float64
	// XLog and YLog use base-10 logarithmic axes; points <= 0 on a log axis
	// are not drawn.
	XLog, YLog bool

	// Highlight is the point under the cursor, drawn above everything with
	// HighlightMarker (default '◉') and listed with its values in the legend.
	Highlight       *XY
	HighlightMarker rune

	Braille   bool // draw clouds as braille dots (2×4 per cell) instead of CloudDot cells
	Staircase bool // join the points of front series with a staircase
	NoLegend  bool // leave out the legend line

	// Styles colours the output. Nil gives plain text without any escape
	// sequence: use it for NO_COLOR and golden files.
	Styles *Styles
}

// Styles are the colours of the parts other than the series.
type Styles struct {
	Axis      lipgloss.Style // axis lines and tick marks
	Tick      lipgloss.Style // tick labels and the "no data" note
	Title     lipgloss.Style // axis titles
	Legend    lipgloss.Style // legend text (glyphs take their series' Style)
	Highlight lipgloss.Style // the highlighted point's marker
}

// DefaultStyles returns muted axes and a reverse-video highlight.
func DefaultStyles() *Styles {
	grey := lipgloss.Color("8")
	return &Styles{
		Axis:      lipgloss.NewStyle().Foreground(grey),
		Tick:      lipgloss.NewStyle().Foreground(grey),
		Title:     lipgloss.NewStyle().Bold(true),
		Legend:    lipgloss.NewStyle(),
		Highlight: lipgloss.NewStyle().Reverse(true).Bold(true),
	}
}

// Style ids of a run of text; series i uses styleSeries+i.
const (
	stylePlain = iota
	styleAxis
	styleTick
	styleTitle
	styleLegend
	styleHighlight
	styleSeries
)

// run is a piece of a line in one style.
type run struct {
	text  string
	style int
}

// cell is one terminal cell of the plot area or the axis row.
type cell struct {
	r     rune
	style int
}

// Render draws series into a Width×Height block; see Options. It never
// panics: points with NaN or infinite coordinates (or beyond ±1e300) are
// skipped, and empty input or zero ranges still give sensible axes.
func Render(series []Series, opts Options) string {
	w, h := opts.Width, opts.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	xs := newScale(opts.XLog, opts.XRange)
	ys := newScale(opts.YLog, opts.YRange)
	hl, hasHL := XY{}, false
	if opts.Highlight != nil && xs.ok(opts.Highlight.X) && ys.ok(opts.Highlight.Y) {
		hl, hasHL = *opts.Highlight, true
	}
	hasData := false
	for _, s := range series {
		for _, p := range s.Points {
			if xs.ok(p.X) && ys.ok(p.Y) {
				xs.add(p.X)
				ys.add(p.Y)
				hasData = true
			}
		}
	}
	if hasHL {
		xs.add(hl.X)
		ys.add(hl.Y)
	}
	margin := opts.Margin
	if margin == 0 {
		margin = DefaultMargin
	}
	xs.finish(max(margin, 0))
	ys.finish(max(margin, 0))

	// Rows: y title, plot, axis, tick labels, x title, legend.
	yTitle := title(opts.YLabel, opts.YUnit)
	xTitle := title(opts.XLabel, opts.XUnit)
	var legend []run
	if !opts.NoLegend {
		legend = legendRuns(series, opts, hl, hasHL)
	}
	show := struct{ yTitle, axes, labels, xTitle, legend bool }{
		yTitle != "", true, true, xTitle != "", len(legend) > 0,
	}
	chrome := func() int {
		n := 0
		for _, b := range []bool{show.yTitle, show.axes, show.labels, show.xTitle, show.legend} {
			if b {
				n++
			}
		}
		return n
	}
	for _, drop := range []*bool{&show.legend, &show.xTitle, &show.yTitle, &show.labels, &show.axes} {
		if h-chrome() >= 3 {
			break
		}
		*drop = false
	}
	plotH := h - chrome()

	// Y ticks depend only on the plot height; their labels set the gutter.
	yTicks := ys.ticks(plotH, func(t []tick) bool { return rowsFit(t, ys, plotH) })
	gutter, labelW := 0, 0
	if show.axes {
		gutter = 1
		if show.labels {
			for _, t := range yTicks {
				labelW = max(labelW, len(t.label))
			}
			if labelW > 0 && w-(labelW+2) >= 3 {
				gutter = labelW + 2
			} else {
				labelW = 0
			}
		}
		if w-gutter < 1 {
			gutter, labelW = 0, 0
		}
	}
	plotW := w - gutter
	xTicks := xs.ticks(plotW, func(t []tick) bool { return colsFit(t, xs, plotW, gutter, w) })

	// Plot area.
	grid := make([]cell, plotW*plotH)
	for i := range grid {
		grid[i] = cell{' ', stylePlain}
	}
	drawSeries(grid, plotW, plotH, series, opts, xs, ys)
	if hasHL {
		m := validMarker(opts.HighlightMarker, HighlightMarker)
		c, r := xs.cell(hl.X, plotW), ys.cellTop(hl.Y, plotH)
		if c >= 0 && r >= 0 {
			grid[r*plotW+c] = cell{m, styleHighlight}
		}
	}
	if !hasData && !hasHL {
		const note = "no data"
		if plotW >= len(note) {
			r, c := (plotH-1)/2, (plotW-len(note))/2
			for i, ch := range note {
				grid[r*plotW+c+i] = cell{ch, styleTick}
			}
		}
	}

	lines := make([][]run, 0, h)
	if show.yTitle {
		lines = append(lines, textLine(yTitle, styleTitle, 0, w))
	}
	for r := range plotH {
		var runs []run
		if gutter > 0 {
			label, axis := "", '│'
			for _, t := range yTicks {
				if ys.cellTop(t.v, plotH) == r {
					label, axis = t.label, '┤'
				}
			}
			if labelW > 0 {
				runs = append(runs, run{strings.Repeat(" ", labelW-len(label)) + label + " ", styleTick})
			}
			runs = append(runs, run{string(axis), styleAxis})
		}
		lines = append(lines, appendCells(runs, grid[r*plotW:(r+1)*plotW]))
	}
	if show.axes {
		axis := make([]cell, w)
		for i := range axis {
			axis[i] = cell{' ', stylePlain}
		}
		if gutter > 0 {
			axis[gutter-1] = cell{'└', styleAxis}
		}
		for c := gutter; c < w; c++ {
			axis[c] = cell{'─', styleAxis}
		}
		for _, t := range xTicks {
			axis[gutter+xs.cell(t.v, plotW)] = cell{'┬', styleAxis}
		}
		lines = append(lines, appendCells(nil, axis))
	}
	if show.labels {
		row := []byte(strings.Repeat(" ", w))
		last := -2 // end of the previous label, for greedy placement
		for _, t := range xTicks {
			start := labelStart(t, xs, plotW, gutter, w)
			if start <= last+1 {
				continue
			}
			copy(row[start:], t.label)
			last = start + len(t.label) - 1
		}
		lines = append(lines, []run{{string(row), styleTick}})
	}
	if show.xTitle {
		tw := ansi.StringWidth(xTitle)
		lines = append(lines, textLine(xTitle, styleTitle, gutter+max(0, (plotW-tw)/2), w))
	}
	if show.legend {
		lines = append(lines, fitRuns(legend, w))
	}
	return join(lines, series, opts.Styles, w, h)
}

// drawSeries fills the plot area: clouds, then staircases, then markers.
func drawSeries(grid []cell, plotW, plotH int, series []Series, opts Options, xs, ys *scale) {
	var bits []uint8
	for i, s := range series {
		if s.Marker != 0 || s.Front {
			continue
		}
		if bits == nil {
			bits = make([]uint8, len(grid))
		}
		for _, p := range s.Points {
			if !xs.ok(p.X) || !ys.ok(p.Y) {
				continue
			}
			px, py := xs.cell(p.X, 2*plotW), ys.cellTop(p.Y, 4*plotH)
			if px < 0 || py < 0 {
				continue
			}
			k := (py/4)*plotW + px/2
			if opts.Braille {
				bits[k] |= brailleBit(px%2, py%4)
				grid[k] = cell{rune(brailleBase + int(bits[k])), styleSeries + i}
			} else {
				grid[k] = cell{CloudDot, styleSeries + i}
			}
		}
	}
	// Cells of each marker series, in X order for the staircase.
	type at struct{ c, r int }
	cells := make([][]at, len(series))
	for i, s := range series {
		if s.Marker == 0 && !s.Front {
			continue
		}
		for _, p := range s.Points {
			if !xs.ok(p.X) || !ys.ok(p.Y) {
				continue
			}
			c, r := xs.cell(p.X, plotW), ys.cellTop(p.Y, plotH)
			if c >= 0 && r >= 0 {
				cells[i] = append(cells[i], at{c, r})
			}
		}
	}
	if opts.Staircase {
		for i, s := range series {
			if !s.Front || len(cells[i]) < 2 {
				continue
			}
			pts := slices.Clone(cells[i])
			slices.SortStableFunc(pts, func(a, b at) int {
				if a.c != b.c {
					return a.c - b.c
				}
				return b.r - a.r // bottom first, so a column climbs
			})
			set := func(c, r int, ch rune) { grid[r*plotW+c] = cell{ch, styleSeries + i} }
			for k := 1; k < len(pts); k++ {
				a, b := pts[k-1], pts[k]
				for c := a.c + 1; c < b.c; c++ {
					set(c, a.r, '─')
				}
				if b.c > a.c {
					switch {
					case b.r < a.r:
						set(b.c, a.r, '┘')
					case b.r > a.r:
						set(b.c, a.r, '┐')
					default:
						set(b.c, a.r, '─')
					}
				}
				for r := min(a.r, b.r) + 1; r < max(a.r, b.r); r++ {
					set(b.c, r, '│')
				}
			}
		}
	}
	for i, s := range series {
		m := validMarker(s.Marker, FrontMarker)
		for _, p := range cells[i] {
			grid[p.r*plotW+p.c] = cell{m, styleSeries + i}
		}
	}
}

// brailleBit is the dot of column x (0, 1) and row y (0..3) of a braille cell.
func brailleBit(x, y int) uint8 {
	if x == 0 {
		return [4]uint8{0x01, 0x02, 0x04, 0x40}[y]
	}
	return [4]uint8{0x08, 0x10, 0x20, 0x80}[y]
}

// validMarker returns m if it is a printable rune one cell wide, else def.
func validMarker(m, def rune) rune {
	if m == 0 || !unicode.IsPrint(m) || ansi.StringWidth(string(m)) != 1 {
		return def
	}
	return m
}

// legendRuns lists the named series and the highlighted point.
func legendRuns(series []Series, opts Options, hl XY, hasHL bool) []run {
	var runs []run
	sep := func() {
		if len(runs) > 0 {
			runs = append(runs, run{"  ", styleLegend})
		}
	}
	for i, s := range series {
		name := sanitize(s.Name)
		if name == "" {
			continue
		}
		glyph := validMarker(s.Marker, FrontMarker)
		if s.Marker == 0 && !s.Front {
			glyph = CloudDot
			if opts.Braille {
				glyph = brailleFull
			}
		}
		sep()
		runs = append(runs, run{string(glyph), styleSeries + i}, run{" " + name, styleLegend})
	}
	if hasHL {
		sep()
		text := " " + withUnit(formatValue(hl.X), opts.XUnit) + ", " + withUnit(formatValue(hl.Y), opts.YUnit)
		runs = append(runs, run{string(validMarker(opts.HighlightMarker, HighlightMarker)), styleHighlight}, run{text, styleLegend})
	}
	return runs
}

func withUnit(v, unit string) string {
	if unit = sanitize(unit); unit != "" {
		return v + " " + unit
	}
	return v
}

// title is "label (unit)", "label" or "(unit)".
func title(label, unit string) string {
	label, unit = sanitize(label), sanitize(unit)
	switch {
	case unit == "":
		return label
	case label == "":
		return "(" + unit + ")"
	default:
		return label + " (" + unit + ")"
	}
}

// sanitize replaces control and other non-printable runes with spaces and
// trims the result, so caller text cannot break the layout.
func sanitize(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, s))
}

// textLine places text at column at of a w-cell line, truncating it.
func textLine(text string, style, at, w int) []run {
	at = min(at, w)
	return fitRuns([]run{{strings.Repeat(" ", at), stylePlain}, {text, style}}, w)
}

// fitRuns truncates runs to w cells (with an ellipsis) and pads them to w.
func fitRuns(runs []run, w int) []run {
	out := make([]run, 0, len(runs)+1)
	used := 0
	for _, r := range runs {
		rw := ansi.StringWidth(r.text)
		if used+rw > w {
			t := ansi.Truncate(r.text, w-used, "…")
			out = append(out, run{t, r.style})
			used += ansi.StringWidth(t)
			break
		}
		out = append(out, r)
		used += rw
	}
	if used < w {
		out = append(out, run{strings.Repeat(" ", w-used), stylePlain})
	}
	return out
}

// appendCells appends cells to runs, merging neighbours of the same style.
func appendCells(runs []run, cells []cell) []run {
	var b strings.Builder
	b.Grow(3 * len(cells))
	type span struct{ end, style int }
	var spans []span
	for i, c := range cells {
		if i > 0 && c.style != cells[i-1].style {
			spans = append(spans, span{b.Len(), cells[i-1].style})
		}
		b.WriteRune(c.r)
	}
	if len(cells) > 0 {
		spans = append(spans, span{b.Len(), cells[len(cells)-1].style})
	}
	s, from := b.String(), 0
	for _, sp := range spans {
		runs = append(runs, run{s[from:sp.end], sp.style})
		from = sp.end
	}
	return runs
}

// join renders the lines, colouring runs when styles is set.
func join(lines [][]run, series []Series, styles *Styles, w, h int) string {
	var b strings.Builder
	b.Grow(h * (3*w + 1))
	for i, line := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		for _, r := range line {
			if styles == nil || r.style == stylePlain || strings.TrimSpace(r.text) == "" {
				b.WriteString(r.text)
				continue
			}
			var st lipgloss.Style
			switch r.style {
			case styleAxis:
				st = styles.Axis
			case styleTick:
				st = styles.Tick
			case styleTitle:
				st = styles.Title
			case styleLegend:
				st = styles.Legend
			case styleHighlight:
				st = styles.Highlight
			default:
				st = series[r.style-styleSeries].Style
			}
			b.WriteString(st.Render(r.text))
		}
	}
	return b.String()
}
