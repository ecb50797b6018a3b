// Package pareto is the explorer's Pareto view: a braille scatter of the
// archs measured on a device (latency vs accuracy or proxy score), their
// front, and, after a search, the fronts of the original and the reduced
// space drawn distinctly; a cursor walks the front points and the point
// under it is described. The plot is drawn by the pure renderer of
// tui/plot; every number comes from the engine.
package pareto

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"blockprof/model"
	"blockprof/tui/common"
	"blockprof/tui/plot"
)

const cooldown = 3 * time.Second

type dataMsg struct {
	gen    int
	device string
	data   Data
	err    error
}

type searchStartedMsg struct {
	id     int
	ch     <-chan SearchUpdate
	cancel context.CancelFunc
	err    error
}

type searchMsg struct {
	id     int
	update SearchUpdate
	closed bool
}

// target is a point the cursor can visit.
type target struct {
	Point
	// what: "front", "original front", "reduced front".
	what  string
	index int
	of    int
}

// search is a running or finished search.
type search struct {
	id      int
	ch      <-chan SearchUpdate
	cancel  context.CancelFunc
	running bool
	// last holds the latest update of each side (false: original).
	last   map[bool]SearchUpdate
	device string
	cuts   string
	err    error
}

// Model is the Pareto view.
type Model struct {
	c       common.Common
	src     Source
	devices []common.DeviceInfo
	dev     int

	data *Data
	err  error
	// Reload: on screen, stale, loading, the load's generation (shared
	// with the other views of engine data).
	common.Reload

	// Series ready for the renderer, rebuilt when data or results change.
	cloud, front, orig, red []plot.XY
	targets                 []target
	cursor                  int

	search   *search
	searchID int
	result   *SearchResult
	status   string
}

// New returns the view.
func New(c common.Common, devs []common.DeviceInfo, src Source) Model {
	return Model{c: c, src: src, devices: devs, Reload: common.Reload{Cooldown: cooldown}}
}

// SetCommon hands the view a new context (size, colour).
func (m Model) SetCommon(c common.Common) Model {
	m.c = c
	return m
}

// Device is the selected device.
func (m Model) Device() string {
	if m.dev < len(m.devices) {
		return m.devices[m.dev].Name
	}
	return ""
}

// Searching reports whether a search runs.
func (m Model) Searching() bool { return m.search != nil && m.search.running }

// Result is the last search's result (nil before).
func (m Model) Result() *SearchResult { return m.result }

// Data is the data shown (nil before it arrived).
func (m Model) Data() *Data { return m.data }

// SetStatus shows s on the view's status line.
func (m Model) SetStatus(s string) Model {
	m.status = s
	return m
}

// Busy is false: the view has no prompt.
func (m Model) Busy() bool { return false }

// SetActive says whether the view is on screen.
func (m Model) SetActive(on bool) (Model, tea.Cmd) {
	m.Active = on
	if on && (m.data == nil && m.err == nil || m.Stale) && !m.Loading {
		return m.load()
	}
	return m, nil
}

// MarkStale says new measurements arrived on device; the data are read
// again at most every cooldown while the view is on screen (see Poll).
func (m Model) MarkStale(device string) (Model, tea.Cmd) {
	if device != "" && device != m.Device() {
		return m, nil
	}
	m.Stale = true
	return m.Poll(false)
}

// Poll reloads stale data of an active view once the cooldown since the
// last load has passed, or at once when force is set (the run ended).
func (m Model) Poll(force bool) (Model, tea.Cmd) {
	if m.Due(force) {
		return m.load()
	}
	return m, nil
}

func (m Model) load() (Model, tea.Cmd) {
	if m.src == nil {
		return m, nil
	}
	var gen int
	m.Reload, gen = m.Begin()
	dev, src, ctx := m.Device(), m.src, m.c.Ctx
	return m, func() tea.Msg {
		d, err := src.Points(ctx, dev)
		return dataMsg{gen: gen, device: dev, data: d, err: err}
	}
}

// StartSearch starts a search of the original space against the reduced
// one that red describes; cuts says what was cut, for the status line.
func (m Model) StartSearch(red model.Reduction, cuts string) (Model, tea.Cmd) {
	if m.Searching() {
		m.status = "a search is running: G stops it"
		return m, nil
	}
	if m.src == nil {
		return m, nil
	}
	m.searchID++
	id, dev, src := m.searchID, m.Device(), m.src
	ctx, cancel := context.WithCancel(m.c.Ctx)
	m.search = &search{id: id, running: true, last: map[bool]SearchUpdate{}, device: dev, cuts: cuts, cancel: cancel}
	m.status = "starting the search…"
	req := SearchRequest{Device: dev, Reduction: red}
	return m, func() tea.Msg {
		ch, err := src.Search(ctx, req)
		if err != nil {
			cancel()
		}
		return searchStartedMsg{id: id, ch: ch, cancel: cancel, err: err}
	}
}

func waitSearch(id int, ch <-chan SearchUpdate) tea.Cmd {
	return func() tea.Msg {
		u, ok := <-ch
		return searchMsg{id: id, update: u, closed: !ok}
	}
}

// Update handles keys and the engine's answers.
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
		} else {
			d := msg.data
			m.data, m.err = &d, nil
			m = m.rebuild()
		}
		return m, nil
	case searchStartedMsg:
		if m.search == nil || msg.id != m.search.id {
			if msg.cancel != nil {
				msg.cancel()
			}
			return m, nil
		}
		s := *m.search
		if msg.err != nil {
			s.running, s.err = false, msg.err
			m.search = &s
			m.status = "search: " + msg.err.Error()
			return m, nil
		}
		s.ch = msg.ch
		m.search = &s
		m.status = "searching…"
		return m, waitSearch(s.id, s.ch)
	case searchMsg:
		if m.search == nil || msg.id != m.search.id {
			return m, nil
		}
		s := *m.search
		s.last = cloneLast(s.last)
		if msg.closed {
			s.running = false
			if s.cancel != nil {
				s.cancel()
			}
			m.search = &s
			if s.err == nil && m.result == nil {
				m.status = "search stopped"
			}
			return m, nil
		}
		u := msg.update
		switch {
		case u.Err != nil:
			s.err = u.Err
			m.status = "search: " + u.Err.Error()
		case u.Result != nil:
			r := *u.Result
			m.result = &r
			m = m.rebuild()
			m.status = "search done: fronts of the original and the reduced space are on the plot"
		default:
			s.last[u.Reduced] = u
		}
		m.search = &s
		return m, waitSearch(s.id, s.ch)
	case tea.KeyPressMsg:
		switch {
		case key.Matches(msg, k.Left):
			m.cursor = max(m.cursor-1, 0)
		case key.Matches(msg, k.Right):
			m.cursor = min(m.cursor+1, max(len(m.targets)-1, 0))
		case key.Matches(msg, k.StopSearch):
			if m.Searching() && m.search.cancel != nil {
				m.search.cancel()
				m.status = "stopping the search…"
			}
		case key.Matches(msg, k.Device):
			if len(m.devices) > 1 {
				m.dev = (m.dev + 1) % len(m.devices)
				m.data, m.result = nil, nil
				m = m.rebuild()
				m.status = "device: " + m.Device()
				return m.load()
			}
		}
	}
	return m, nil
}

func cloneLast(in map[bool]SearchUpdate) map[bool]SearchUpdate {
	out := make(map[bool]SearchUpdate, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// rebuild prepares the plot series and the cursor's targets.
func (m Model) rebuild() Model {
	m.cloud, m.front, m.orig, m.red, m.targets = nil, nil, nil, nil, nil
	if d := m.data; d != nil {
		m.cloud = make([]plot.XY, len(d.Points))
		for i, p := range d.Points {
			m.cloud[i] = plot.XY{X: p.Latency, Y: p.Accuracy}
		}
		for j, i := range d.Front {
			if i >= 0 && i < len(d.Points) {
				p := d.Points[i]
				m.front = append(m.front, plot.XY{X: p.Latency, Y: p.Accuracy})
				if m.result == nil {
					m.targets = append(m.targets, target{Point: p, what: "stored front", index: j + 1, of: len(d.Front)})
				}
			}
		}
	}
	if r := m.result; r != nil {
		for i, p := range r.Original {
			m.orig = append(m.orig, plot.XY{X: p.Latency, Y: p.Accuracy})
			m.targets = append(m.targets, target{Point: p, what: "original front", index: i + 1, of: len(r.Original)})
		}
		for i, p := range r.Reduced {
			m.red = append(m.red, plot.XY{X: p.Latency, Y: p.Accuracy})
			m.targets = append(m.targets, target{Point: p, what: "reduced front", index: i + 1, of: len(r.Reduced)})
		}
		slices.SortStableFunc(m.targets, func(a, b target) int { return cmp.Compare(a.Latency, b.Latency) })
	}
	m.cursor = min(m.cursor, max(len(m.targets)-1, 0))
	return m
}

// Help lists the view's bindings for the help bar.
func (m Model) Help() []key.Binding {
	k := m.c.Keys
	b := []key.Binding{k.Left, k.Right, k.Search}
	if m.Searching() {
		b = append(b, k.StopSearch)
	}
	return append(b, k.Device)
}

const (
	headerH = 2
	footerH = 4 // highlighted point (2), search line, status
)

// View renders the view in exactly Width×Height cells.
func (m Model) View() string {
	w, h := m.c.Width, m.c.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.c.Styles
	lines := m.header()
	ph := h - headerH - footerH
	if ph >= 3 {
		lines = append(lines, m.plot(w, ph))
	}
	lines = append(lines, m.describe()...)
	lines = append(lines, m.searchLine())
	body := common.Block(strings.Join(lines, "\n"), w, h-1)
	return body + "\n" + common.Fit(st.Status.Render(m.status), w)
}

func (m Model) labels() (lat, accName, accUnit, accLabel string) {
	lat = "provenance unknown"
	if m.dev < len(m.devices) {
		lat = m.devices[m.dev].Source()
	}
	accName, accLabel = "score", "?"
	if d := m.data; d != nil {
		if d.LatencyLabel != "" {
			lat = d.LatencyLabel
		}
		accName, accUnit, accLabel = d.AccuracyName, d.AccuracyUnit, d.AccuracyLabel
	}
	if r := m.result; r != nil && d0(m.data) {
		accName, accUnit, accLabel = r.AccuracyName, r.AccuracyUnit, r.AccuracyLabel
	}
	return lat, accName, accUnit, accLabel
}

func d0(d *Data) bool { return d == nil || d.AccuracyName == "" }

func (m Model) header() []string {
	st := m.c.Styles
	lat, accName, _, accLabel := m.labels()
	l1 := st.Title.Render("Pareto") + " · device " + st.Bold.Render(orDash(m.Device())) +
		" · latency [" + st.Label.Render(lat) + "] vs " + accName + " [" + st.Label.Render(accLabel) + "]"
	var l2 string
	switch {
	case m.err != nil && m.data == nil:
		l2 = st.Error.Render(m.err.Error())
	case m.data == nil && m.Loading:
		l2 = "reading the stored archs…"
	case m.data == nil:
		l2 = st.Muted.Render("no data yet")
	default:
		l2 = fmt.Sprintf("%d stored archs with a %s · their front %d points", len(m.data.Points), accName, len(m.data.Front))
		if r := m.result; r != nil {
			l2 += fmt.Sprintf(" · search fronts: original %d, reduced %d [%s]", len(r.Original), len(r.Reduced), r.LatencyLabel)
		}
		if len(m.data.Notes) > 0 {
			l2 += " · " + m.data.Notes[0]
		}
		if m.err != nil {
			l2 += " · " + st.Error.Render("last update failed: "+m.err.Error())
		}
	}
	return []string{ansi.Truncate(l1, m.c.Width, "…"), ansi.Truncate(l2, m.c.Width, "…")}
}

// Marker runes of the series.
const (
	origMarker  = '◆'
	redMarker   = '●'
	frontMarker = '◇'
)

func (m Model) plot(w, h int) string {
	lat, accName, accUnit, _ := m.labels()
	opts := plot.Options{
		Width: w, Height: h,
		XLabel: "latency on " + orDash(m.Device()) + " [" + lat + "]", XUnit: "ms",
		YLabel: accName, YUnit: accUnit,
		Braille: true, Staircase: true,
	}
	var st [4]lipgloss.Style
	if m.c.Color {
		opts.Styles = plot.DefaultStyles()
		st = [4]lipgloss.Style{
			lipgloss.NewStyle().Foreground(lipgloss.Color("8")),
			lipgloss.NewStyle().Foreground(lipgloss.Color("12")),
			lipgloss.NewStyle().Foreground(lipgloss.Color("11")),
			lipgloss.NewStyle().Foreground(lipgloss.Color("10")),
		}
	}
	series := []plot.Series{{Name: "stored archs", Points: m.cloud, Style: st[0]}}
	if m.result == nil {
		series = append(series, plot.Series{Name: "front of the stored archs", Points: m.front, Front: true, Marker: frontMarker, Style: st[1]})
	} else {
		series = append(series,
			plot.Series{Name: "original front", Points: m.orig, Front: true, Marker: origMarker, Style: st[2]},
			plot.Series{Name: "reduced front", Points: m.red, Front: true, Marker: redMarker, Style: st[3]})
	}
	if m.cursor < len(m.targets) {
		t := m.targets[m.cursor]
		opts.Highlight = &plot.XY{X: t.Latency, Y: t.Accuracy}
	}
	return plot.Render(series, opts)
}

func (m Model) describe() []string {
	st := m.c.Styles
	if m.cursor >= len(m.targets) {
		return []string{st.Muted.Render("no front point yet: the front appears as archs get measured and scored"), ""}
	}
	t := m.targets[m.cursor]
	lat, accName, accUnit, accLabel := m.labels()
	if t.what != "stored front" && m.result != nil {
		lat, accLabel = m.result.LatencyLabel, m.result.AccuracyLabel
	}
	l1 := fmt.Sprintf("%c %s %d/%d · latency %s ms (%s) · %s %s%s (%s) · ←/→ %d/%d",
		plot.HighlightMarker, t.what, t.index, t.of, common.Num(t.Latency, 4), lat, accName, common.Num(t.Accuracy, 4), accUnit, accLabel,
		m.cursor+1, len(m.targets))
	return []string{ansi.Truncate(st.Bold.Render(l1), m.c.Width, "…"), ansi.Truncate("  "+t.Arch, m.c.Width, "…")}
}

func (m Model) searchLine() string {
	st := m.c.Styles
	s := m.search
	if s == nil && m.result == nil {
		return st.Muted.Render("g searches the original and the reduced space (cuts from the friendliness view) with the same budget")
	}
	var parts []string
	if s != nil && s.running {
		for _, reduced := range []bool{false, true} {
			name := map[bool]string{false: "original", true: "reduced"}[reduced]
			u, ok := s.last[reduced]
			if !ok {
				parts = append(parts, name+": waiting")
				continue
			}
			parts = append(parts, fmt.Sprintf("%s seed %d gen %d/%d, %d evals, front %d", name, u.Seed, u.Generation, u.Generations, u.Evaluations, u.FrontSize))
		}
		return ansi.Truncate("searching "+s.cuts+": "+strings.Join(parts, " · "), m.c.Width, "…")
	}
	if r := m.result; r != nil {
		lr := "fronts do not overlap in score"
		if !math.IsNaN(r.LatencyReduction.Median) {
			lr = fmt.Sprintf("latency −%s at equal %s [%s, %s]", common.Percent(r.LatencyReduction.Median), r.AccuracyName,
				common.Percent(r.LatencyReduction.Min), common.Percent(r.LatencyReduction.Max))
		}
		return ansi.Truncate(fmt.Sprintf("HV original %s, reduced %s (median of %d seeds) · %s · %d evals [%s]",
			common.Num(r.HVOriginal.Median, 4), common.Num(r.HVReduced.Median, 4), r.Seeds, lr, r.Evaluations, r.LatencyLabel), m.c.Width, "…")
	}
	if s != nil && s.err != nil {
		return st.Error.Render(ansi.Truncate("search failed: "+s.err.Error(), m.c.Width, "…"))
	}
	return ""
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
