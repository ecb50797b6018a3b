// Package friendliness is the explorer's friendliness view: a heat-map
// table with the space's blocks as rows (paper order) and its unit
// positions as columns (layer positions when expanded), each cell the
// chosen statistic of the block's effect on the chosen metric of the chosen
// device, as the engine's analysis computed it. The engineer prunes (unit,
// block) cells, edits unit depth ranges, merges suggested cuts after a
// preview and loads reduced spaces here; the cuts (an engine/cuts value,
// kept by the session) become the reduced space that the export writes and
// the search compares.
package friendliness

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"blockprof/engine/cuts"
	"blockprof/model"
	"blockprof/tui/common"
)

// cooldown is the least time between two reloads caused by new data.
const cooldown = 2 * time.Second

type tableMsg struct {
	gen            int
	device, metric string
	table          Table
	err            error
}

type detailsMsg struct {
	details Details
	err     error
}

type suggestMsg struct {
	device, metric string
	s              Suggestion
	err            error
}

// cutsMsg answers Source.Cuts (the session's cuts, restored on Init).
type cutsMsg struct {
	c   cuts.Cuts
	err error
}

// savedMsg answers Source.SetCuts.
type savedMsg struct{ err error }

type loadedMsg struct {
	path string
	c    cuts.Cuts
	err  error
}

// preview is a suggestion shown before it is merged.
type preview struct {
	device, metric string
	s              Suggestion
	// merge is what merging would do now (a dry run).
	merge cuts.MergeReport
	off   int
}

// prompt is the path prompt of o (load a reduced space).
type prompt struct {
	input textinput.Model
	err   error
	busy  bool
}

// Model is the friendliness view.
type Model struct {
	c       common.Common
	src     Source
	space   *model.Space
	blocks  []model.Block
	devices []common.DeviceInfo
	metrics []Metric
	dev     int
	met     int
	stat    Stat
	expand  bool
	row     int
	col     int
	colOff  int

	table *Table
	err   error
	// Reload: on screen, stale, loading, the load's generation (shared
	// with the other views of engine data).
	common.Reload

	// cuts are the current cuts with their reasons. Every edit is sent to
	// the Source; one save is in flight at a time (dirty: send again when
	// it returns), so the session gets the edits in order.
	cuts   cuts.Cuts
	edits  int
	saving bool
	dirty  bool
	asking bool

	preview *preview
	prompt  *prompt

	details   *Details
	detailErr error
	detailOff int
	status    string
}

// New returns the view for a space, its devices and the source of tables.
func New(c common.Common, sp *model.Space, devs []common.DeviceInfo, src Source) Model {
	m := Model{c: c, src: src, space: sp, devices: devs, cuts: cuts.New(sp), Reload: common.Reload{Cooldown: cooldown}}
	if src != nil {
		m.metrics = src.Metrics()
	}
	if sp != nil {
		m.blocks = sp.BlockChoices()
	}
	// A per-device metric first when there is a device (latency), else the
	// first metric that does not need one.
	for i, mt := range m.metrics {
		if mt.PerDevice == (len(devs) > 0) {
			m.met = i
			break
		}
	}
	return m
}

// SetCommon hands the view a new context (size, colour).
func (m Model) SetCommon(c common.Common) Model {
	m.c = c
	m.fixScroll()
	return m
}

// Device is the selected device's name ("" without devices).
func (m Model) Device() string {
	if m.dev < len(m.devices) {
		return m.devices[m.dev].Name
	}
	return ""
}

// Metric is the selected metric.
func (m Model) Metric() Metric {
	if m.met < len(m.metrics) {
		return m.metrics[m.met]
	}
	return Metric{}
}

// Stat is the statistic shown.
func (m Model) Stat() Stat { return m.stat }

// Table is the table shown (nil before the first one arrived).
func (m Model) Table() *Table { return m.table }

// Init asks the Source for the session's cuts, so the view starts from
// the cuts of the last session.
func (m Model) Init() tea.Cmd {
	if m.src == nil || m.space == nil {
		return nil
	}
	src, ctx := m.src, m.c.Ctx
	return func() tea.Msg {
		c, err := src.Cuts(ctx)
		return cutsMsg{c: c, err: err}
	}
}

// Pruned reports whether (unit, block key) is pruned.
func (m Model) Pruned(unit int, block string) bool { return m.cuts.Pruned(unit, block) }

// Depths is unit's allowed depth range.
func (m Model) Depths(unit int) (lo, hi int) { return m.cuts.Depths(unit) }

// Cuts counts the pruned cells and the units whose depth range is cut
// (Current is the cuts themselves).
func (m Model) Cuts() (blocks, depths int) { return m.cuts.Counts() }

// Current is the current cuts.
func (m Model) Current() cuts.Cuts { return m.cuts }

// Previewing reports whether a suggestion is shown for confirmation.
func (m Model) Previewing() bool { return m.preview != nil }

// Prompting reports whether the load prompt is open.
func (m Model) Prompting() bool { return m.prompt != nil }

// Busy reports whether a panel (details, suggestion preview, load prompt)
// takes the keyboard.
func (m Model) Busy() bool {
	return m.details != nil || m.detailErr != nil || m.preview != nil || m.prompt != nil
}

// SetActive says whether the view is on screen; a view that becomes active
// loads its table if it has none or new data arrived.
func (m Model) SetActive(on bool) (Model, tea.Cmd) {
	m.Active = on
	if on && (m.table == nil && m.err == nil || m.Stale) && !m.Loading {
		return m.load()
	}
	return m, nil
}

// MarkStale says the store got new measurements on device; the table is
// recomputed when it concerns the table shown, at most every cooldown and
// only while the view is on screen (see Poll). A table of a metric that is
// not per device (accuracy, MACs, params) is read from the plan, which a
// measurement does not change: reading it again every cooldown took the
// cores from the device being profiled.
func (m Model) MarkStale(device string) (Model, tea.Cmd) {
	if mt := m.Metric(); !mt.PerDevice || device != "" && device != m.Device() {
		return m, nil
	}
	m.Stale = true
	return m.Poll(false)
}

// Poll reloads a stale table of an active view once the cooldown since the
// last load has passed, or at once when force is set (the run ended).
func (m Model) Poll(force bool) (Model, tea.Cmd) {
	if m.Due(force) {
		return m.load()
	}
	return m, nil
}

func (m Model) load() (Model, tea.Cmd) {
	if m.src == nil || len(m.metrics) == 0 {
		return m, nil
	}
	var gen int
	m.Reload, gen = m.Begin()
	dev, met, src, ctx := m.Device(), m.Metric().Name, m.src, m.c.Ctx
	return m, func() tea.Msg {
		t, err := src.Table(ctx, dev, met)
		return tableMsg{gen: gen, device: dev, metric: met, table: t, err: err}
	}
}

// Update handles keys and the engine's answers.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tableMsg:
		var current bool
		if m.Reload, current = m.Answer(msg.gen); !current {
			return m, nil
		}
		if msg.err != nil {
			m.err = msg.err
		} else {
			t := msg.table
			m.table, m.err = &t, nil
		}
		return m, nil
	case detailsMsg:
		m.status = ""
		if msg.err != nil {
			m.detailErr = msg.err
		} else {
			d := msg.details
			m.details, m.detailOff = &d, 0
		}
		return m, nil
	case suggestMsg:
		return m.openPreview(msg), nil
	case cutsMsg:
		return m.restore(msg), nil
	case savedMsg:
		m.saving = false
		if msg.err != nil {
			m.status = "cuts not saved: " + msg.err.Error()
			m.dirty = true
			return m, nil
		}
		if m.dirty {
			return m.save()
		}
		return m, nil
	case loadedMsg:
		return m.applyLoaded(msg)
	case tea.PasteMsg:
		if m.prompt != nil && !m.prompt.busy {
			var cmd tea.Cmd
			m.prompt.input, cmd = m.prompt.input.Update(msg)
			return m, cmd
		}
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m Model) key(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	k := m.c.Keys
	switch {
	case m.prompt != nil:
		return m.promptKey(msg)
	case m.preview != nil:
		return m.previewKey(msg)
	case m.Busy():
		switch {
		case key.Matches(msg, k.Back), key.Matches(msg, k.Details):
			m.details, m.detailErr = nil, nil
		case key.Matches(msg, k.Up):
			m.detailOff = max(m.detailOff-1, 0)
		case key.Matches(msg, k.Down):
			if m.details != nil && m.detailOff < len(m.details.Archs)-1 {
				m.detailOff++
			}
		}
		return m, nil
	}
	cols := m.columns()
	switch {
	case key.Matches(msg, k.Up):
		m.row = max(m.row-1, 0)
	case key.Matches(msg, k.Down):
		m.row = min(m.row+1, max(len(m.blocks)-1, 0))
	case key.Matches(msg, k.Left):
		m.col = max(m.col-1, 0)
	case key.Matches(msg, k.Right):
		m.col = min(m.col+1, max(len(cols)-1, 0))
	case key.Matches(msg, k.Expand):
		cur := m.cursorKey()
		m.expand = !m.expand
		m.col = 0
		for i, c := range m.columns() {
			if c.Unit == cur.Unit && (c.Layer <= 1 || !m.expand) {
				m.col = i
				break
			}
		}
		m.status = map[bool]string{true: "columns: layer positions", false: "columns: unit positions"}[m.expand]
	case key.Matches(msg, k.Stat):
		m.stat = (m.stat + 1) % NumStats
		m.status = "statistic: " + m.stat.String()
	case key.Matches(msg, k.Details):
		return m.requestDetails()
	case key.Matches(msg, k.Prune):
		return m.togglePrune()
	case key.Matches(msg, k.Depth):
		return m.moveDepth(false, -1)
	case key.Matches(msg, k.DepthUp):
		return m.moveDepth(false, +1)
	case key.Matches(msg, k.MinDepthUp):
		return m.moveDepth(true, +1)
	case key.Matches(msg, k.MinDepthDown):
		return m.moveDepth(true, -1)
	case key.Matches(msg, k.Suggest):
		return m.askSuggestion()
	case key.Matches(msg, k.Load):
		return m.openPrompt()
	case key.Matches(msg, k.Clear):
		if m.space == nil {
			return m, nil
		}
		nb, nd := m.cuts.Counts()
		m.status = fmt.Sprintf("cuts cleared (%d blocks, %d depth ranges)", nb, nd)
		return m.edit(cuts.New(m.space))
	case key.Matches(msg, k.Device):
		if len(m.devices) > 1 {
			m.dev = (m.dev + 1) % len(m.devices)
			m.status = "device: " + m.Device()
			return m.load()
		}
		m.status = "only one device in this run"
	case key.Matches(msg, k.Metric):
		if len(m.metrics) > 1 {
			m.met = (m.met + 1) % len(m.metrics)
			m.status = "metric: " + m.Metric().Title()
			return m.load()
		}
	}
	m.fixScroll()
	return m, nil
}

// columns are the table's columns: one per unit, or one per (unit, layer)
// when expanded.
func (m Model) columns() []Key {
	if m.space == nil {
		return nil
	}
	var out []Key
	for i, u := range m.space.Units {
		if !m.expand {
			out = append(out, Key{Unit: i + 1})
			continue
		}
		for l := 1; l <= u.MaxDepth(); l++ {
			out = append(out, Key{Unit: i + 1, Layer: l})
		}
	}
	return out
}

func (m Model) cursorKey() Key {
	cols := m.columns()
	if len(cols) == 0 || len(m.blocks) == 0 {
		return Key{}
	}
	k := cols[min(m.col, len(cols)-1)]
	k.Block = m.blocks[min(m.row, len(m.blocks)-1)].Key()
	return k
}

func (m Model) allows(unit int, block string) bool {
	if m.space == nil || unit < 1 || unit > len(m.space.Units) {
		return false
	}
	return slices.ContainsFunc(m.space.Units[unit-1].Blocks, func(b model.Block) bool { return b.Key() == block })
}

func (m Model) requestDetails() (Model, tea.Cmd) {
	k := m.cursorKey()
	if m.src == nil || !m.allows(k.Unit, k.Block) {
		m.status = "not a choice of this unit"
		return m, nil
	}
	dev, met, st, ctx, src := m.Device(), m.Metric().Name, m.stat, m.c.Ctx, m.src
	m.status = "loading the archs behind the cell…"
	return m, func() tea.Msg {
		d, err := src.Details(ctx, dev, met, k, st)
		return detailsMsg{details: d, err: err}
	}
}

// edit makes c the current cuts and sends them to the Source.
func (m Model) edit(c cuts.Cuts) (Model, tea.Cmd) {
	m.cuts = c
	m.edits++
	return m.save()
}

// save sends the current cuts unless a save is in flight (then they go
// when it returns).
func (m Model) save() (Model, tea.Cmd) {
	if m.src == nil {
		return m, nil
	}
	if m.saving {
		m.dirty = true
		return m, nil
	}
	m.saving, m.dirty = true, false
	src, ctx, c := m.src, m.c.Ctx, m.cuts
	return m, func() tea.Msg { return savedMsg{err: src.SetCuts(ctx, c)} }
}

// restore takes the session's cuts, unless the engineer edited before
// they arrived (the edits were sent and win).
func (m Model) restore(msg cutsMsg) Model {
	switch {
	case msg.err != nil:
		m.status = "could not restore the session's cuts: " + msg.err.Error()
	case m.edits > 0:
	case msg.c.Parent() == "":
	case m.space == nil || msg.c.Parent() != m.space.Name || msg.c.Units() != len(m.space.Units):
		m.status = fmt.Sprintf("the session's cuts are of space %s, not %s: not restored", msg.c.Parent(), m.spaceName())
	default:
		m.cuts = msg.c
		if nb, nd := m.cuts.Counts(); nb+nd > 0 {
			m.status = fmt.Sprintf("restored the session's cuts: %d blocks, %d depth ranges", nb, nd)
			if o := m.cuts.Origin(); o != "" {
				m.status += " (" + o + ")"
			}
		}
	}
	return m
}

func (m Model) spaceName() string {
	if m.space == nil {
		return "?"
	}
	return m.space.Name
}

func (m Model) togglePrune() (Model, tea.Cmd) {
	k := m.cursorKey()
	if !m.allows(k.Unit, k.Block) {
		m.status = fmt.Sprintf("%s is not a choice of unit %d", k.Block, k.Unit)
		return m, nil
	}
	was := m.cuts.Pruned(k.Unit, k.Block)
	c, err := m.cuts.TogglePrune(k.Unit, k.Block, m.evidence(Key{Unit: k.Unit, Block: k.Block}))
	if err != nil {
		m.status = strings.TrimPrefix(err.Error(), "cuts: ")
		return m, nil
	}
	m.status = fmt.Sprintf("unit %d: %s pruned", k.Unit, k.Block)
	if was {
		m.status = fmt.Sprintf("unit %d: %s kept", k.Unit, k.Block)
	}
	return m.edit(c)
}

// moveDepth moves the focused unit's min (or max) depth one choice up
// (dir +1) or down (-1), never past the other bound.
func (m Model) moveDepth(minBound bool, dir int) (Model, tea.Cmd) {
	k := m.cursorKey()
	if k.Unit == 0 {
		return m, nil
	}
	u := m.space.Units[k.Unit-1]
	lo, hi := m.cuts.Depths(k.Unit)
	cur, name := hi, "max"
	if minBound {
		cur, name = lo, "min"
	}
	i := slices.Index(u.Depths, cur) + dir
	switch {
	case len(u.Depths) == 1:
		m.status = fmt.Sprintf("unit %d has a single depth choice", k.Unit)
		return m, nil
	case lo == hi && (minBound == (dir > 0)):
		m.status = fmt.Sprintf("unit %d: depths %d–%d, the %s depth cannot pass the other bound", k.Unit, lo, hi, name)
		return m, nil
	case i < 0 || i >= len(u.Depths):
		m.status = fmt.Sprintf("unit %d: %s depth %d is the space's %s", k.Unit, name, cur, map[bool]string{true: "smallest", false: "largest"}[dir < 0])
		return m, nil
	}
	if minBound {
		lo = u.Depths[i]
	} else {
		hi = u.Depths[i]
	}
	c, err := m.cuts.SetDepths(k.Unit, lo, hi, m.depthEvidence(k.Unit, lo, hi, minBound))
	if err != nil {
		m.status = strings.TrimPrefix(err.Error(), "cuts: ")
		return m, nil
	}
	m.status = fmt.Sprintf("unit %d: depths %d–%d (of %d–%d)", k.Unit, lo, hi, u.MinDepth(), u.MaxDepth())
	return m.edit(c)
}

func (m Model) askSuggestion() (Model, tea.Cmd) {
	if m.src == nil || m.space == nil {
		return m, nil
	}
	if m.asking {
		m.status = "still waiting for the suggestion…"
		return m, nil
	}
	m.asking = true
	dev, met, ctx, src := m.Device(), m.Metric().Name, m.c.Ctx, m.src
	m.status = "asking the engine for suggested cuts…"
	return m, func() tea.Msg {
		s, err := src.Suggest(ctx, dev, met)
		return suggestMsg{device: dev, metric: met, s: s, err: err}
	}
}

func (m Model) openPreview(msg suggestMsg) Model {
	m.asking = false
	if msg.err != nil {
		m.status = "no suggestion: " + msg.err.Error()
		return m
	}
	if nb, nd := msg.s.Cuts.Counts(); nb+nd == 0 {
		m.status = fmt.Sprintf("no cut suggested for %s %s", orDash(msg.device), msg.metric)
		if len(msg.s.Evidence) > 0 {
			m.status += ": " + msg.s.Evidence[0]
		}
		return m
	}
	_, rep := m.cuts.Merge(msg.s.Cuts)
	m.preview = &preview{device: msg.device, metric: msg.metric, s: msg.s, merge: rep}
	m.status = "review the suggestion: y merges it into the current cuts, n cancels"
	return m
}

func (m Model) previewKey(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	k := m.c.Keys
	switch {
	case key.Matches(msg, k.Confirm):
		p := m.preview
		m.preview = nil
		merged, rep := m.cuts.Merge(p.s.Cuts)
		m.status = "merged the suggestion: " + rep.String()
		if len(rep.Added) == 0 {
			m.status = "nothing new merged: " + rep.String()
		}
		return m.edit(merged)
	case key.Matches(msg, k.Deny):
		m.preview = nil
		m.status = "suggestion not applied"
	case key.Matches(msg, k.Up), key.Matches(msg, k.Down):
		p := *m.preview
		if key.Matches(msg, k.Up) {
			p.off = max(p.off-1, 0)
		} else {
			p.off = min(p.off+1, max(len(p.lines())-1, 0))
		}
		m.preview = &p
	}
	return m, nil
}

// lines are the preview's suggested cuts, one per line.
func (p *preview) lines() []string {
	if len(p.s.Lines) > 0 {
		return p.s.Lines
	}
	return p.s.Cuts.Describe()
}

func (m Model) openPrompt() (Model, tea.Cmd) {
	if m.src == nil || m.space == nil {
		return m, nil
	}
	in := textinput.New()
	in.Prompt = ""
	in.Placeholder = "spaces/" + m.space.Name + "-reduced.toml"
	st := textinput.DefaultStyles(true)
	st.Cursor.Blink = false
	in.SetStyles(st)
	in.SetWidth(max(m.c.Width-len("path: ")-1, 10))
	cmd := in.Focus()
	m.prompt = &prompt{input: in}
	m.status = "type the path of a reduced-space TOML file (an export or spaces/*.toml)"
	return m, cmd
}

func (m Model) promptKey(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	p := *m.prompt
	if p.busy {
		return m, nil
	}
	m.prompt = &p
	switch msg.String() {
	case "esc":
		m.prompt = nil
		m.status = "load cancelled"
		return m, nil
	case "enter":
		path := strings.TrimSpace(p.input.Value())
		if path == "" {
			p.err = errors.New("type a path")
			return m, nil
		}
		p.busy, p.err = true, nil
		src, ctx := m.src, m.c.Ctx
		return m, func() tea.Msg {
			c, err := src.LoadReduced(ctx, path)
			return loadedMsg{path: path, c: c, err: err}
		}
	}
	p.err = nil
	var cmd tea.Cmd
	p.input, cmd = p.input.Update(msg)
	return m, cmd
}

func (m Model) applyLoaded(msg loadedMsg) (Model, tea.Cmd) {
	if m.prompt == nil {
		return m, nil
	}
	p := *m.prompt
	p.busy = false
	m.prompt = &p
	switch {
	case msg.err != nil:
		p.err = msg.err
		return m, nil
	case m.space == nil || msg.c.Parent() != m.space.Name || msg.c.Units() != len(m.space.Units):
		p.err = fmt.Errorf("%s was read as cuts of space %q, this view shows %s", msg.path, msg.c.Parent(), m.spaceName())
		return m, nil
	}
	m.prompt = nil
	ob, od := m.cuts.Counts()
	nb, nd := msg.c.Counts()
	m.status = fmt.Sprintf("loaded %s: %d blocks, %d depth ranges cut", msg.path, nb, nd)
	if ob+od > 0 {
		m.status += fmt.Sprintf(" (before: %d, %d)", ob, od)
	}
	return m.edit(msg.c)
}

// evidence describes the cell's current value, the reason of pruning it.
func (m Model) evidence(k Key) string {
	t := m.table
	if t == nil {
		return "by hand, before any table was computed"
	}
	v := t.Cells[k][m.stat]
	if v == nil {
		for s := range NumStats {
			if v = t.Cells[k][s]; v != nil {
				return describe(t, Stat(s), v)
			}
		}
		return fmt.Sprintf("by hand; no %s for it on %s", m.stat, orDash(t.Device))
	}
	return describe(t, m.stat, v)
}

// depthEvidence is the reason of a unit's depth range [lo, hi]: the
// regression's effects of the depths the moved bound cuts.
func (m Model) depthEvidence(unit, lo, hi int, minBound bool) string {
	t := m.table
	if t == nil {
		return "by hand"
	}
	var parts []string
	for _, d := range m.space.Units[unit-1].Depths {
		if (minBound && d < lo) || (!minBound && d > hi) {
			if e, ok := t.DepthEffects[[2]int{unit, d}]; ok {
				parts = append(parts, fmt.Sprintf("depth %d %s %s", d, common.Signed(e.Value, 3), t.Metric.Unit))
			}
		}
	}
	if len(parts) == 0 {
		return "by hand"
	}
	return "regression depth effect " + strings.Join(parts, ", ") + " on " + source(t)
}

func describe(t *Table, s Stat, v *Value) string {
	ci := ""
	if v.HasCI() {
		ci = fmt.Sprintf(" [%s, %s]", common.Num(v.Lo, 3), common.Num(v.Hi, 3))
	}
	return fmt.Sprintf("%s %s %s%s, %d archs, on %s", s.Short(), common.Signed(v.Value, 3), t.Metric.Unit, ci, v.Support, source(t))
}

func source(t *Table) string {
	what := t.Metric.Name
	if t.Device != "" && t.Metric.PerDevice {
		what = t.Device + " " + what
	}
	return what + " (" + orDash(t.Label) + ")"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Reduction is the reduced space the cuts describe, with their reasons,
// motivated by the device and statistic shown.
func (m Model) Reduction(name string) model.Reduction {
	r := m.cuts.Reduction(name)
	r.Name, r.Device = name, m.Device()
	if m.space == nil {
		return r
	}
	mt := m.Metric()
	r.Statistic = m.stat.Short() + " of " + mt.Name
	if mt.Name == "proxy" {
		r.Statistic += " (proxy, not an accuracy)"
	}
	nb, nd := m.cuts.Counts()
	r.Description = fmt.Sprintf("%d (unit, block) cells pruned and %d unit depth ranges cut in the blockprof explorer", nb, nd)
	if o := m.cuts.Origin(); o != "" {
		r.Description += "; cuts from: " + o
	}
	return r
}

// Help lists the view's bindings for the help bar.
func (m Model) Help() []key.Binding {
	k := m.c.Keys
	switch {
	case m.prompt != nil:
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "load")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}
	case m.preview != nil:
		return []key.Binding{
			key.NewBinding(key.WithKeys(k.Confirm.Keys()...), key.WithHelp(k.Confirm.Help().Key, "merge")),
			key.NewBinding(key.WithKeys(k.Deny.Keys()...), key.WithHelp(k.Deny.Help().Key+"/esc", "cancel")),
			k.Up, k.Down,
		}
	case m.Busy():
		return []key.Binding{k.Up, k.Down, k.Back}
	}
	return Bindings(k)
}

// Bindings are the view's own keys for the help bar and the full help,
// the two ends of a depth range each as one pair.
func Bindings(k *common.KeyMap) []key.Binding {
	pair := func(a, b key.Binding, what string) key.Binding {
		return key.NewBinding(key.WithKeys(append(a.Keys(), b.Keys()...)...), key.WithHelp(a.Help().Key+"/"+b.Help().Key, what))
	}
	return []key.Binding{k.Prune, pair(k.Depth, k.DepthUp, "max depth −/+"), pair(k.MinDepthDown, k.MinDepthUp, "min depth −/+"),
		k.Suggest, k.Load, k.Details, k.Stat, k.Expand, k.Device, k.Metric, k.Clear}
}
