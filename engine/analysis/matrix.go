package analysis

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"blockprof/model"
)

// Grid is the paper's figure layout of a space's blocks: MBConv rows are
// expansion 6/4/3 and columns kernel 3/5/7; bottleneck rows are the unit
// channel ratio 1.0/0.8/0.65 and columns the layer expansion 0.2/0.25/0.35.
type Grid struct {
	RowAttr string    `json:"row_attr"` // "e" or "c"
	ColAttr string    `json:"col_attr"` // "k" or "b"
	Rows    []float64 `json:"rows"`
	Cols    []float64 `json:"cols"`
}

// GridOf lays out the space's blocks.
func GridOf(sp *model.Space) Grid {
	g := Grid{RowAttr: "e", ColAttr: "k"}
	row := func(b model.Block) float64 { return b.E }
	col := func(b model.Block) float64 { return float64(b.K) }
	if sp.Family == model.Bottleneck {
		g.RowAttr, g.ColAttr = "c", "b"
		row = func(b model.Block) float64 { return b.W }
		col = func(b model.Block) float64 { return b.E }
	}
	for _, b := range sp.BlockChoices() {
		if r := row(b); !slices.Contains(g.Rows, r) {
			g.Rows = append(g.Rows, r)
		}
		if c := col(b); !slices.Contains(g.Cols, c) {
			g.Cols = append(g.Cols, c)
		}
	}
	slices.Sort(g.Rows)
	slices.Reverse(g.Rows)
	slices.Sort(g.Cols)
	return g
}

// Block is the block at row i, column j.
func (g Grid) Block(i, j int) model.Block {
	if g.RowAttr == "c" {
		return model.Block{K: 3, W: g.Rows[i], E: g.Cols[j]}
	}
	return model.Block{K: int(g.Cols[j]), E: g.Rows[i]}
}

// RowLabel is "e=6" or "c=1.0"-style text; ColLabel "k=3" or "b=0.2".
func (g Grid) RowLabel(i int) string { return fmt.Sprintf("%s=%g", g.RowAttr, g.Rows[i]) }

// ColLabel names column j.
func (g Grid) ColLabel(j int) string { return fmt.Sprintf("%s=%g", g.ColAttr, g.Cols[j]) }

// Matrix is one table in the figure layout; a nil cell is a block without a
// value (not allowed in the unit, or not sampled).
type Matrix struct {
	Name  string        `json:"name"`
	Grid  Grid          `json:"grid"`
	Cells [][]*Estimate `json:"cells"`
}

// NewMatrix fills a matrix from a function of the block.
func NewMatrix(sp *model.Space, name string, value func(model.Block) (Estimate, bool)) Matrix {
	g := GridOf(sp)
	m := Matrix{Name: name, Grid: g, Cells: make([][]*Estimate, len(g.Rows))}
	for i := range g.Rows {
		m.Cells[i] = make([]*Estimate, len(g.Cols))
		for j := range g.Cols {
			if e, ok := value(g.Block(i, j)); ok {
				ee := e
				m.Cells[i][j] = &ee
			}
		}
	}
	return m
}

func (r *Report) matrices() []Matrix {
	sp := r.space
	var out []Matrix
	find := func(b model.Block) *BlockResponse {
		for i := range r.Blocks {
			if r.Blocks[i].Block == b {
				return &r.Blocks[i]
			}
		}
		return nil
	}
	if r.profile != nil {
		out = append(out, NewMatrix(sp, "M_b (Eq. 1)", func(b model.Block) (Estimate, bool) {
			if br := find(b); br != nil && br.Eq1 != nil {
				return *br.Eq1, true
			}
			return Estimate{}, false
		}))
	}
	if r.fit != nil {
		out = append(out, NewMatrix(sp, "M_b (regression)", func(b model.Block) (Estimate, bool) {
			if br := find(b); br != nil && br.Regression != nil {
				return *br.Regression, true
			}
			return Estimate{}, false
		}))
	}
	for u := range sp.Units {
		if r.fit != nil {
			out = append(out, NewMatrix(sp, fmt.Sprintf("unit %d block effect (regression)", u+1), func(b model.Block) (Estimate, bool) {
				return r.BlockEffectOf(u+1, b.Key())
			}))
		}
		if r.profile != nil {
			out = append(out, NewMatrix(sp, fmt.Sprintf("unit %d Eq. 2 over layers", u+1), func(b model.Block) (Estimate, bool) {
				return r.profile.UnitBlock(u+1, b, r.Level)
			}))
		}
	}
	return out
}

// Render writes the matrix as an aligned text table: value and interval
// per cell, "-" for a missing cell.
func (m Matrix) Render(w io.Writer, digits int) error {
	g := m.Grid
	cells := make([][]string, len(g.Rows)+1)
	cells[0] = append([]string{m.Name}, make([]string, len(g.Cols))...)
	for j := range g.Cols {
		cells[0][j+1] = g.ColLabel(j)
	}
	for i := range g.Rows {
		row := []string{g.RowLabel(i)}
		for j := range g.Cols {
			row = append(row, fmtCell(m.Cells[i][j], digits))
		}
		cells[i+1] = row
	}
	widths := make([]int, len(cells[0]))
	for _, row := range cells {
		for j, c := range row {
			widths[j] = max(widths[j], len([]rune(c)))
		}
	}
	var sb strings.Builder
	for _, row := range cells {
		for j, c := range row {
			if j > 0 {
				sb.WriteString("  ")
			}
			pad := widths[j] - len([]rune(c))
			if j == 0 {
				sb.WriteString(c + strings.Repeat(" ", pad))
			} else {
				sb.WriteString(strings.Repeat(" ", pad) + c)
			}
		}
		sb.WriteString("\n")
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func fmtCell(e *Estimate, digits int) string {
	if e == nil {
		return "-"
	}
	f := func(x float64) string { return fmtNum(x, digits) }
	if !e.HasCI() {
		return f(e.Value)
	}
	return fmt.Sprintf("%s [%s, %s]", f(e.Value), f(e.Lo), f(e.Hi))
}

// fmtNum prints x with digits significant digits, at least to the
// hundredths for large values, without an exponent for ordinary numbers.
func fmtNum(x float64, digits int) string {
	if math.IsNaN(x) {
		return "NaN"
	}
	if x == 0 {
		return "0"
	}
	mag := int(math.Floor(math.Log10(math.Abs(x))))
	dec := digits - 1 - mag
	if dec < 0 {
		dec = 0
	}
	if dec > 12 {
		return fmt.Sprintf("%.*g", digits, x)
	}
	return fmt.Sprintf("%.*f", dec, x)
}
