package tui

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"

	"blockprof/engine"
	"blockprof/model"
	"blockprof/tui/common"
	compareview "blockprof/tui/compare"
	devicesview "blockprof/tui/devices"
	"blockprof/tui/export"
	"blockprof/tui/friendliness"
	paretoview "blockprof/tui/pareto"
)

// View is one of the explorer's views.
type View int

const (
	Devices View = iota
	Friendliness
	Pareto
	// Compare (devices side by side) is shown only when the session has
	// two or more devices and its deps can compare them.
	Compare
	numViews
)

func (v View) String() string {
	return [...]string{"Devices", "Friendliness", "Pareto", "Compare"}[v]
}

const (
	// frame is the least time between two batches of engine events: at most
	// ten redraws a second however fast the devices measure.
	frame = 100 * time.Millisecond
	// maxBatch bounds the events merged into one batch.
	maxBatch = 1024
	// Smallest usable terminal.
	minWidth, minHeight = 40, 12
)

type subscribedMsg struct{ ch <-chan engine.Event }

// eventsMsg is a batch of engine events; closed says the stream ended
// after them.
type eventsMsg struct {
	events []engine.Event
	closed bool
}

// Model is the explorer's root model: a value, with its children updated
// by assignment.
type Model struct {
	c      common.Common
	deps   Deps
	space  *model.Space
	active View

	devices devicesview.Model
	friend  friendliness.Model
	pareto  paretoview.Model
	cmp     compareview.Model
	// views is the number of tabs: numViews with Compare, else one less.
	views  View
	export export.Model
	help   help.Model

	showHelp bool
	noColor  bool
	events   <-chan engine.Event
	// batches counts the event batches received (tests, redraw pacing).
	batches int
	// team is the latest search of the shared session, whoever started it
	// (its zero value: none running).
	team engine.SearchProgress
}

// New returns the explorer for one session. ctx is the session's context:
// the subscription to the run's events and every request end with it.
func New(ctx context.Context, deps Deps, opts Options) Model {
	c := common.New(ctx, !opts.NoColor, opts.Width, opts.Height)
	var (
		sp   *model.Space
		devs []common.DeviceInfo
		live bool
	)
	if deps != nil {
		sp, devs, live = deps.Space(), deps.Devices(), deps.Live()
	}
	m := Model{c: c, deps: deps, space: sp, noColor: opts.NoColor, help: help.New()}
	var ctl devicesview.Control
	var fs friendliness.Source
	var ps paretoview.Source
	var ew export.Writer
	if deps != nil {
		ctl, fs, ps, ew = deps, deps, deps, deps
	}
	if opts.Export != nil {
		ew = opts.Export
	}
	m.devices = devicesview.New(c, devs, ctl, live)
	m.friend = friendliness.New(c, sp, devs, fs)
	m.pareto = paretoview.New(c, devs, ps)
	cs, ok := deps.(compareview.Source)
	m.cmp = compareview.New(c, devs, cs)
	m.views = Compare
	if ok && len(devs) >= 2 {
		m.views = numViews
	}
	m.export = export.New(c, ew)
	return m.resize(opts.Width, opts.Height)
}

// Active is the view on screen.
func (m Model) Active() View { return m.active }

// Devices, Friendliness and Pareto return the children (for tests and
// callers that inspect the state).
func (m Model) DevicesView() devicesview.Model       { return m.devices }
func (m Model) FriendlinessView() friendliness.Model { return m.friend }
func (m Model) ParetoView() paretoview.Model         { return m.pareto }
func (m Model) CompareView() compareview.Model       { return m.cmp }
func (m Model) ExportPrompt() export.Model           { return m.export }
func (m Model) Batches() int                         { return m.batches }
func (m Model) Common() common.Common                { return m.c }
func (m Model) Reduction() model.Reduction           { return m.friend.Reduction(m.reductionName()) }
func (m Model) reductionName() string                { return strings.TrimSuffix(m.exportPath(), ".toml") }
func (m Model) exportPath() string                   { return export.DefaultPath(m.spaceName(), m.friend.Device()) }
func (m Model) spaceName() string {
	if m.space == nil {
		return "space"
	}
	return m.space.Name
}

// Init subscribes to the run's events and restores the session's cuts.
func (m Model) Init() tea.Cmd {
	if m.deps == nil {
		return nil
	}
	deps, ctx := m.deps, m.c.Ctx
	return tea.Batch(func() tea.Msg { return subscribedMsg{ch: deps.Events(ctx)} }, m.friend.Init())
}

// waitEvents waits wait, then for the next event, then takes whatever else
// is already queued (up to maxBatch): one message per frame at most.
func waitEvents(ctx context.Context, ch <-chan engine.Event, wait time.Duration) tea.Cmd {
	return func() tea.Msg {
		var tick <-chan time.Time
		if wait > 0 {
			t := time.NewTimer(wait)
			defer t.Stop()
			tick = t.C
		}
		return readEvents(ctx, ch, tick)
	}
}

// readEvents is waitEvents' message once tick fires (nil: at once); nil
// when ctx ends first.
func readEvents(ctx context.Context, ch <-chan engine.Event, tick <-chan time.Time) tea.Msg {
	if tick != nil {
		select {
		case <-tick:
		case <-ctx.Done():
			return nil
		}
	}
	var evs []engine.Event
	select {
	case ev, ok := <-ch:
		if !ok {
			return eventsMsg{closed: true}
		}
		evs = append(evs, ev)
	case <-ctx.Done():
		return nil
	}
	for len(evs) < maxBatch {
		select {
		case ev, ok := <-ch:
			if !ok {
				return eventsMsg{events: evs, closed: true}
			}
			evs = append(evs, ev)
		default:
			return eventsMsg{events: evs}
		}
	}
	return eventsMsg{events: evs}
}

func (m Model) resize(w, h int) Model {
	m.c = m.c.WithSize(w, h)
	body := m.c.WithSize(w, max(h-2, 0))
	m.devices = m.devices.SetCommon(body)
	m.friend = m.friend.SetCommon(body)
	m.pareto = m.pareto.SetCommon(body)
	m.cmp = m.cmp.SetCommon(body)
	m.export = m.export.SetCommon(body)
	m.help.SetWidth(w)
	if m.c.Color {
		m.help.Styles = help.DefaultStyles(true)
	} else {
		m.help.Styles = help.Styles{}
	}
	return m
}

func (m Model) setColor(on bool) Model {
	if on == m.c.Color {
		return m
	}
	m.c = m.c.WithColor(on)
	return m.resize(m.c.Width, m.c.Height)
}

// Update handles every message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		return m.resize(msg.Width, msg.Height), nil
	case tea.ColorProfileMsg:
		// The terminal (or the SSH client's) profile: no colour without one.
		on := !m.noColor && msg.Profile != colorprofile.NoTTY && msg.Profile != colorprofile.ASCII
		return m.setColor(on), nil
	case subscribedMsg:
		m.events = msg.ch
		if msg.ch == nil {
			m.devices = m.devices.Close()
			return m, nil
		}
		return m, waitEvents(m.c.Ctx, msg.ch, 0)
	case eventsMsg:
		return m.applyEvents(msg)
	case tea.KeyPressMsg:
		return m.key(msg)
	case tea.PasteMsg:
		var cmd tea.Cmd
		switch {
		case m.export.Active():
			m.export, cmd = m.export.Update(msg)
		case m.active == Friendliness:
			m.friend, cmd = m.friend.Update(msg)
		}
		return m, cmd
	}
	// Answers to the children's requests: each child ignores what is not
	// its own.
	var c1, c2, c3, c4, c5 tea.Cmd
	m.devices, c1 = m.devices.Update(msg)
	m.friend, c2 = m.friend.Update(msg)
	m.pareto, c3 = m.pareto.Update(msg)
	m.cmp, c5 = m.cmp.Update(msg)
	m.export, c4 = m.export.Update(msg)
	return m, tea.Batch(c1, c2, c3, c4, c5)
}

func (m Model) applyEvents(msg eventsMsg) (tea.Model, tea.Cmd) {
	m.batches++
	measured := map[string]bool{}
	var order []string
	for _, ev := range msg.events {
		if s, ok := ev.(engine.SearchProgress); ok {
			m.team = s
			continue
		}
		m.devices = m.devices.Apply(ev)
		if e, ok := ev.(engine.Measured); ok && !measured[e.Device] {
			measured[e.Device] = true
			order = append(order, e.Device)
		}
	}
	var cmds []tea.Cmd
	for _, d := range order {
		var c1, c2, c3 tea.Cmd
		m.friend, c1 = m.friend.MarkStale(d)
		m.pareto, c2 = m.pareto.MarkStale(d)
		m.cmp, c3 = m.cmp.MarkStale(d)
		cmds = append(cmds, c1, c2, c3)
	}
	// Stale views reload once their cooldown passed; at the end of the
	// stream at once (no batch comes after it).
	var c1, c2, c3 tea.Cmd
	m.friend, c1 = m.friend.Poll(msg.closed)
	m.pareto, c2 = m.pareto.Poll(msg.closed)
	m.cmp, c3 = m.cmp.Poll(msg.closed)
	cmds = append(cmds, c1, c2, c3)
	if msg.closed {
		m.devices = m.devices.Close()
	} else if m.events != nil {
		cmds = append(cmds, waitEvents(m.c.Ctx, m.events, frame))
	}
	return m, tea.Batch(cmds...)
}

func (m Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	k := m.c.Keys
	if msg.String() == "ctrl+c" {
		return m, tea.Quit
	}
	if m.export.Active() {
		var cmd tea.Cmd
		m.export, cmd = m.export.Update(msg)
		return m, cmd
	}
	if m.showHelp {
		switch {
		case key.Matches(msg, k.Quit):
			return m, tea.Quit
		case key.Matches(msg, k.Help), key.Matches(msg, k.Back):
			m.showHelp = false
		}
		return m, nil
	}
	if m.childBusy() {
		return m.updateActive(msg)
	}
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case key.Matches(msg, k.Help):
		m.showHelp = true
		return m, nil
	case key.Matches(msg, k.Devices):
		return m.switchTo(Devices)
	case key.Matches(msg, k.Friendliness):
		return m.switchTo(Friendliness)
	case key.Matches(msg, k.Pareto):
		return m.switchTo(Pareto)
	case key.Matches(msg, k.Compare) && m.views > Compare:
		return m.switchTo(Compare)
	case key.Matches(msg, k.NextView):
		return m.switchTo((m.active + 1) % m.views)
	case key.Matches(msg, k.Export):
		if m.space == nil {
			return m, nil
		}
		m.export = m.export.Open(m.exportPath(), m.Reduction(), m.cutSummary())
		return m, nil
	case key.Matches(msg, k.Search) && m.active == Pareto:
		nb, nc := m.friend.Cuts()
		if nb+nc == 0 {
			m.pareto = m.pareto.SetStatus("no cuts yet: prune cells in the friendliness view (2), or press s there for the suggested reduction")
			return m, nil
		}
		var cmd tea.Cmd
		m.pareto, cmd = m.pareto.StartSearch(m.Reduction(), m.cutSummary())
		return m, cmd
	}
	return m.updateActive(msg)
}

func (m Model) cutSummary() string {
	nb, nc := m.friend.Cuts()
	if nb+nc == 0 {
		return "no cuts (the file describes the whole space)"
	}
	return fmt.Sprintf("%d blocks pruned, %d unit depth ranges cut", nb, nc)
}

// pane is the view on screen as the root sees it: one interface, so drawing,
// help and keyboard focus need no switch on the active view.
func (m Model) pane() common.Pane {
	return [numViews]common.Pane{Devices: m.devices, Friendliness: m.friend, Pareto: m.pareto, Compare: m.cmp}[m.active]
}

func (m Model) childBusy() bool { return m.pane().Busy() }

// updateActive is the one place that routes a message to the view on
// screen: each child's Update keeps its own type.
func (m Model) updateActive(msg tea.Msg) (tea.Model, tea.Cmd) {
	var cmd tea.Cmd
	switch m.active {
	case Devices:
		m.devices, cmd = m.devices.Update(msg)
	case Friendliness:
		m.friend, cmd = m.friend.Update(msg)
	case Pareto:
		m.pareto, cmd = m.pareto.Update(msg)
	case Compare:
		m.cmp, cmd = m.cmp.Update(msg)
	}
	return m, cmd
}

func (m Model) switchTo(v View) (tea.Model, tea.Cmd) {
	if v == m.active {
		return m, nil
	}
	var c1, c2, c3 tea.Cmd
	m.active = v
	m.friend, c1 = m.friend.SetActive(v == Friendliness)
	m.pareto, c2 = m.pareto.SetActive(v == Pareto)
	m.cmp, c3 = m.cmp.SetActive(v == Compare)
	return m, tea.Batch(c1, c2, c3)
}

// View renders the explorer.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "blockprof · " + m.spaceName()
	return v
}

func (m Model) render() string {
	w, h := m.c.Width, m.c.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	if w < minWidth || h < minHeight {
		return common.Block(fmt.Sprintf("blockprof needs at least %d×%d cells (this terminal is %d×%d)", minWidth, minHeight, w, h), w, h)
	}
	var body string
	switch {
	case m.export.Active():
		body = m.export.View()
	case m.showHelp:
		body = m.fullHelp(h - 2)
	default:
		body = m.pane().View()
	}
	return m.tabs() + "\n" + common.Block(body, w, h-2) + "\n" + common.Fit(m.helpBar(), w)
}

func (m Model) tabs() string {
	st := m.c.Styles
	var parts []string
	for v := range m.views {
		name := fmt.Sprintf(" %d %s ", v+1, v)
		switch {
		case v == m.active && m.c.Color:
			parts = append(parts, st.TabActive.Render(name))
		case v == m.active:
			parts = append(parts, "["+strings.TrimSpace(name)+"]")
		default:
			parts = append(parts, st.Tab.Render(name))
		}
	}
	left := strings.Join(parts, " ")
	right := "blockprof · " + m.spaceName()
	switch t := m.team; {
	case m.pareto.Searching():
		right = "searching… · " + right
	case t.Space != "" && !t.Done && t.By != "":
		// Another session's search of the shared run.
		right = fmt.Sprintf("%s searches %s (%s gen %d/%d) · ", t.By, t.Device, t.Space, t.Generation, t.Generations) + right
	}
	gap := m.c.Width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if gap < 1 {
		return common.Fit(left, m.c.Width)
	}
	return left + strings.Repeat(" ", gap) + st.Muted.Render(right)
}

func (m Model) bindings() []key.Binding {
	k := m.c.Keys
	var b []key.Binding
	switch {
	case m.export.Active():
		return m.export.Help()
	case m.showHelp:
		return []key.Binding{k.Help, k.Quit}
	case m.childBusy():
		return m.pane().Help()
	}
	b = m.pane().Help()
	// The view's own keys first, then the global ones; arrows last (they
	// are the first to go on a narrow terminal).
	var own, moves []key.Binding
	for _, x := range b {
		switch x.Help().Key {
		case k.Up.Help().Key, k.Down.Help().Key, k.Left.Help().Key, k.Right.Help().Key:
			moves = append(moves, x)
		default:
			own = append(own, x)
		}
	}
	return append(append(own, k.Help, k.Quit, k.Export, k.NextView), moves...)
}

func (m Model) helpBar() string {
	return m.help.ShortHelpView(m.bindings())
}

func (m Model) fullHelp(h int) string {
	k := m.c.Keys
	views := []key.Binding{k.Devices, k.Friendliness, k.Pareto}
	if m.views > Compare {
		views = append(views, k.Compare)
	}
	groups := [][]key.Binding{
		append(views, k.NextView, k.Export, k.Help, k.Quit),
		{k.Up, k.Down, k.Left, k.Right},
		{k.Pause, k.Cancel},
		friendliness.Bindings(k),
		{k.Search, k.StopSearch},
	}
	titles := []string{"views", "move", "devices", "friendliness", "pareto"}
	st := m.c.Styles
	var cols []string
	for i, g := range groups {
		var lines []string
		lines = append(lines, st.Bold.Render(titles[i]))
		for _, b := range g {
			hk := b.Help()
			lines = append(lines, fmt.Sprintf("%-9s %s", hk.Key, hk.Desc))
		}
		cols = append(cols, strings.Join(lines, "\n"))
	}
	// Lay the groups out in as many columns as fit.
	var rows []string
	var row []string
	width := 0
	for _, c := range cols {
		cw := lipgloss.Width(c) + 3
		if width+cw > m.c.Width && len(row) > 0 {
			rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
			row, width = nil, 0
		}
		row = append(row, lipgloss.NewStyle().PaddingRight(3).Render(c))
		width += cw
	}
	if len(row) > 0 {
		rows = append(rows, lipgloss.JoinHorizontal(lipgloss.Top, row...))
	}
	notes := []string{
		"",
		"Cells: the block's effect on the metric relative to the space's mean arch (E[M(A)]); ? marks few archs behind a cell.",
		"Latency labels say where numbers come from: measured, replayed, table, simulated, predicted; a proxy score is not an accuracy.",
		"q leaves the explorer; the measurements so far are in the store and a new run resumes where this one stopped.",
	}
	for i, n := range notes {
		notes[i] = common.Wrap(n, m.c.Width)
	}
	return common.Block(strings.Join(rows, "\n\n")+strings.Join(notes, "\n"), m.c.Width, h)
}
