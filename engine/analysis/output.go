package analysis

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// WriteJSON writes the report as indented JSON (NaN as null).
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// CSVHeader is the header of WriteCSV: one row per number, long format.
var CSVHeader = []string{"space", "device", "metric", "label", "table", "unit", "layer", "block", "depth", "tau", "value", "lo", "hi", "se", "n"}

// WriteCSV writes every number of the report in long format (CSVHeader);
// table says which statistic a row is: baseline, baseline_q, eq1,
// eq1_regression, eq1_regression_rel, regression_baseline, eq2, eq3, eq2_predicted, block_effect, depth_effect,
// unit_contrast, unit_contrast_predicted, unit_contrast_residual,
// contrast_group, contrast_group_predicted, contrast_group_residual,
// block_range, depth_range, eq2_block_range, eq2_depth_signal.
func (r *Report) WriteCSV(w io.Writer, header bool) error {
	cw := csv.NewWriter(w)
	if header {
		if err := cw.Write(CSVHeader); err != nil {
			return err
		}
	}
	num := func(x float64) string {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'g', 10, 64)
	}
	put := func(table string, unit, layer int, block string, depth int, tau float64, e Estimate) error {
		is := func(i int) string {
			if i == 0 {
				return ""
			}
			return strconv.Itoa(i)
		}
		t := ""
		if !math.IsNaN(tau) {
			t = num(tau)
		}
		return cw.Write([]string{r.Space, r.Device, r.Metric, r.Label, table, is(unit), is(layer), block, is(depth), t,
			num(e.Value), num(e.Lo), num(e.Hi), num(e.SE), strconv.Itoa(e.N)})
	}
	putp := func(table string, unit int, block string, e *Estimate) error {
		if e == nil {
			return nil
		}
		return put(table, unit, 0, block, 0, math.NaN(), *e)
	}
	nan := math.NaN()
	var err error
	try := func(e error) {
		if err == nil {
			err = e
		}
	}
	try(put("baseline", 0, 0, "", 0, nan, r.Baseline))
	for _, q := range r.BaselineQ {
		try(put("baseline_q", 0, 0, "", 0, q.Tau, q.Estimate))
	}
	for _, b := range r.Blocks {
		if b.Eq1 != nil {
			try(put("eq1", 0, 0, b.Key, 0, nan, *b.Eq1))
		}
		if b.Regression != nil {
			try(put("eq1_regression", 0, 0, b.Key, 0, nan, *b.Regression))
		}
		if b.RegressionRel != nil {
			try(put("eq1_regression_rel", 0, 0, b.Key, 0, nan, *b.RegressionRel))
		}
	}
	for _, l := range r.Locations {
		try(put("eq2", l.Unit, l.Layer, l.Key, 0, nan, l.Rel))
		for _, q := range l.RelQ {
			try(put("eq3", l.Unit, l.Layer, l.Key, 0, q.Tau, q.Estimate))
		}
		if l.Predicted != nil {
			try(put("eq2_predicted", l.Unit, l.Layer, l.Key, 0, nan, *l.Predicted))
		}
	}
	if g := r.Regression; g != nil {
		try(put("regression_baseline", 0, 0, "", 0, nan, g.Baseline))
		for _, e := range g.BlockEffects {
			try(put("block_effect", e.Unit, 0, e.Block, 0, nan, e.Estimate))
		}
		for _, e := range g.DepthEffects {
			try(put("depth_effect", e.Unit, 0, "", e.Depth, nan, e.Estimate))
		}
	}
	if c := r.Contrasts; c != nil {
		for _, u := range c.Units {
			try(put("unit_contrast", u.Unit, 0, u.Key, 0, nan, u.Rel))
			try(putp("unit_contrast_predicted", u.Unit, u.Key, u.Predicted))
			try(putp("unit_contrast_residual", u.Unit, u.Key, u.Residual))
		}
		for _, g := range c.Groups {
			try(put("contrast_group", 0, 0, g.Key, 0, nan, g.Rel))
			try(putp("contrast_group_predicted", 0, g.Key, g.Predicted))
			try(putp("contrast_group_residual", 0, g.Key, g.Residual))
		}
	}
	for _, u := range r.Units {
		if u.BlockRange != nil {
			try(put("block_range", u.Unit, 0, u.MaxBlock+"-"+u.MinBlock, 0, nan, *u.BlockRange))
		}
		if u.DepthRange != nil {
			try(put("depth_range", u.Unit, 0, "", u.MaxDepth, nan, *u.DepthRange))
		}
		if u.Eq2BlockRange != nil {
			try(put("eq2_block_range", u.Unit, 0, u.Eq2MaxBlock+"-"+u.Eq2MinBlock, 0, nan, *u.Eq2BlockRange))
		}
		if u.Eq2Depth != nil {
			try(put("eq2_depth_signal", u.Unit, 0, "", 0, nan, *u.Eq2Depth))
		}
	}
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// WriteText writes a readable summary: the baseline, the matrices in the
// paper's layout, the fit and the unit summary.
func (r *Report) WriteText(w io.Writer) error {
	var sb strings.Builder
	who := r.Metric
	if r.Device != "" {
		who = r.Device + " " + r.Metric
	}
	nonUniform := ""
	if r.NonUniform > 0 {
		nonUniform = fmt.Sprintf(", %d not drawn uniformly", r.NonUniform)
	}
	fmt.Fprintf(&sb, "%s, %s at R%d [%s] (%s): %d uniform, %d fixed, %d whole-unit archs%s; %g%% intervals\n",
		r.Space, who, r.Resolution, r.Unit, orDash(r.Label), r.Uniform, r.Fixed, r.UnitFixed, nonUniform, r.Level*100)
	if r.BaselineSource == BaselineRegression {
		fmt.Fprintf(&sb, "baseline E[M(A)] = %s, the regression's over uniform draws (no uniform archs to average)\n", r.Baseline)
	} else {
		fmt.Fprintf(&sb, "baseline E[M(A)] = %s, the mean of the uniform archs (Eq. 1–3 and the contrasts are relative to it)\n", r.Baseline)
	}
	if g := r.Regression; g != nil {
		fmt.Fprintf(&sb, "regression: n=%d, %d coefficients, df %.1f, ridge λ=%g, R²=%.3f, leave-one-out R²=%.3f, LOO RMSE %.4g, residual sd %.4g (values sd %.4g)\n",
			g.N, g.P, g.DF, g.Lambda, g.R2, g.Q2, g.LOORMSE, g.Sigma, g.SD)
		if r.BaselineSource != BaselineRegression {
			fmt.Fprintf(&sb, "regression's E[M(A)] = %s over uniform draws: its M_b and effects are relative to this\n", fmtCell(&g.Baseline, 4))
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&sb, "note: %s\n", n)
	}
	if _, err := io.WriteString(w, sb.String()); err != nil {
		return err
	}
	for _, m := range r.Matrices {
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
		if err := m.Render(w, 4); err != nil {
			return err
		}
	}
	sb.Reset()
	sb.WriteString("\nunit  block range (regression)          depth range (regression)        block range (Eq. 2)            depth signal (Eq. 2)\n")
	for _, u := range r.Units {
		col := func(e *Estimate, what string) string {
			if e == nil {
				return "-"
			}
			return fmt.Sprintf("%s %s", what, fmtCell(e, 3))
		}
		fmt.Fprintf(&sb, "%4d  %-34s  %-30s  %-30s  %s\n", u.Unit,
			col(u.BlockRange, u.MaxBlock+"−"+u.MinBlock), col(u.DepthRange, fmt.Sprintf("d%d−d%d", u.MaxDepth, u.MinDepth)),
			col(u.Eq2BlockRange, u.Eq2MaxBlock+"−"+u.Eq2MinBlock), col(u.Eq2Depth, "last−first"))
	}
	fmt.Fprintf(&sb, "most sensitive unit: block choice %s, depth %s (regression); block choice %s, depth %s (Eq. 2)\n",
		unitName(r.Most.Block), unitName(r.Most.Depth), unitName(r.Most.Eq2Block), unitName(r.Most.Eq2Depth))
	if c := r.Contrasts; c != nil {
		sb.WriteString("\nwhole-unit contrasts pooled by attribute: observed − baseline | regression's contrast | held-out residual (observed − predicted)\n")
		for _, g := range c.Groups {
			fmt.Fprintf(&sb, "  %-8s %-28s | %-28s | %s\n", g.Key, fmtCell(&g.Rel, 3), fmtCell(g.Predicted, 3), fmtCell(g.Residual, 3))
		}
		if c.Spearman != nil {
			fmt.Fprintf(&sb, "  regression vs observed whole-unit contrasts: Spearman %.2f over %d\n", *c.Spearman, c.SpearmanN)
		}
		if h := c.Holdout; h != nil {
			sp := "-"
			if h.Spearman != nil {
				sp = fmt.Sprintf("%.3f", *h.Spearman)
			}
			fmt.Fprintf(&sb, "  regression (fitted on the uniform archs) on the %d held-out whole-unit archs: mean residual %s, RMSE %.4g, Spearman %s, within ±10%% %.0f%%\n",
				h.N, fmtCell(&h.MeanResidual, 3), h.RMSE, sp, 100*h.Within10)
		}
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func unitName(u int) string {
	if u == 0 {
		return "-"
	}
	return strconv.Itoa(u)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
