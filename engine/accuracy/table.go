package accuracy

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"blockprof/engine/predict"
	"blockprof/model"
)

// TableLabel is the label of values read from a table.
const TableLabel = "measured (ImageNet top-1, table)"

// Records is a table of (arch, top-1) pairs: the source kind "table".
// Repeated archs are averaged. Lookups use the canonical arch string.
//
// Top-1 values are percentages. A table whose values all lie within 0..1
// (a fraction such as 0.754, as some tools write) is read as fractions and
// converted to percent: Note says so, and every Value's Source carries
// " (fractions ×100)". A table that mixes the two scales (values in
// (0, 1] beside values above 1) is refused, naming the file and the line;
// 0 fits either scale. Values outside 0..100 are errors.
type Records struct {
	name   string
	index  map[string]int
	archs  []model.Arch
	top1   []float64
	n      []int // values per arch while reading
	scaled bool  // read as fractions and multiplied by 100
}

// entry is one value of a table with the line it came from.
type entry struct {
	arch model.Arch
	top1 float64
	line int
}

// FractionsSuffix ends the Source of values from a table read as
// fractions.
const FractionsSuffix = " (fractions ×100)"

// newTable builds the table from its entries, deciding their scale: all
// within 0..1 is fractions (converted to percent), a mix of (0, 1] and
// values above 1 is an error naming the first line of the rarer scale.
func newTable(name string, es []entry) (*Records, error) {
	var frac, pct []int // indices into es
	for i, e := range es {
		switch {
		case e.top1 > 1:
			pct = append(pct, i)
		case e.top1 > 0:
			frac = append(frac, i)
		}
	}
	if len(frac) > 0 && len(pct) > 0 {
		odd, other, what, otherWhat := es[frac[0]], es[pct[0]], "a fraction (0..1)", "a percentage"
		if len(frac) > len(pct) {
			odd, other, what, otherWhat = es[pct[0]], es[frac[0]], "a percentage", "a fraction (0..1)"
		}
		return nil, fmt.Errorf("%s:%d: top-1 %v looks like %s, but line %d holds %v, %s: the table mixes scales (values in 0..1: %d, above 1: %d); write every top-1 in percent (75.4) or every one as a fraction (0.754)",
			name, odd.line, odd.top1, what, other.line, other.top1, otherWhat, len(frac), len(pct))
	}
	t := newRecords(name)
	t.scaled = len(frac) > 0
	for _, e := range es {
		v := e.top1
		if t.scaled {
			v *= 100
		}
		t.add(e.arch, v)
	}
	t.finish()
	return t, nil
}

// Note is what a caller should tell the user about how the table was
// read: empty for a table in percent, else a sentence saying that its
// values were fractions and were converted.
func (t *Records) Note() string {
	if !t.scaled {
		return ""
	}
	return fmt.Sprintf("%s: every top-1 lies within 0..1, so the values were read as fractions and converted to percent (×100); write percentages to silence this", t.name)
}

// ReadTable reads a table file: the DyNAS-T CSV layout when the name ends
// in .csv, else JSON lines with "arch" (OFA encoding) and "top1".
func ReadTable(path string, sp *model.Space) (*Records, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("accuracy table: %w", err)
	}
	defer f.Close()
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return ParseDynasCSV(f, path, sp)
	}
	return ParseJSONL(f, path, sp)
}

// ParseJSONL reads JSON lines in the format of
// ../shared/data/ofa-mbv3-w1.0-imagenet-top1.jsonl; every record needs a
// "top1". name is used in errors and as the values' Source.
func ParseJSONL(r io.Reader, name string, sp *model.Space) (*Records, error) {
	recs, err := predict.ReadRecords(r, name, sp)
	if err != nil {
		return nil, err
	}
	var es []entry
	for _, rec := range recs {
		if !rec.HasTop1 {
			return nil, fmt.Errorf("%s:%d: no \"top1\" field (an accuracy table needs the top-1 in percent)", name, rec.Line)
		}
		es = append(es, entry{rec.Arch, rec.Top1, rec.Line})
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	return newTable(name, es)
}

// ParseDynasCSV reads the DyNAS-T results layout
//
//	Sub-network,Date,Model Parameters,Latency (ms),MACs,Top-1 Acc (%)
//	"{'wid': None, 'ks': [...], 'e': [...], 'd': [...], 'r': [224]}",...,75.448
//
// The first column is a Python dict literal of the OFA encoding; slots
// past each unit's depth hold junk and are ignored. The accuracy column is
// found by its header (one starting with "Top-1"). name is used in errors
// and as the values' Source.
func ParseDynasCSV(r io.Reader, name string, sp *model.Space) (*Records, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: empty file; want a DyNAS-T CSV with the header Sub-network,Date,Model Parameters,Latency (ms),MACs,Top-1 Acc (%%)", name)
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	archCol, accCol := -1, -1
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		switch {
		case strings.EqualFold(h, "Sub-network"):
			archCol = i
		case strings.HasPrefix(strings.ToLower(h), "top-1"):
			accCol = i
		}
	}
	if archCol < 0 || accCol < 0 {
		return nil, fmt.Errorf("%s:1: header %q lacks a Sub-network or a Top-1 column; want Sub-network,Date,Model Parameters,Latency (ms),MACs,Top-1 Acc (%%)", name, strings.Join(header, ","))
	}
	var es []entry
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(row) == 0 {
			continue
		}
		line, _ := cr.FieldPos(0)
		if len(row) == 1 && strings.TrimSpace(row[0]) == "" {
			continue
		}
		if len(row) <= max(archCol, accCol) {
			return nil, fmt.Errorf("%s:%d: %d columns, the header has %d", name, line, len(row), len(header))
		}
		o, err := parseDynasArch(row[archCol])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: Sub-network: %w", name, line, err)
		}
		a, err := sp.FromOFA(o)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		acc, err := strconv.ParseFloat(strings.TrimSpace(row[accCol]), 64)
		if err != nil || !(acc >= 0 && acc <= 100) {
			return nil, fmt.Errorf("%s:%d: top-1 %q is not a percentage in 0..100 (nor a fraction in 0..1)", name, line, row[accCol])
		}
		es = append(es, entry{a, acc, line})
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%s: no records after the header", name)
	}
	return newTable(name, es)
}

// parseDynasArch converts a DyNAS-T Sub-network dict ('ks', 'e', 'd',
// 'r' lists; 'wid' and other keys ignored) to the OFA encoding.
func parseDynasArch(s string) (model.OFA, error) {
	v, err := parsePyLiteral(s)
	if err != nil {
		return model.OFA{}, err
	}
	d, ok := v.(map[string]any)
	if !ok {
		return model.OFA{}, fmt.Errorf("%q is not a dict", clip(s))
	}
	nums := func(key string, need bool) ([]float64, error) {
		x, ok := d[key]
		if !ok || x == nil {
			if need {
				return nil, fmt.Errorf("dict has no %q list", key)
			}
			return nil, nil
		}
		switch x := x.(type) {
		case float64:
			return []float64{x}, nil
		case []any:
			out := make([]float64, len(x))
			for i, e := range x {
				f, ok := e.(float64)
				if !ok {
					return nil, fmt.Errorf("%q[%d] is not a number", key, i)
				}
				out[i] = f
			}
			return out, nil
		}
		return nil, fmt.Errorf("%q is not a list of numbers", key)
	}
	ints := func(xs []float64, key string) ([]int, error) {
		out := make([]int, len(xs))
		for i, x := range xs {
			if x != math.Trunc(x) {
				return nil, fmt.Errorf("%q[%d] = %v is not an integer", key, i, x)
			}
			if math.Abs(x) > 1e6 {
				return nil, fmt.Errorf("%q[%d] = %v is out of range", key, i, x)
			}
			out[i] = int(x)
		}
		return out, nil
	}
	var o model.OFA
	ks, err := nums("ks", false)
	if err != nil {
		return o, err
	}
	if o.KS, err = ints(ks, "ks"); err != nil {
		return o, err
	}
	if o.E, err = nums("e", true); err != nil {
		return o, err
	}
	ds, err := nums("d", true)
	if err != nil {
		return o, err
	}
	if o.D, err = ints(ds, "d"); err != nil {
		return o, err
	}
	ws, err := nums("w", false)
	if err != nil {
		return o, err
	}
	if o.W, err = ints(ws, "w"); err != nil {
		return o, err
	}
	rs, err := nums("r", false)
	if err != nil {
		return o, err
	}
	if len(rs) > 1 {
		return o, fmt.Errorf("'r' lists %d resolutions; want one", len(rs))
	}
	if len(rs) == 1 {
		r, err := ints(rs, "r")
		if err != nil {
			return o, err
		}
		o.R = r[0]
	}
	return o, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

func newRecords(name string) *Records { return &Records{name: name, index: map[string]int{}} }

// add accumulates a value; finish turns the sums into means.
func (t *Records) add(a model.Arch, top1 float64) {
	key := a.String()
	if i, ok := t.index[key]; ok {
		t.top1[i] += top1
		t.n[i]++
		return
	}
	t.index[key] = len(t.archs)
	t.archs = append(t.archs, a)
	t.top1 = append(t.top1, top1)
	t.n = append(t.n, 1)
}

func (t *Records) finish() {
	for i := range t.top1 {
		t.top1[i] /= float64(t.n[i])
	}
	t.n = nil
}

// sourceName is the table's file name as Values name their Source.
func (t *Records) sourceName() string {
	if t.scaled {
		return filepath.Base(t.name) + FractionsSuffix
	}
	return filepath.Base(t.name)
}

// Name is the table's file name.
func (t *Records) Name() string { return t.name }

// Len is the number of distinct archs.
func (t *Records) Len() int { return len(t.archs) }

// Lookup returns the top-1 of a, and whether the table has it.
func (t *Records) Lookup(a model.Arch) (float64, bool) {
	i, ok := t.index[a.String()]
	if !ok {
		return 0, false
	}
	return t.top1[i], true
}

// Archs returns the distinct archs and their (averaged) top-1, in file
// order. The slices are copies.
func (t *Records) Archs() ([]model.Arch, []float64) {
	return append([]model.Arch(nil), t.archs...), append([]float64(nil), t.top1...)
}

// Top1 looks a up; an arch the table lacks gives an error wrapping
// ErrNotFound.
func (t *Records) Top1(ctx context.Context, a model.Arch) (Value, error) {
	if v, ok := t.Lookup(a); ok {
		return Value{Top1: v, Provenance: Table, Label: TableLabel, Source: t.sourceName()}, nil
	}
	return Value{}, fmt.Errorf("%s: %w (%d archs); use kind = \"predictor\" to score archs a table lacks", a, ErrNotFound, len(t.archs))
}
