// Package devices is the explorer's devices view: one row per device of the
// live run with its state, a progress bar, measured/planned, rate, ETA, the
// last latency, its spread, the drift of the reference arch and the last
// error. It is fed engine events (merged per device: the latest Progress
// wins) and sends intents: pause/resume and cancel of the selected device.
// It never measures anything itself.
package devices

import (
	"fmt"
	"math"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"blockprof/engine"
	"blockprof/tui/common"
)

// Control steers one device of the live run. Each call returns at once;
// the engine applies the intent between measurements (a cancel aborts the
// measurement in flight) and reports the new state through its events.
type Control interface {
	Pause(device string) error
	Resume(device string) error
	Cancel(device string) error
	// Remeasure measures again the device's archs that missed its
	// spread target (once the run is done) and says how many.
	Remeasure(device string) (int, error)
}

// IntentMsg reports the result of an intent sent to the engine.
type IntentMsg struct {
	Device string
	Action string // "pause", "resume", "cancel"
	Err    error
}

// NoticeMsg says someone else steered a device of the shared run (another
// session served over SSH): the status line and the device's details say
// who.
type NoticeMsg struct {
	Device string
	Action string // "pause", "resume", "cancel"
	By     string // the key's comment or fingerprint
}

// row is one device.
type row struct {
	info common.DeviceInfo
	prog engine.Progress
	// seen says a Progress arrived.
	seen bool
	// intent is the last intent sent for the device and by whom.
	intent string
	// lastErr is the last error reported for the device.
	lastErr string
	// pausing says this view asked for a pause that the engine has not
	// reported yet.
	pausing bool
}

// Model is the devices view.
type Model struct {
	c       common.Common
	ctl     Control
	rows    []row
	cursor  int
	offset  int
	summary *engine.Summary
	// live says a run is attached; ended that its event stream closed.
	live, ended bool
	// confirm is the device awaiting a cancel confirmation ("" for none).
	confirm string
	status  string
}

// New returns the view for the run's devices; live says whether a run is
// attached (else the view says so and sends no intents).
func New(c common.Common, infos []common.DeviceInfo, ctl Control, live bool) Model {
	m := Model{c: c, ctl: ctl, live: live && ctl != nil}
	for _, d := range infos {
		m.rows = append(m.rows, row{info: d, prog: engine.Progress{Device: d.Name}})
	}
	return m
}

// SetCommon hands the view a new context (size, colour).
func (m Model) SetCommon(c common.Common) Model {
	m.c = c
	m.clampOffset()
	return m
}

// Selected is the selected device's name ("" without devices).
func (m Model) Selected() string {
	if m.cursor < len(m.rows) {
		return m.rows[m.cursor].info.Name
	}
	return ""
}

// Progress returns the latest progress of a device.
func (m Model) Progress(device string) (engine.Progress, bool) {
	for _, r := range m.rows {
		if r.info.Name == device {
			return r.prog, r.seen
		}
	}
	return engine.Progress{}, false
}

// Ended reports whether the run's event stream has closed.
func (m Model) Ended() bool { return m.ended }

// Busy reports whether a prompt of this view takes the keyboard.
func (m Model) Busy() bool { return m.confirm != "" }

// Apply merges one engine event.
func (m Model) Apply(ev engine.Event) Model {
	switch e := ev.(type) {
	case engine.Progress:
		i := m.index(e.Device)
		r := &m.rows[i]
		r.prog, r.seen = e, true
		if e.State == engine.StatePaused || e.State.Final() {
			r.pausing = false
		}
		if e.LastErr != "" {
			r.lastErr = e.LastErr
		}
	case engine.DeviceError:
		i := m.index(e.Device)
		msg := "error"
		if e.Err != nil {
			msg = e.Err.Error()
		}
		what := "attempt"
		if e.Final {
			what = "gave up"
		} else if e.Transient {
			what = "retrying"
		}
		m.rows[i].lastErr = fmt.Sprintf("%s (%s %d): %s", shortArch(e.Arch), what, e.Attempt, msg)
	case engine.RunDone:
		s := e.Summary
		m.summary = &s
	}
	return m
}

// Close marks the end of the run's event stream.
func (m Model) Close() Model {
	m.ended = true
	return m
}

func (m *Model) index(device string) int {
	for i, r := range m.rows {
		if r.info.Name == device {
			return i
		}
	}
	m.rows = append(m.rows, row{info: common.DeviceInfo{Name: device}, prog: engine.Progress{Device: device}})
	return len(m.rows) - 1
}

// shortArch cuts a canonical arch to its space and resolution.
func shortArch(a string) string {
	if a == "" {
		return "device"
	}
	if i := strings.IndexByte(a, ':'); i >= 0 {
		if j := strings.IndexByte(a[i+1:], ':'); j >= 0 {
			return a[:i+1+j] + ":…"
		}
	}
	return a
}

// Update handles keys and intent results.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k := m.c.Keys
	switch msg := msg.(type) {
	case IntentMsg:
		if msg.Err != nil {
			m.status = fmt.Sprintf("%s %s: %v", msg.Action, msg.Device, msg.Err)
			for i := range m.rows {
				if m.rows[i].info.Name == msg.Device {
					m.rows[i].pausing = false
				}
			}
		} else {
			m.status = fmt.Sprintf("%s %s: sent", msg.Action, msg.Device)
			m.setIntent(msg.Device, msg.Action+" by this session")
		}
		return m, nil
	case NoticeMsg:
		m.status = fmt.Sprintf("%s %s: sent by %s", msg.Action, msg.Device, msg.By)
		m.setIntent(msg.Device, msg.Action+" by "+msg.By)
		return m, nil
	case tea.KeyPressMsg:
		if m.confirm != "" {
			switch {
			case key.Matches(msg, k.Confirm):
				dev := m.confirm
				m.confirm = ""
				m.status = "cancelling " + dev + "…"
				return m, m.intent(dev, "cancel", m.ctl.Cancel)
			case key.Matches(msg, k.Deny):
				m.confirm = ""
				m.status = "cancel aborted"
			}
			return m, nil
		}
		switch {
		case key.Matches(msg, k.Up):
			if m.cursor > 0 {
				m.cursor--
			}
		case key.Matches(msg, k.Down):
			if m.cursor < len(m.rows)-1 {
				m.cursor++
			}
		case key.Matches(msg, k.Pause):
			return m.togglePause()
		case key.Matches(msg, k.Remeasure):
			if r, ok := m.selected(); ok {
				dev := r.info.Name
				m.status = "re-measuring the noisy archs of " + dev + "…"
				return m, func() tea.Msg {
					n, err := m.ctl.Remeasure(dev)
					return IntentMsg{Device: dev, Action: fmt.Sprintf("re-measure %d noisy archs of", n), Err: err}
				}
			}
		case key.Matches(msg, k.Cancel):
			if r, ok := m.selected(); ok {
				switch {
				case !m.live || m.ended:
					m.status = "no live run: nothing to cancel"
				case r.prog.State.Final():
					m.status = r.info.Name + " has already ended (" + string(r.prog.State) + ")"
				default:
					m.confirm = r.info.Name
				}
			}
		}
		m.clampOffset()
	}
	return m, nil
}

func (m *Model) setIntent(device, what string) {
	for i := range m.rows {
		if m.rows[i].info.Name == device {
			m.rows[i].intent = what
		}
	}
}

func (m Model) selected() (row, bool) {
	if m.cursor < len(m.rows) {
		return m.rows[m.cursor], true
	}
	return row{}, false
}

func (m Model) togglePause() (Model, tea.Cmd) {
	r, ok := m.selected()
	switch {
	case !ok:
		return m, nil
	case !m.live || m.ended:
		m.status = "no live run: nothing to pause"
		return m, nil
	case r.prog.State.Final():
		m.status = r.info.Name + " has already ended (" + string(r.prog.State) + ")"
		return m, nil
	}
	dev := r.info.Name
	if r.prog.State == engine.StatePaused || r.pausing {
		m.rows[m.cursor].pausing = false
		m.status = "resuming " + dev + "…"
		return m, m.intent(dev, "resume", m.ctl.Resume)
	}
	m.rows[m.cursor].pausing = true
	m.status = "pausing " + dev + " after its measurement in flight…"
	return m, m.intent(dev, "pause", m.ctl.Pause)
}

func (m Model) intent(dev, action string, f func(string) error) tea.Cmd {
	return func() tea.Msg { return IntentMsg{Device: dev, Action: action, Err: f(dev)} }
}

// Help lists the view's bindings for the help bar.
func (m Model) Help() []key.Binding {
	k := m.c.Keys
	if m.confirm != "" {
		return []key.Binding{k.Confirm, k.Deny}
	}
	return []key.Binding{k.Pause, k.Cancel, k.Remeasure, k.Up, k.Down}
}

// column is one column of the table.
type column struct {
	title string
	width int
	// prio: columns with a higher number go first when space runs out.
	prio  int
	right bool
	cell  func(r row) string
}

const (
	gap    = 1
	barMin = 16
	// detailLines is the height of the panel below the table.
	detailLines = 5
)

func (m Model) columns() (cols []column, barW int) {
	nameW := 6
	for _, r := range m.rows {
		nameW = max(nameW, min(lipgloss.Width(r.info.Name), 16))
	}
	doneW := len("done")
	for _, r := range m.rows {
		doneW = max(doneW, len(fmt.Sprintf("%d/%d", r.prog.Done, r.prog.Total)))
	}
	all := []column{
		{title: "device", width: nameW, cell: func(r row) string { return r.info.Name }},
		{title: "kind", width: 7, prio: 5, cell: func(r row) string { return r.info.Kind }},
		{title: "source", width: 9, prio: 2, cell: func(r row) string { return provenance(r.info) }},
		{title: "state", width: 10, cell: stateText},
		{title: "progress", width: -1},
		{title: "done", width: doneW, right: true, cell: func(r row) string { return fmt.Sprintf("%d/%d", r.prog.Done, r.prog.Total) }},
		{title: "rate", width: 7, prio: 5, right: true, cell: func(r row) string { return rate(r.prog.Rate) }},
		{title: "ETA", width: 6, prio: 1, right: true, cell: func(r row) string { return eta(r.prog) }},
		{title: "last ms", width: 8, prio: 2, right: true, cell: func(r row) string {
			if r.prog.LastMs <= 0 {
				return "–"
			}
			return common.Num(r.prog.LastMs, 3)
		}},
		{title: "spread", width: 6, prio: 6, right: true, cell: func(r row) string {
			if r.prog.LastMs <= 0 {
				return "–"
			}
			return common.Percent(r.prog.LastSpread)
		}},
		{title: "drift", width: 6, prio: 6, right: true, cell: func(r row) string {
			if !r.prog.DriftKnown {
				return "–"
			}
			return sign(r.prog.Drift) + common.Percent(r.prog.Drift)
		}},
		{title: "last error", width: -2, prio: 7, cell: func(r row) string { return r.lastErr }},
	}
	w := m.c.Width - 2 // the cursor marker
	fits := func(cs []column) (int, bool) {
		used := 0
		for i, c := range cs {
			if i > 0 {
				used += gap
			}
			switch c.width {
			case -1:
				used += barMin
			case -2:
				used += 24
			default:
				used += c.width
			}
		}
		return w - used, used <= w
	}
	cols = all
	for {
		if _, ok := fits(cols); ok {
			break
		}
		worst := -1
		for i, c := range cols {
			if c.prio > 0 && (worst < 0 || c.prio >= cols[worst].prio) {
				worst = i
			}
		}
		if worst < 0 {
			break
		}
		cols = append(cols[:worst:worst], cols[worst+1:]...)
	}
	spare, _ := fits(cols)
	spare = max(spare, 0)
	barW = barMin
	hasErr := false
	for _, c := range cols {
		hasErr = hasErr || c.width == -2
	}
	if hasErr {
		// The bar and the error share what is left.
		barW += min(spare, 28)
	} else {
		barW += min(spare, 48)
	}
	return cols, barW
}

func provenance(d common.DeviceInfo) string {
	if d.Provenance == "" {
		return "provenance unknown"
	}
	return string(d.Provenance)
}

func stateText(r row) string {
	switch {
	case !r.seen:
		return "waiting"
	case r.pausing && r.prog.State != engine.StatePaused:
		return "pausing…"
	case r.prog.State == engine.StatePaused || r.prog.State == engine.StateCancelled:
		if who := intentWho(r.prog.Intent); who != "" {
			return string(r.prog.State) + " (" + who + ")"
		}
	}
	return string(r.prog.State)
}

// intentWho is who sent the last intent ("paused by alice at 17:03:12" →
// "alice"), "" when none or sent by this process.
func intentWho(intent string) string {
	_, rest, ok := strings.Cut(intent, " by ")
	if !ok {
		return ""
	}
	who, _, _ := strings.Cut(rest, " at ")
	if who == "this process" {
		return ""
	}
	return who
}

func rate(r float64) string {
	switch {
	case r <= 0:
		return "–"
	case r >= 1:
		return common.Num(r, 2) + "/s"
	}
	return common.Num(r*60, 2) + "/m"
}

func eta(p engine.Progress) string {
	if p.State.Final() {
		return "–"
	}
	return common.Duration(p.ETA)
}

func sign(x float64) string {
	if x > 0 {
		return "+"
	}
	return ""
}

// tableRows is the number of device rows that fit.
func (m Model) tableRows() int {
	// title, header, blank, detail panel, status
	return max(m.c.Height-3-detailLines-1, 1)
}

func (m *Model) clampOffset() {
	n := m.tableRows()
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+n {
		m.offset = m.cursor - n + 1
	}
	m.offset = max(min(m.offset, len(m.rows)-n), 0)
}

// View renders the view in exactly Width×Height cells.
func (m Model) View() string {
	if m.c.Width <= 0 || m.c.Height <= 0 {
		return ""
	}
	st := m.c.Styles
	var b strings.Builder
	b.WriteString(m.title() + "\n")
	cols, barW := m.columns()
	var hdr []string
	for _, c := range cols {
		w := c.width
		switch w {
		case -1:
			w = barW
		case -2:
			w = m.errWidth(cols, barW)
		}
		if c.right {
			hdr = append(hdr, common.FitRight(c.title, w))
		} else {
			hdr = append(hdr, common.Fit(c.title, w))
		}
	}
	b.WriteString("  " + st.Header.Render(strings.Join(hdr, " ")) + "\n")
	n := m.tableRows()
	if len(m.rows) == 0 {
		b.WriteString(st.Muted.Render("  no devices in this run") + "\n")
	}
	for i := m.offset; i < len(m.rows) && i < m.offset+n; i++ {
		r := m.rows[i]
		var cells []string
		for _, c := range cols {
			var s string
			switch c.width {
			case -1:
				s = m.barCell(barW, r)
			case -2:
				s = common.Fit(st.Error.Render(r.lastErr), m.errWidth(cols, barW))
			default:
				text := c.cell(r)
				if c.right {
					s = common.FitRight(text, c.width)
				} else {
					s = common.Fit(text, c.width)
				}
				if c.title == "state" {
					s = m.stateStyle(r).Render(s)
				}
				if c.title == "source" && !r.info.Measured() {
					s = st.Label.Render(s)
				}
			}
			cells = append(cells, s)
		}
		line := strings.Join(cells, " ")
		marker := "  "
		if i == m.cursor {
			marker = "› "
			line = st.Bold.Render(line)
		}
		b.WriteString(marker + line + "\n")
	}
	b.WriteString("\n" + m.detail())
	return common.Block(b.String(), m.c.Width, m.c.Height-1) + "\n" + common.Fit(m.statusLine(), m.c.Width)
}

func (m Model) errWidth(cols []column, barW int) int {
	used := 0
	for i, c := range cols {
		if i > 0 {
			used += gap
		}
		switch c.width {
		case -1:
			used += barW
		case -2:
		default:
			used += c.width
		}
	}
	return max(m.c.Width-2-used, 1)
}

// barCell draws the device's progress bar: filled cells, empty cells and
// the percentage, in exactly w cells. (bubbles/v2/progress's ViewAs draws
// the same, but its module needs github.com/charmbracelet/harmonica in
// go.mod, which this tree does not list.)
func (m Model) barCell(w int, r row) string {
	frac := 0.0
	if r.prog.Total > 0 {
		frac = float64(r.prog.Done) / float64(r.prog.Total)
	}
	frac = min(max(frac, 0), 1)
	pct := fmt.Sprintf(" %3.0f%%", frac*100)
	tw := max(w-len(pct), 0)
	fw := min(max(int(math.Round(float64(tw)*frac)), 0), tw)
	full, empty := lipgloss.NewStyle(), lipgloss.NewStyle()
	if m.c.Color {
		full, empty = full.Foreground(lipgloss.Color("10")), empty.Foreground(lipgloss.Color("8"))
		if r.prog.State == engine.StateFailed || r.prog.State == engine.StateCancelled {
			full = full.Foreground(lipgloss.Color("9"))
		}
	}
	return full.Render(strings.Repeat("█", fw)) + empty.Render(strings.Repeat("░", tw-fw)) + pct
}

func (m Model) stateStyle(r row) lipgloss.Style {
	st := m.c.Styles
	switch r.prog.State {
	case engine.StateFailed, engine.StateCancelled:
		return st.Error
	case engine.StatePaused:
		return st.Warn
	case engine.StateDone:
		return st.OK
	}
	return lipgloss.NewStyle()
}

func (m Model) title() string {
	st := m.c.Styles
	counts := map[engine.State]int{}
	for _, r := range m.rows {
		if r.seen {
			counts[r.prog.State]++
		}
	}
	var parts []string
	for _, s := range []engine.State{engine.StateConnecting, engine.StateMeasuring, engine.StatePaused, engine.StateDone, engine.StateFailed, engine.StateCancelled} {
		if counts[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[s], s))
		}
	}
	run := "live run"
	switch {
	case !m.live:
		run = "no live run (showing the store)"
	case m.summary != nil:
		run = fmt.Sprintf("run %d finished in %s", m.summary.Run, common.Duration(m.summary.Wall))
	case m.ended:
		run = "run ended"
	}
	t := st.Title.Render("Devices") + " · " + run
	if len(parts) > 0 {
		t += " · " + strings.Join(parts, ", ")
	}
	return t
}

func (m Model) detail() string {
	r, ok := m.selected()
	if !ok {
		return ""
	}
	st := m.c.Styles
	p := r.prog
	var lines []string
	head := st.Bold.Render(r.info.Name)
	if r.info.Kind != "" {
		head += " · " + r.info.Kind
	}
	head += " · " + st.Label.Render(r.info.Source())
	if r.info.Detail != "" {
		head += " · " + r.info.Detail
	}
	lines = append(lines, head)
	// From the latest Progress (replayed to a late subscriber), not from
	// the events this view happened to receive.
	lines = append(lines, fmt.Sprintf("measured %d of %d plan archs (%d from earlier runs, %d in this run) · %d errors · elapsed %s",
		p.Done, p.Total, p.Resumed, max(p.Done-p.Resumed, 0), p.Errors, common.Duration(p.Elapsed)))
	last := "no measurement yet"
	if p.LastMs > 0 {
		last = fmt.Sprintf("last %s ms (spread IQR/median %s)", common.Num(p.LastMs, 4), common.Percent(p.LastSpread))
	}
	drift := "reference drift unknown"
	if p.DriftKnown {
		drift = "reference drift " + sign(p.Drift) + common.Percent(p.Drift)
	}
	lines = append(lines, last+" · "+drift+" · rate "+rate(p.Rate)+" · ETA "+eta(p))
	if iw := p.Interval; iw != nil { // a profile-until-confident plan
		lines = append(lines, fmt.Sprintf("predicted friendliness: 95%% block intervals max %.1f%% mean %.1f%% wide after %d measured (stops at %.1f%%)",
			iw.Max, iw.Mean, iw.Measured, iw.Target))
	}
	if r.lastErr != "" {
		lines = append(lines, st.Error.Render("last error: "+r.lastErr))
	}
	switch {
	case p.Intent != "": // from the run itself: every session, late joiners too
		lines = append(lines, st.Warn.Render(p.Intent))
	case r.intent != "":
		lines = append(lines, "last intent: "+r.intent)
	}
	if r.info.Stale != "" {
		lines = append(lines, st.Warn.Render(r.info.Stale))
	}
	if !r.info.Measured() {
		lines = append(lines, st.Label.Render(fmt.Sprintf("note: %s's numbers are %s, not measured by blockprof", r.info.Name, r.info.Source())))
	}
	for i, l := range lines {
		lines[i] = common.Wrap(l, m.c.Width)
	}
	return strings.Join(lines, "\n")
}

func (m Model) statusLine() string {
	st := m.c.Styles
	if m.confirm != "" {
		return st.Warn.Render(fmt.Sprintf("cancel %s for this run? The arch in flight is dropped; a re-run resumes. [y/n]", m.confirm))
	}
	return st.Status.Render(m.status)
}
