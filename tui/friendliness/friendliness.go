// Package friendliness is the explorer's friendliness view: a heat-map
// table with the space's blocks as rows (paper order) and its unit
// positions as columns (layer positions when expanded), each cell the
// chosen statistic of the block's effect on the chosen metric of the chosen
// device, as the engine's analysis computed it. The engineer prunes (unit,
// block) cells and caps unit depths here; the cuts become the reduced space
// that the export writes and the search compares.
package friendliness

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

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
	red            model.Reduction
	err            error
}

type pkey struct {
	unit  int
	block string
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

	table   *Table
	err     error
	loading bool
	// loaded is when the last load started: new data reloads at most
	// every cooldown.
	loaded time.Time
	stale  bool
	active bool
	gen    int

	// Cuts: pruned (unit, block) cells and per-unit depth caps (0: none),
	// with the evidence shown when each cut was made.
	pruned     map[pkey]bool
	caps       []int
	why        map[pkey]string
	capWhy     map[int]string
	suggested  [][]string
	suggestion string

	details   *Details
	detailErr error
	detailOff int
	status    string
}

// New returns the view for a space, its devices and the source of tables.
func New(c common.Common, sp *model.Space, devs []common.DeviceInfo, src Source) Model {
	m := Model{c: c, src: src, space: sp, devices: devs, pruned: map[pkey]bool{}, why: map[pkey]string{}, capWhy: map[int]string{}}
	if src != nil {
		m.metrics = src.Metrics()
	}
	if sp != nil {
		m.blocks = sp.BlockChoices()
		m.caps = make([]int, len(sp.Units))
		m.suggested = make([][]string, len(sp.Units))
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

// Pruned reports whether (unit, block key) is pruned.
func (m Model) Pruned(unit int, block string) bool { return m.pruned[pkey{unit, block}] }

// DepthCap is unit's depth cap (0: none).
func (m Model) DepthCap(unit int) int {
	if unit >= 1 && unit <= len(m.caps) {
		return m.caps[unit-1]
	}
	return 0
}

// Cuts counts the pruned cells and the capped units.
func (m Model) Cuts() (blocks, caps int) {
	for _, p := range m.pruned {
		if p {
			blocks++
		}
	}
	for _, c := range m.caps {
		if c > 0 {
			caps++
		}
	}
	return blocks, caps
}

// Busy reports whether the details panel takes the keyboard.
func (m Model) Busy() bool { return m.details != nil || m.detailErr != nil }

// SetActive says whether the view is on screen; a view that becomes active
// loads its table if it has none or new data arrived.
func (m Model) SetActive(on bool) (Model, tea.Cmd) {
	m.active = on
	if on && (m.table == nil && m.err == nil || m.stale) && !m.loading {
		return m.load()
	}
	return m, nil
}

// MarkStale says the store got new measurements on device; the table is
// recomputed when it concerns the table shown, at most every cooldown and
// only while the view is on screen (see Poll).
func (m Model) MarkStale(device string) (Model, tea.Cmd) {
	if mt := m.Metric(); mt.PerDevice && device != "" && device != m.Device() {
		return m, nil
	}
	m.stale = true
	return m.Poll(false)
}

// Poll reloads a stale table of an active view once the cooldown since the
// last load has passed, or at once when force is set (the run ended).
func (m Model) Poll(force bool) (Model, tea.Cmd) {
	if m.stale && m.active && !m.loading && (force || time.Since(m.loaded) >= cooldown) {
		return m.load()
	}
	return m, nil
}

func (m Model) load() (Model, tea.Cmd) {
	if m.src == nil || len(m.metrics) == 0 {
		return m, nil
	}
	m.gen++
	m.loading, m.stale, m.loaded = true, false, time.Now()
	gen, dev, met, src, ctx := m.gen, m.Device(), m.Metric().Name, m.src, m.c.Ctx
	return m, func() tea.Msg {
		t, err := src.Table(ctx, dev, met)
		return tableMsg{gen: gen, device: dev, metric: met, table: t, err: err}
	}
}

// Update handles keys and the engine's answers.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tableMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		m.loading = false
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
		return m.applySuggestion(msg), nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

func (m Model) key(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	k := m.c.Keys
	if m.Busy() {
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
		m = m.togglePrune()
	case key.Matches(msg, k.Depth):
		m = m.cycleCap()
	case key.Matches(msg, k.Suggest):
		if m.src == nil {
			return m, nil
		}
		dev, met, ctx, src := m.Device(), m.Metric().Name, m.c.Ctx, m.src
		m.status = "asking the engine for a suggested reduction…"
		return m, func() tea.Msg {
			r, err := src.Suggest(ctx, dev, met)
			return suggestMsg{device: dev, metric: met, red: r, err: err}
		}
	case key.Matches(msg, k.Clear):
		m.pruned, m.why, m.capWhy = map[pkey]bool{}, map[pkey]string{}, map[int]string{}
		m.caps = make([]int, len(m.caps))
		m.suggested = make([][]string, len(m.caps))
		m.suggestion = ""
		m.status = "cuts cleared"
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

func (m Model) togglePrune() Model {
	k := m.cursorKey()
	if !m.allows(k.Unit, k.Block) {
		m.status = fmt.Sprintf("%s is not a choice of unit %d", k.Block, k.Unit)
		return m
	}
	p := pkey{k.Unit, k.Block}
	pruned, why := maps.Clone(m.pruned), maps.Clone(m.why)
	if pruned[p] {
		delete(pruned, p)
		delete(why, p)
		m.status = fmt.Sprintf("unit %d: %s kept", k.Unit, k.Block)
	} else {
		left := 0
		for _, b := range m.space.Units[k.Unit-1].Blocks {
			if !pruned[pkey{k.Unit, b.Key()}] {
				left++
			}
		}
		if left <= 1 {
			m.status = fmt.Sprintf("unit %d needs at least one block: %s is its last", k.Unit, k.Block)
			return m
		}
		pruned[p] = true
		why[p] = m.evidence(Key{Unit: k.Unit, Block: k.Block}, fmt.Sprintf("remove %s from unit %d", k.Block, k.Unit))
		m.status = fmt.Sprintf("unit %d: %s pruned", k.Unit, k.Block)
	}
	m.pruned, m.why = pruned, why
	return m
}

func (m Model) cycleCap() Model {
	k := m.cursorKey()
	if k.Unit == 0 {
		return m
	}
	u := m.space.Units[k.Unit-1]
	// none → max−1 → … → min → none
	var choices []int
	for _, d := range u.Depths {
		if d < u.MaxDepth() {
			choices = append(choices, d)
		}
	}
	slices.Reverse(choices)
	caps, capWhy := slices.Clone(m.caps), maps.Clone(m.capWhy)
	cur := caps[k.Unit-1]
	next := 0
	if len(choices) > 0 {
		if cur == 0 {
			next = choices[0]
		} else if i := slices.Index(choices, cur); i >= 0 && i+1 < len(choices) {
			next = choices[i+1]
		}
	}
	caps[k.Unit-1] = next
	if next == 0 {
		delete(capWhy, k.Unit)
		m.status = fmt.Sprintf("unit %d: every depth %v allowed", k.Unit, u.Depths)
	} else {
		capWhy[k.Unit] = m.depthEvidence(k.Unit, next)
		m.status = fmt.Sprintf("unit %d: depth ≤ %d", k.Unit, next)
	}
	if len(choices) == 0 {
		m.status = fmt.Sprintf("unit %d has a single depth choice", k.Unit)
	}
	m.caps, m.capWhy = caps, capWhy
	return m
}

// evidence describes the cell's current value for the export's reasons.
func (m Model) evidence(k Key, what string) string {
	t := m.table
	if t == nil {
		return what + " (by hand, before any table was computed)"
	}
	v := t.Cells[k][m.stat]
	if v == nil {
		for s := range NumStats {
			if v = t.Cells[k][s]; v != nil {
				return what + ": " + describe(t, Stat(s), v)
			}
		}
		return what + fmt.Sprintf(" (by hand; no %s for it on %s)", m.stat, orDash(t.Device))
	}
	return what + ": " + describe(t, m.stat, v)
}

func (m Model) depthEvidence(unit, cap int) string {
	what := fmt.Sprintf("cap unit %d at depth %d", unit, cap)
	t := m.table
	if t == nil {
		return what + " (by hand)"
	}
	var parts []string
	for _, d := range m.space.Units[unit-1].Depths {
		if d > cap {
			if e, ok := t.DepthEffects[[2]int{unit, d}]; ok {
				parts = append(parts, fmt.Sprintf("depth %d %s %s", d, common.Signed(e.Value, 3), t.Metric.Unit))
			}
		}
	}
	if len(parts) == 0 {
		return what + " (by hand)"
	}
	return what + ": regression depth effect " + strings.Join(parts, ", ") + " on " + source(t)
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

func (m Model) applySuggestion(msg suggestMsg) Model {
	if msg.err != nil {
		m.status = "no suggestion: " + msg.err.Error()
		return m
	}
	r := msg.red
	if m.space == nil || len(r.Units) != len(m.space.Units) {
		m.status = fmt.Sprintf("the suggestion has %d units, the space %d: not applied", len(r.Units), len(m.caps))
		return m
	}
	pruned, why := map[pkey]bool{}, map[pkey]string{}
	caps, capWhy := make([]int, len(m.caps)), map[int]string{}
	sugg := make([][]string, len(m.caps))
	for i, u := range m.space.Units {
		ur := r.Units[i]
		for _, b := range u.Blocks {
			if !slices.Contains(ur.Blocks, b.Key()) {
				pruned[pkey{i + 1, b.Key()}] = true
			}
		}
		if len(ur.Depths) > 0 {
			if mx := slices.Max(ur.Depths); mx < u.MaxDepth() {
				caps[i] = mx
			}
		}
		sugg[i] = slices.Clone(ur.Reasons)
	}
	m.pruned, m.why, m.caps, m.capWhy, m.suggested = pruned, why, caps, capWhy, sugg
	m.suggestion = fmt.Sprintf("suggested for %s %s", orDash(msg.device), msg.metric)
	b, c := m.Cuts()
	m.status = fmt.Sprintf("applied the suggested reduction: %d blocks pruned, %d depth caps (edit freely)", b, c)
	return m
}

// Reduction is the reduced space the cuts describe.
func (m Model) Reduction(name string) model.Reduction {
	r := model.Reduction{Name: name, Device: m.Device()}
	if m.space == nil {
		return r
	}
	r.Parent = m.space.Name
	mt := m.Metric()
	r.Statistic = m.stat.Short() + " of " + mt.Name
	if mt.Name == "proxy" {
		r.Statistic += " (proxy, not an accuracy)"
	}
	nb, nc := m.Cuts()
	r.Description = fmt.Sprintf("%d (unit, block) cells pruned and %d unit depths capped in the blockprof explorer", nb, nc)
	if m.suggestion != "" {
		r.Description += ", starting from the reduction " + m.suggestion
	}
	for i, u := range m.space.Units {
		ur := model.UnitReduction{MutationProb: u.MutationProb}
		for _, b := range u.Blocks {
			if !m.pruned[pkey{i + 1, b.Key()}] {
				ur.Blocks = append(ur.Blocks, b.Key())
			}
		}
		for _, d := range u.Depths {
			if m.caps[i] == 0 || d <= m.caps[i] {
				ur.Depths = append(ur.Depths, d)
			}
		}
		ur.Reasons = append(ur.Reasons, m.suggested[i]...)
		for _, b := range u.Blocks {
			if w := m.why[pkey{i + 1, b.Key()}]; w != "" {
				ur.Reasons = append(ur.Reasons, w)
			}
		}
		if w := m.capWhy[i+1]; w != "" {
			ur.Reasons = append(ur.Reasons, w)
		}
		r.Units = append(r.Units, ur)
	}
	return r
}

// Help lists the view's bindings for the help bar.
func (m Model) Help() []key.Binding {
	k := m.c.Keys
	if m.Busy() {
		return []key.Binding{k.Up, k.Down, k.Back}
	}
	return []key.Binding{k.Prune, k.Depth, k.Suggest, k.Details, k.Stat, k.Expand, k.Device, k.Metric, k.Clear}
}
