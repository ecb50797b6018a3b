package friendliness

import (
	"fmt"
	"math"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"blockprof/tui/common"
)

const (
	labelW  = 10 // row labels ("MBConv6-7", "C100-B35")
	valueW  = 6  // a cell's number
	glyphW  = 3  // the heat symbol without colour ("++ ")
	footerH = 4  // legend, two lines of cell info, status
)

// cellW is a cell's width: padding or brackets, heat symbol (no colour),
// number, marker.
func (m Model) cellW() int {
	w := valueW + 1 + 2
	if !m.c.Color {
		w += glyphW
	}
	return w
}

func (m *Model) fixScroll() {
	cols := m.columns()
	m.col = min(m.col, max(len(cols)-1, 0))
	n := m.visibleCols()
	if m.col < m.colOff {
		m.colOff = m.col
	}
	if m.col >= m.colOff+n {
		m.colOff = m.col - n + 1
	}
	m.colOff = max(min(m.colOff, len(cols)-n), 0)
}

func (m Model) visibleCols() int {
	return max((m.c.Width-labelW-2)/m.cellW(), 1)
}

// View renders the view in exactly Width×Height cells.
func (m Model) View() string {
	w, h := m.c.Width, m.c.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	var lines []string
	lines = append(lines, m.header()...)
	switch {
	case m.space == nil:
		lines = append(lines, "no search space")
	case m.prompt != nil:
		lines = append(lines, m.promptView()...)
	case m.preview != nil:
		lines = append(lines, m.previewView(h-len(lines)-1)...)
	case m.Busy():
		lines = append(lines, m.detailView(h-len(lines)-1)...)
	default:
		lines = append(lines, m.grid(h-len(lines)-footerH)...)
		lines = append(lines, m.legend(), "")
		lines = append(lines, m.cellInfo()...)
	}
	body := common.Block(strings.Join(lines, "\n"), w, h-1)
	return body + "\n" + common.Fit(m.c.Styles.Status.Render(m.status), w)
}

func (m Model) header() []string {
	st := m.c.Styles
	mt := m.Metric()
	t := m.table
	dev := m.Device()
	label := ""
	if t != nil {
		label = t.Label
	}
	if label == "" {
		label = mt.Label
		if mt.PerDevice && m.dev < len(m.devices) {
			label = m.devices[m.dev].Source()
		}
	}
	space := "?"
	if m.space != nil {
		space = m.space.Name
	}
	if t != nil && t.Resolution > 0 {
		space += fmt.Sprintf(" @%d", t.Resolution)
	}
	l1 := st.Title.Render("Friendliness") + " · " + space
	if mt.PerDevice || dev != "" {
		l1 += " · device " + st.Bold.Render(orDash(dev))
	}
	l1 += " · " + mt.Title() + " [" + st.Label.Render(orDash(label)) + "]"

	var l2 string
	switch {
	case m.err != nil && t == nil:
		l2 = st.Error.Render(m.stat.String() + ": " + m.err.Error())
	case t == nil && m.Loading:
		l2 = "computing the table from the store…"
	case t == nil:
		l2 = st.Muted.Render("no table yet")
	default:
		l2 = fmt.Sprintf("%s · %d uniform, %d A_{u,l,b} · E[M(A)] %s %s", st.Bold.Render(m.stat.String()), t.Uniform, t.Fixed, common.Num(t.Baseline.Value, 4), t.Metric.Unit)
		if t.Baseline.HasCI() {
			l2 += fmt.Sprintf(" [%s, %s]", common.Num(t.Baseline.Lo, 3), common.Num(t.Baseline.Hi, 3))
		}
		if m.expand {
			l2 += " · layers"
		}
		if m.Loading {
			l2 += " · updating…"
		} else if m.err != nil {
			l2 += " · " + st.Error.Render("last update failed: "+m.err.Error())
		}
	}
	if b, c := m.Cuts(); b+c > 0 {
		l2 += fmt.Sprintf(" · cuts: %d blocks, %d depths", b, c)
	}
	if t != nil && t.Evidence != "" {
		ev := t.Evidence
		if t.Weak {
			ev = st.Warn.Render(ev)
		}
		l2 += " · " + ev
	}
	return []string{ansi.Truncate(l1, m.c.Width, "…"), ansi.Truncate(l2, m.c.Width, "…")}
}

// grid renders the table in at most h lines.
func (m Model) grid(h int) []string {
	st := m.c.Styles
	cols := m.columns()
	cw := m.cellW()
	n := m.visibleCols()
	end := min(m.colOff+n, len(cols))
	var lines []string

	// Column headers.
	hdr := common.Fit("", labelW)
	for _, k := range cols[m.colOff:end] {
		name := fmt.Sprintf("unit %d", k.Unit)
		if m.expand {
			name = fmt.Sprintf("u%d.l%d", k.Unit, k.Layer)
		}
		if cw < 9 && !m.expand {
			name = fmt.Sprintf("u%d", k.Unit)
		}
		hdr += common.FitRight(name, cw-1) + " "
	}
	more := ""
	if m.colOff > 0 {
		more += "‹"
	}
	if end < len(cols) {
		more += "›"
	}
	lines = append(lines, st.Header.Render(hdr)+more)

	scale := m.scale(cols)
	for r, b := range m.blocks {
		line := common.Fit(b.Label(), labelW)
		for i := m.colOff; i < end; i++ {
			k := cols[i]
			k.Block = b.Key()
			line += m.cell(k, r == m.row && i == m.col, scale)
		}
		lines = append(lines, line)
	}

	// Depth effects of the regression (unit columns only), then the depths
	// the cuts keep.
	if !m.expand && m.table != nil && len(m.table.DepthEffects) > 0 && m.space != nil {
		maxD := 0
		for _, u := range m.space.Units {
			maxD = max(maxD, u.MaxDepth())
		}
		dscale := 0.0
		for _, e := range m.table.DepthEffects {
			dscale = max(dscale, math.Abs(e.Value))
		}
		for d := 1; d <= maxD; d++ {
			any := false
			line := common.Fit(fmt.Sprintf("depth %d", d), labelW)
			for i := m.colOff; i < end; i++ {
				e, ok := m.table.DepthEffects[[2]int{cols[i].Unit, d}]
				if !ok {
					line += common.FitRight("·", cw-2) + "  "
					continue
				}
				any = true
				text := m.valueText(e.Value, dscale, false, false)
				lo, hi := m.cuts.Depths(cols[i].Unit)
				cut := d < lo || d > hi
				if cut {
					text = common.FitRight("cut", len(text))
				}
				line += " " + m.heatStyle(e.Value, dscale, cut, false).Render(text) + " "
			}
			if any {
				lines = append(lines, line)
			}
		}
	}
	line := common.Fit("depths", labelW)
	for i := m.colOff; i < end; i++ {
		k := cols[i]
		u := m.space.Units[k.Unit-1]
		lo, hi := m.cuts.Depths(k.Unit)
		cut := lo != u.MinDepth() || hi != u.MaxDepth()
		var s string
		switch {
		case m.expand && k.Layer > hi:
			s = "cut"
		case m.expand:
			s = ""
		case cut && lo == hi:
			s = fmt.Sprintf("%d✂", lo)
		case cut:
			s = fmt.Sprintf("%d-%d✂", lo, hi)
		default:
			s = fmt.Sprintf("%d-%d", lo, hi)
		}
		line += common.FitRight(s, cw-1) + " "
	}
	lines = append(lines, st.Muted.Render(line))
	if len(lines) > h && h > 0 {
		// Keep the header, the cursor's row and as many rows around it as fit.
		keep := max(h-1, 1)
		start := min(max(m.row+1-keep/2, 1), max(len(lines)-keep, 1))
		lines = append(lines[:1], lines[start:min(start+keep, len(lines))]...)
	}
	return lines
}

// scale is the largest magnitude of the statistic over the table's cells
// of the current columns kind: the heat map's full scale.
func (m Model) scale(cols []Key) float64 {
	if m.table == nil {
		return 0
	}
	s := 0.0
	for _, k := range cols {
		for _, b := range m.blocks {
			k.Block = b.Key()
			if v := m.table.Cells[k][m.stat]; v != nil && !math.IsNaN(v.Value) {
				s = max(s, math.Abs(v.Value))
			}
		}
	}
	return s
}

func (m Model) higherIsBetter() bool {
	if m.table != nil {
		return m.table.Metric.HigherIsBetter
	}
	return m.Metric().HigherIsBetter
}

// valueText is a cell's text without padding: heat symbol (no colour),
// number, marker.
func (m Model) valueText(v, scale float64, few, pruned bool) string {
	s := fitNum(v, valueW)
	mark := " "
	switch {
	case pruned:
		mark = "✗"
	case few:
		mark = "?"
	}
	if !m.c.Color {
		return common.Fit(common.HeatGlyph(common.HeatLevel(v, scale, m.higherIsBetter())), glyphW) + s + mark
	}
	return s + mark
}

func (m Model) heatStyle(v, scale float64, pruned, few bool) lipgloss.Style {
	st := m.c.Styles
	switch {
	case pruned:
		return st.Pruned
	case few:
		return st.Heat(common.HeatLevel(v, scale, m.higherIsBetter())).Inherit(st.Few)
	}
	return st.Heat(common.HeatLevel(v, scale, m.higherIsBetter()))
}

// cell renders one cell, cw wide.
func (m Model) cell(k Key, selected bool, scale float64) string {
	st := m.c.Styles
	inner := m.cellW() - 2
	pruned := m.cuts.Pruned(k.Unit, k.Block)
	var text string
	style := lipgloss.NewStyle()
	_, hi := m.cuts.Depths(k.Unit)
	capped := m.expand && k.Layer > hi
	switch {
	case !m.allows(k.Unit, k.Block):
		text = common.FitRight("·", inner)
		style = st.Muted
	case capped:
		text = common.FitRight("cut", inner)
		style = st.Pruned
	default:
		var v *Value
		if m.table != nil {
			v = m.table.Cells[k][m.stat]
		}
		if v == nil || math.IsNaN(v.Value) {
			mark := " "
			if pruned {
				mark = "✗"
			}
			text = common.FitRight("–"+mark, inner)
			if pruned {
				style = st.Pruned
			}
		} else {
			text = common.FitRight(m.valueText(v.Value, scale, v.Few, pruned), inner)
			style = m.heatStyle(v.Value, scale, pruned, v.Few)
		}
	}
	if selected {
		if m.c.Color {
			return st.Cursor.Render(" " + text + " ")
		}
		return "[" + text + "]"
	}
	return " " + style.Render(text) + " "
}

// fitNum formats v in at most w cells, signed, with as many digits as fit.
func fitNum(v float64, w int) string {
	for d := 3; d >= 1; d-- {
		if s := common.Signed(v, d); len(s) <= w {
			return common.FitRight(s, w)
		}
	}
	s := fmt.Sprintf("%+.0e", v)
	if len(s) > w {
		s = strings.Replace(s, "e+0", "e", 1)
		s = strings.Replace(s, "e-0", "e-", 1)
	}
	return common.FitRight(s, w)
}

func (m Model) legend() string {
	st := m.c.Styles
	words := []string{"much better", "better", "≈0", "worse", "much worse"}
	var parts []string
	for i, wd := range words {
		if m.c.Color {
			parts = append(parts, st.Heat(i).Render("■")+" "+wd)
		} else {
			parts = append(parts, strings.TrimSpace(common.HeatGlyph(i))+" "+wd)
		}
	}
	min := 0
	if m.table != nil {
		min = m.table.MinSupport
	}
	s := strings.Join(parts, "  ") + " · " + fewLegend(min) + " · ✗ pruned · · not a choice"
	if sc := m.scale(m.columns()); sc > 0 {
		s = fmt.Sprintf("scale ±%s: ", common.Num(sc, 2)) + s
	}
	return ansi.Truncate(s, m.c.Width, "…")
}

// fewLegend explains the few-support marker: fewer than min archs behind a
// cell, or, without a minimum (min ≤ 0), no interval (Value.Few).
func fewLegend(min int) string {
	if min <= 0 {
		return "? no interval"
	}
	return fmt.Sprintf("? <%d archs", min)
}

func (m Model) cellInfo() []string {
	st := m.c.Styles
	k := m.cursorKey()
	if k.Unit == 0 {
		return nil
	}
	b := m.blocks[m.row]
	where := fmt.Sprintf("unit %d", k.Unit)
	if m.expand {
		where = fmt.Sprintf("unit %d layer %d", k.Unit, k.Layer)
	}
	l1 := st.Bold.Render(where+" · "+b.Label()) + " (" + b.Key() + ")"
	if !m.allows(k.Unit, k.Block) {
		return []string{l1 + " · not a choice of this unit", ""}
	}
	var l2 string
	t := m.table
	if t != nil {
		if v := t.Cells[k][m.stat]; v != nil {
			l1 += " · " + m.stat.String() + " " + common.Signed(v.Value, 4) + " " + t.Metric.Unit
			if v.HasCI() {
				l1 += fmt.Sprintf(" [%s, %s]", common.Num(v.Lo, 3), common.Num(v.Hi, 3))
			}
			l1 += fmt.Sprintf(" · %d archs", v.Support)
			if v.Few {
				l1 += " " + st.Warn.Render("(few)")
			}
		} else {
			l2 = m.missingNote()
		}
		var others []string
		for s := range NumStats {
			if Stat(s) == m.stat {
				continue
			}
			if v := t.Cells[k][s]; v != nil {
				others = append(others, Stat(s).Short()+" "+common.Signed(v.Value, 3))
			}
		}
		if l2 == "" && len(others) > 0 {
			l2 = "also: " + strings.Join(others, " · ")
		}
	}
	if m.cuts.Pruned(k.Unit, k.Block) {
		l1 += " · " + st.Warn.Render("pruned ✗")
	}
	return []string{ansi.Truncate(l1, m.c.Width, "…"), ansi.Truncate(st.Muted.Render(l2), m.c.Width, "…")}
}

func (m Model) missingNote() string {
	t := m.table
	switch {
	case (m.stat == StatP5 || m.stat == StatP95) && !m.expand:
		return "Eq. 3 percentiles are defined per layer: press L for layer positions"
	case m.stat != StatRegression && t != nil && t.Fixed == 0:
		return "Eq. 2/3 need A_{u,l,b} samples: set [plan] per_location > 0 (the regression effect needs none)"
	case t != nil && len(t.Notes) > 0:
		return t.Notes[0]
	}
	return "no value for this cell yet"
}

func (m Model) detailView(h int) []string {
	st := m.c.Styles
	if m.detailErr != nil {
		return []string{"", st.Error.Render("details: " + m.detailErr.Error()), "", st.Muted.Render("esc closes")}
	}
	d := m.details
	t := m.table
	unit, lbl := "", ""
	if t != nil {
		unit, lbl = t.Metric.Unit, source(t)
	}
	where := fmt.Sprintf("unit %d", d.Key.Unit)
	if d.Key.Layer > 0 {
		where += fmt.Sprintf(" layer %d", d.Key.Layer)
	}
	lines := []string{"", st.Bold.Render(where+" · "+d.Key.Block+" · "+d.Stat.String()) + " · " + lbl}
	if v := d.Value; v != nil {
		s := fmt.Sprintf("value %s %s", common.Signed(v.Value, 4), unit)
		if v.HasCI() {
			level := 0.95
			if t != nil && t.Level > 0 {
				level = t.Level
			}
			s += fmt.Sprintf(", %g%% interval [%s, %s]", level*100, common.Num(v.Lo, 4), common.Num(v.Hi, 4))
		}
		if !math.IsNaN(v.SE) && v.SE > 0 {
			s += ", SE " + common.Num(v.SE, 3)
		}
		s += fmt.Sprintf(", n=%d, %d archs behind it", v.N, v.Support)
		if v.Few {
			s += " " + st.Warn.Render("(few samples)")
		}
		lines = append(lines, strings.Split(common.Wrap(s, m.c.Width), "\n")...)
	} else {
		lines = append(lines, "no value for this statistic here")
	}
	for _, n := range d.Notes {
		lines = append(lines, st.Muted.Render(n))
	}
	lines = append(lines, fmt.Sprintf("%s: %d (sorted by value; ↑/↓ scroll, esc closes)", orDash(d.Role), d.Total))
	room := max(h-len(lines), 1)
	for i := d.detailStart(m.detailOff); i < len(d.Archs) && room > 0; i++ {
		a := d.Archs[i]
		lines = append(lines, fmt.Sprintf("%10s %-3s %s", common.Num(a.Value, 4), unit, a.Arch))
		room--
	}
	if d.Total > len(d.Archs) {
		lines = append(lines, st.Muted.Render(fmt.Sprintf("… %d more not listed", d.Total-len(d.Archs))))
	}
	return lines
}

func (d *Details) detailStart(off int) int { return min(off, max(len(d.Archs)-1, 0)) }

// wrapped wraps s to the view's width, continuation lines indented by
// indent spaces.
func (m Model) wrapped(s string, indent int) []string {
	w := max(m.c.Width-indent, 10)
	ls := strings.Split(common.Wrap(s, w), "\n")
	for i := 1; i < len(ls); i++ {
		ls[i] = strings.Repeat(" ", indent) + ls[i]
	}
	return ls
}

// previewView shows a suggestion before it is merged: its evidence, a
// warning when the evidence is weak, one line per suggested cut and what
// merging would add to the current cuts, in at most h lines.
func (m Model) previewView(h int) []string {
	st := m.c.Styles
	p := m.preview
	nb, nd := p.s.Cuts.Counts()
	lines := []string{"", st.Bold.Render(fmt.Sprintf("Suggested cuts for %s %s", orDash(p.device), p.metric)) +
		fmt.Sprintf(" · %d blocks, %d depth ranges", nb, nd)}
	if p.s.Weak {
		lines = append(lines, st.Warn.Render("weak evidence: read it before merging"))
	}
	for _, e := range p.s.Evidence {
		for _, l := range m.wrapped("evidence: "+e, 2) {
			lines = append(lines, st.Muted.Render(l))
		}
	}
	r := p.merge
	merge := fmt.Sprintf("merging adds %d %s to the current cuts (%d already made", len(r.Added), plural(len(r.Added), "cut"), len(r.Held))
	if len(r.Skipped) > 0 {
		merge += fmt.Sprintf("; %d skipped: %s", len(r.Skipped), strings.Join(r.Skipped, "; "))
	}
	foot := append([]string{""}, m.wrapped(merge+")", 2)...)
	foot = append(foot, "y merges (no current cut is removed) · n/esc cancels")
	items := p.lines()
	lines = append(lines, "", fmt.Sprintf("the suggested cuts (%d/%d, ↑/↓ scroll):", min(p.off+1, len(items)), len(items)))
	// One line stays for "… N more".
	room := h - len(lines) - len(foot) - 1
	shown := 0
	for i := p.off; i < len(items) && room > 0; i++ {
		ls := m.wrapped("• "+items[i], 2)
		if len(ls) > room {
			if shown > 0 {
				break
			}
			ls = ls[:room]
		}
		lines = append(lines, ls...)
		room -= len(ls)
		shown++
	}
	if rest := len(items) - p.off - shown; rest > 0 {
		lines = append(lines, st.Muted.Render(fmt.Sprintf("… %d more", rest)))
	}
	return append(lines, foot...)
}

// promptView is the load prompt.
func (m Model) promptView() []string {
	st := m.c.Styles
	p := m.prompt
	in := p.input.View()
	if !m.c.Color {
		v := []rune(p.input.Value())
		pos := min(p.input.Position(), len(v))
		in = string(v[:pos]) + "|" + string(v[pos:])
	}
	nb, nd := m.cuts.Counts()
	lines := []string{"", st.Bold.Render("Load a reduced space") + " (an export or spaces/*.toml) as the current cuts",
		"", "path: " + in, ""}
	switch {
	case p.busy:
		lines = append(lines, "reading…")
	case p.err != nil:
		for _, l := range m.wrapped(p.err.Error(), 2) {
			lines = append(lines, st.Error.Render(l))
		}
	case nb+nd > 0:
		lines = append(lines, st.Warn.Render(fmt.Sprintf("loading replaces the current cuts (%d blocks, %d depth ranges)", nb, nd)))
	}
	return append(lines, "", st.Muted.Render("enter loads · esc cancels"))
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}
