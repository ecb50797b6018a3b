package friendliness

import (
	"context"

	"blockprof/engine/analysis"
	"blockprof/engine/cuts"
	"blockprof/model"
)

// Stat is the statistic shown in the cells.
type Stat int

const (
	// StatRegression is the regression estimator's per-(unit, block)
	// effect (per layer when expanded): needs only uniform archs.
	StatRegression Stat = iota
	// StatMean is the paper's relative expectation (Eq. 2), averaged over
	// the unit's layers in the unit view.
	StatMean
	// StatP5 and StatP95 are the relative τ-percentiles (Eq. 3); they are
	// defined per layer only.
	StatP5
	StatP95
	// NumStats counts the statistics.
	NumStats
)

// String names the statistic.
func (s Stat) String() string {
	switch s {
	case StatRegression:
		return "regression effect"
	case StatMean:
		return "mean effect (Eq. 2)"
	case StatP5:
		return "5% percentile effect (Eq. 3)"
	case StatP95:
		return "95% percentile effect (Eq. 3)"
	}
	return "?"
}

// Short is a compact name, e.g. for exported reasons.
func (s Stat) Short() string {
	switch s {
	case StatRegression:
		return "regression"
	case StatMean:
		return "eq2-mean"
	case StatP5:
		return "eq3-p5"
	case StatP95:
		return "eq3-p95"
	}
	return "?"
}

// Metric is what the table's values measure.
type Metric struct {
	// Name is "latency", "accuracy", "proxy", "macs" or "params".
	Name string
	// Unit of the values ("ms", "%", "M").
	Unit string
	// Label is the provenance of the metric's values when it does not
	// depend on the device ("proxy", "table", "computed"); latency takes the
	// device's label.
	Label string
	// PerDevice says the values depend on the device (latency).
	PerDevice bool
	// HigherIsBetter flips the heat map (accuracy).
	HigherIsBetter bool
}

// Title is how the metric is named in headers; a proxy is never called an
// accuracy.
func (m Metric) Title() string {
	t := m.Name
	if m.Name == "proxy" {
		t = "proxy score"
	}
	if m.Unit != "" {
		t += " (" + m.Unit + ")"
	}
	return t
}

// Key is one cell: a (unit, block) when Layer is 0, else a (unit, layer,
// block); Unit and Layer are 1-based.
type Key struct {
	Unit, Layer int
	Block       string
}

// Value is a cell's statistic.
type Value struct {
	analysis.Estimate
	// Support is the number of archs behind the value (the A_{u,l,b}
	// samples, or the uniform archs that hold the block there).
	Support int
	// Few says Support is below the table's MinSupport (or there is no
	// interval): the cell is shown marked.
	Few bool
}

// Cell holds every statistic of one cell (nil where not available).
type Cell [NumStats]*Value

// Table is a friendliness table for one device and metric, as the engine's
// analysis computed it.
type Table struct {
	Space  string
	Device string
	Metric Metric
	// Label is the provenance of the values ("measured", "simulated",
	// "table (Note10)", "proxy", ...): shown in the header.
	Label      string
	Resolution int
	// Uniform and Fixed count the observations by role.
	Uniform, Fixed int
	Baseline       analysis.Estimate
	// Blocks are the rows in the paper's order; Allowed[u-1] lists the
	// blocks unit u allows (by key); Depths[u-1] its depth choices.
	Blocks  []model.Block
	Allowed [][]string
	Depths  [][]int
	Cells   map[Key]Cell
	// DepthEffects holds the regression's per-(unit, depth) effect.
	DepthEffects map[[2]int]analysis.Estimate
	// MinSupport is the support below which a cell is marked.
	MinSupport int
	Level      float64
	Notes      []string
	// Evidence summarises how far the table can be trusted (fit quality,
	// archs above the spread target, under-covered intervals); Weak says
	// it should not drive cuts without a look.
	Evidence string
	Weak     bool
}

// Units is the number of units.
func (t Table) Units() int { return len(t.Depths) }

// ArchValue is one arch behind a cell and its metric value.
type ArchValue struct {
	Arch  string
	Value float64
}

// Details are the archs and numbers behind one cell.
type Details struct {
	Key   Key
	Stat  Stat
	Value *Value
	// Role says which archs these are, e.g. "A_{u,l,b} samples" or
	// "uniform archs holding e6k7 in unit 3".
	Role string
	// Archs are the archs behind the cell, sorted by value (at most a
	// few hundred); Total is how many there are.
	Archs []ArchValue
	Total int
	Notes []string
}

// Source is what the view needs from the engine.
type Source interface {
	// Metrics lists the metrics the tables can show.
	Metrics() []Metric
	// Table computes the friendliness table of a device and metric from
	// what the store holds now.
	Table(ctx context.Context, device, metric string) (Table, error)
	// Details lists the archs behind a cell.
	Details(ctx context.Context, device, metric string, k Key, s Stat) (Details, error)
	// Suggest proposes cuts for the device with their reasons and the
	// evidence behind them.
	Suggest(ctx context.Context, device, metric string) (Suggestion, error)
	// Cuts are the session's current cuts of the space (persisted by the
	// session); SetCuts replaces them (every edit of the view is sent).
	Cuts(ctx context.Context) (cuts.Cuts, error)
	SetCuts(ctx context.Context, c cuts.Cuts) error
	// LoadReduced reads a reduced-space TOML file as the current cuts
	// (key o, a path prompt).
	LoadReduced(ctx context.Context, path string) (cuts.Cuts, error)
}

// Suggestion is a proposal of cuts, shown with its reasons and evidence
// before it is merged into the current cuts.
type Suggestion struct {
	// Cuts are the suggested cuts alone.
	Cuts cuts.Cuts
	// Lines are one line per suggested cut: what, rule, evidence.
	Lines []string
	// Weak says the suggestion rests on weak evidence (see Evidence).
	Weak bool
	// Evidence describes what the suggestion rests on (fit quality,
	// sample counts...), shown before applying.
	Evidence []string
}
