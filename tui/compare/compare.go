// Package compare is the explorer's devices-side-by-side view: the
// friendliness effects of two devices next to each other for one unit at a
// time (each in % of its device's own mean latency, with intervals and an
// agree/differ mark), their rank correlations, and two plots drawn by
// tui/plot: latency on one device against the other, and the score against
// the worst latency over every device. Every number comes from the
// engine's session (through tui/app); the view only lays them out.
package compare

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"blockprof/tui/common"
	"blockprof/tui/plot"
)

// Side is one device's effect: Rel, Lo and Hi in fractions of the device's
// mean latency (Lo, Hi NaN without an interval).
type Side struct{ Rel, Lo, Hi float64 }

// Row is one (unit, block) or (unit, depth) effect on every device.
type Row struct {
	Unit int
	// What is the block key, or "depth N".
	What  string
	Sides []Side
	// Differ lists the device pairs ("a/b") whose intervals do not
	// overlap; NoInterval says a device gave none.
	Differ     []string
	NoInterval bool
	SameSign   bool
}

// Pair is the rank agreement of two devices (NaN: undefined).
type Pair struct {
	A, B                    string
	Archs                   int
	Latency, Blocks, Depths float64
}

// Point is an arch every device measured.
type Point struct {
	Arch string
	// Latency per device (Data.Devices order); Worst the largest latency
	// relative to its device's mean.
	Latency []float64
	Worst   float64
	// Score is the quality (accuracy or proxy) where HasScore.
	Score    float64
	HasScore bool
}

// Data is a comparison of the session's devices.
type Data struct {
	Devices []string
	// Labels are the provenance of each device's numbers; Weak says why
	// a device's effects are weak evidence ("" when they are not).
	Labels, Weak []string
	Units        int
	Rows         []Row
	Pairs        []Pair
	Points       []Point
	// Front indexes the points on the front of score against worst
	// relative latency.
	Front []int
	// ScoreName and ScoreLabel name the score and its provenance.
	ScoreName, ScoreLabel string
	// Normalisation says how effects are made comparable.
	Normalisation string
	// Common and PerDevice count the suggested cuts that hold on every
	// device and each device's own.
	Common    int
	PerDevice []int
}

// Source is what the view needs from the engine.
type Source interface {
	// Compare compares devices (two or more) of the session's space.
	Compare(ctx context.Context, devices []string) (Data, error)
}

// Modes of the view.
const (
	ModeTable = iota
	ModeLatency
	ModeWorst
	numModes
)

var modeNames = [...]string{"effects", "latency A vs B", "score vs worst device"}

// cooldown is the least time between two comparisons caused by new
// measurements (each one analyses every device).
const cooldown = 5 * time.Second

type dataMsg struct {
	gen  int
	data Data
	err  error
}

// Model is the view.
type Model struct {
	c       common.Common
	src     Source
	devices []string
	// a and b index the two devices shown side by side.
	a, b int
	unit int
	mode int

	data *Data
	err  error
	common.Reload
}

// New returns the view over the session's devices.
func New(c common.Common, devs []common.DeviceInfo, src Source) Model {
	m := Model{c: c, src: src, unit: 1, b: 1, Reload: common.Reload{Cooldown: cooldown}}
	for _, d := range devs {
		m.devices = append(m.devices, d.Name)
	}
	return m
}

// SetCommon hands the view a new context (size, colour).
func (m Model) SetCommon(c common.Common) Model {
	m.c = c
	return m
}

// Busy is false: the view has no prompt.
func (m Model) Busy() bool { return false }

// Data is the comparison shown (nil before it arrived).
func (m Model) Data() *Data { return m.data }

// Pair names the two devices side by side.
func (m Model) Pair() (string, string) {
	if len(m.devices) < 2 {
		return "", ""
	}
	return m.devices[m.a], m.devices[m.b]
}

// Mode is the panel shown (ModeTable, ModeLatency, ModeWorst).
func (m Model) Mode() int { return m.mode }

// SetActive says whether the view is on screen; it loads on first show.
func (m Model) SetActive(on bool) (Model, tea.Cmd) {
	m.Active = on
	if on && (m.data == nil && m.err == nil || m.Stale) && !m.Loading {
		return m.load()
	}
	return m, nil
}

// MarkStale says new measurements arrived; the comparison is made again
// at most every cooldown while the view is on screen (see Poll).
func (m Model) MarkStale(string) (Model, tea.Cmd) {
	m.Stale = true
	return m.Poll(false)
}

// Poll reloads a stale comparison of an active view once the cooldown
// since the last load has passed, or at once when force is set (the run
// ended).
func (m Model) Poll(force bool) (Model, tea.Cmd) {
	if m.Due(force) {
		return m.load()
	}
	return m, nil
}

func (m Model) load() (Model, tea.Cmd) {
	if m.src == nil || len(m.devices) < 2 {
		return m, nil
	}
	var gen int
	m.Reload, gen = m.Begin()
	src, ctx, devs := m.src, m.c.Ctx, append([]string(nil), m.devices...)
	return m, func() tea.Msg {
		d, err := src.Compare(ctx, devs)
		return dataMsg{gen: gen, data: d, err: err}
	}
}

// Update handles keys and the engine's answer.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k := m.c.Keys
	switch msg := msg.(type) {
	case dataMsg:
		var current bool
		if m.Reload, current = m.Answer(msg.gen); !current {
			return m, nil
		}
		if msg.err != nil {
			m.err = msg.err
			return m, nil
		}
		d := msg.data
		m.data, m.err = &d, nil
		m.unit = min(max(m.unit, 1), max(d.Units, 1))
		return m, nil
	case tea.KeyPressMsg:
		units := 1
		if m.data != nil {
			units = max(m.data.Units, 1)
		}
		switch {
		case key.Matches(msg, k.Up):
			m.unit = max(m.unit-1, 1)
		case key.Matches(msg, k.Down):
			m.unit = min(m.unit+1, units)
		case key.Matches(msg, k.Device):
			m = m.nextPair()
		case key.Matches(msg, k.Metric):
			m.mode = (m.mode + 1) % numModes
		}
	}
	return m, nil
}

// nextPair moves to the next pair of devices (a < b).
func (m Model) nextPair() Model {
	n := len(m.devices)
	if n < 2 {
		return m
	}
	m.b++
	if m.b >= n {
		m.a++
		if m.a >= n-1 {
			m.a = 0
		}
		m.b = m.a + 1
	}
	return m
}

// Help lists the view's bindings for the help bar.
func (m Model) Help() []key.Binding {
	k := m.c.Keys
	return []key.Binding{
		key.NewBinding(key.WithKeys(k.Device.Keys()...), key.WithHelp(k.Device.Help().Key, "device pair")),
		key.NewBinding(key.WithKeys(k.Metric.Keys()...), key.WithHelp(k.Metric.Help().Key, "effects/plots")),
		k.Up, k.Down,
	}
}

// View renders the view in exactly Width×Height cells.
func (m Model) View() string {
	w, h := m.c.Width, m.c.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.c.Styles
	a, b := m.Pair()
	title := st.Title.Render("Compare") + " · " + modeNames[m.mode]
	if a != "" {
		title += " · " + st.Bold.Render(a) + " vs " + st.Bold.Render(b)
	}
	lines := []string{title}
	switch {
	case len(m.devices) < 2:
		lines = append(lines, st.Muted.Render(fmt.Sprintf("compare needs two or more devices; this session has %d", len(m.devices))))
	case m.data == nil && m.err != nil:
		lines = append(lines, st.Error.Render(m.err.Error()))
	case m.data == nil:
		lines = append(lines, "comparing the devices…")
	default:
		lines = append(lines, m.devLines()...)
		body := h - len(lines) - 1
		switch m.mode {
		case ModeTable:
			lines = append(lines, m.table()...)
		case ModeLatency:
			if body >= 3 {
				lines = append(lines, m.latencyPlot(w, body))
			}
		case ModeWorst:
			if body >= 3 {
				lines = append(lines, m.worstPlot(w, body))
			}
		}
		if m.err != nil {
			lines = append(lines, st.Error.Render("last update failed: "+m.err.Error()))
		}
	}
	var out []string
	for _, l := range lines {
		for _, x := range strings.Split(l, "\n") {
			out = append(out, ansi.Truncate(x, w, "…"))
		}
	}
	return common.Block(strings.Join(out, "\n"), w, h-1) + "\n" + common.Fit(st.Status.Render(m.status()), w)
}

func (m Model) index(name string) int {
	if m.data == nil {
		return -1
	}
	for i, d := range m.data.Devices {
		if d == name {
			return i
		}
	}
	return -1
}

func (m Model) devLines() []string {
	st := m.c.Styles
	a, b := m.Pair()
	var out []string
	for _, n := range []string{a, b} {
		i := m.index(n)
		if i < 0 {
			continue
		}
		l := fmt.Sprintf("%s [%s]", n, st.Label.Render(m.data.Labels[i]))
		if w := m.data.Weak[i]; w != "" {
			l += " " + st.Error.Render("WEAK: "+w)
		}
		out = append(out, l)
	}
	for _, p := range m.data.Pairs {
		if p.A == a && p.B == b {
			out = append(out, fmt.Sprintf("Spearman: arch latencies %s (%d archs) · block effects %s · depth effects %s",
				rho(p.Latency), p.Archs, rho(p.Blocks), rho(p.Depths)))
		}
	}
	return out
}

func rho(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.2f", x)
}

func side(s Side) string {
	if math.IsNaN(s.Lo) || math.IsNaN(s.Hi) {
		return fmt.Sprintf("%+.1f%%", 100*s.Rel)
	}
	return fmt.Sprintf("%+.1f%% [%+.1f, %+.1f]", 100*s.Rel, 100*s.Lo, 100*s.Hi)
}

func (m Model) table() []string {
	st := m.c.Styles
	a, b := m.Pair()
	ia, ib := m.index(a), m.index(b)
	if ia < 0 || ib < 0 {
		return []string{st.Error.Render("the comparison does not hold these devices")}
	}
	out := []string{fmt.Sprintf("unit %d of %d (↑/↓) · effects in %% of each device's mean latency", m.unit, m.data.Units),
		fmt.Sprintf("%-8s %-24s %-24s %s", "", ansi.Truncate(a, 24, "…"), ansi.Truncate(b, 24, "…"), "verdict")}
	pair := a + "/" + b
	for _, r := range m.data.Rows {
		if r.Unit != m.unit {
			continue
		}
		verdict := "agree"
		switch {
		case r.NoInterval:
			verdict = "no interval"
		case contains(r.Differ, pair):
			verdict = st.Error.Render("DIFFER")
		case r.SameSign:
			verdict = "agree, same sign"
		}
		out = append(out, fmt.Sprintf("%-8s %-24s %-24s %s", r.What, side(r.Sides[ia]), side(r.Sides[ib]), verdict))
	}
	out = append(out, st.Muted.Render(fmt.Sprintf("cuts that hold on every device (latency vs %s): %d · each device's own: %s", m.data.ScoreName, m.data.Common, joinInts(m.data.PerDevice))))
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

func (m Model) latencyPlot(w, h int) string {
	a, b := m.Pair()
	ia, ib := m.index(a), m.index(b)
	if ia < 0 || ib < 0 {
		return ""
	}
	pts := make([]plot.XY, 0, len(m.data.Points))
	for _, p := range m.data.Points {
		pts = append(pts, plot.XY{X: p.Latency[ia], Y: p.Latency[ib]})
	}
	opts := plot.Options{Width: w, Height: h, XLabel: "latency on " + a, XUnit: "ms", YLabel: "latency on " + b, YUnit: "ms", Braille: true}
	if m.c.Color {
		opts.Styles = plot.DefaultStyles()
	}
	return plot.Render([]plot.Series{{Name: fmt.Sprintf("%d archs both measured", len(pts)), Points: pts}}, opts)
}

func (m Model) worstPlot(w, h int) string {
	var cloud, front []plot.XY
	for _, p := range m.data.Points {
		if p.HasScore {
			cloud = append(cloud, plot.XY{X: p.Worst, Y: p.Score})
		}
	}
	for _, i := range m.data.Front {
		if i >= 0 && i < len(m.data.Points) {
			p := m.data.Points[i]
			front = append(front, plot.XY{X: p.Worst, Y: p.Score})
		}
	}
	opts := plot.Options{Width: w, Height: h, XLabel: fmt.Sprintf("worst latency over %d devices, ÷ each device's mean", len(m.data.Devices)),
		YLabel: m.data.ScoreName + " [" + m.data.ScoreLabel + "]", Braille: true, Staircase: true}
	if m.c.Color {
		opts.Styles = plot.DefaultStyles()
	}
	return plot.Render([]plot.Series{{Name: "archs every device measured", Points: cloud},
		{Name: "front", Points: front, Front: true}}, opts)
}

func (m Model) status() string {
	switch {
	case m.Loading && m.data != nil:
		return "updating…"
	case m.data == nil:
		return ""
	}
	a, d := 0, 0
	pair := strings.Join([]string{m.devices[m.a], m.devices[m.b]}, "/")
	for _, r := range m.data.Rows {
		switch {
		case contains(r.Differ, pair):
			d++
		case !r.NoInterval:
			a++
		}
	}
	return fmt.Sprintf("%d effects agree, %d differ beyond their intervals · tab: next pair · m: effects/plots", a, d)
}
