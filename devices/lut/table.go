// Package lut is a device whose latency comes from Once-for-All latency
// lookup tables: a folder of {R}_lookup_table.yaml (or .json) files, one
// per input resolution, with one entry per layer shape (count, mean, std in
// ms). A network's latency is the sum of the mean entries of its stem conv,
// every MBConv block (the fixed first block included) and its head, as OFA's
// MBv3LatencyTable computes it; this is how the paper got its Note10
// numbers. The numbers are labelled "table", never "measured".
package lut

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Entry is one table entry: the number of timed runs, their mean and
// standard deviation in milliseconds.
type Entry struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean"`
	Std   float64 `json:"std"`
}

// Table maps a layer key (see Keys) to its entry.
type Table map[string]Entry

// ParseYAML reads the OFA lookup-table YAML shape and nothing more:
//
//	KEY:
//	  count: 500
//	  mean: 0.994418
//	  std: 0.01726798413249215
//
// A key line starts in column 0 and ends with ':'; its fields are indented
// (spaces, not tabs) "name: value" lines, count an integer, mean and std
// finite non-negative numbers; mean is required. Blank lines, '#' comments
// and a leading "---" are skipped; the text must be UTF-8. Errors read "file:line: ...".
func ParseYAML(data []byte, file string) (Table, error) {
	t := Table{}
	at := map[string]int{} // key → line, for duplicates
	var (
		key            string
		keyLine        int
		seen           map[string]bool
		e              Entry
		inside, anyKey bool
	)
	flush := func() error {
		if !inside {
			return nil
		}
		if !seen["mean"] {
			return fmt.Errorf("%s:%d: entry %s has no mean: want indented count:, mean: and std: lines under it", file, keyLine, clip(key))
		}
		t[key] = e
		inside = false
		return nil
	}
	lines := bytes.Split(data, []byte("\n"))
	for i, raw := range lines {
		n := i + 1
		line := strings.TrimRight(string(raw), " \r")
		trim := strings.TrimLeft(line, " ")
		if trim == "" || trim[0] == '#' || (line == "---" && !anyKey) {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("%s:%d: not UTF-8 text", file, n)
		}
		if trim[0] == '\t' {
			return nil, fmt.Errorf("%s:%d: tab in indentation: the table format indents with spaces", file, n)
		}
		if len(trim) == len(line) { // column 0: a key
			if err := flush(); err != nil {
				return nil, err
			}
			k, ok := strings.CutSuffix(line, ":")
			if !ok || k == "" || strings.ContainsAny(k, " \t\"'{}[]") {
				return nil, fmt.Errorf("%s:%d: %q: want a table key ending with ':' (e.g. Conv-input:224x224x3-output:112x112x24:)", file, n, clip(line))
			}
			if prev, dup := at[k]; dup {
				return nil, fmt.Errorf("%s:%d: key %s already defined at line %d", file, n, clip(k), prev)
			}
			at[k] = n
			key, keyLine, inside, anyKey = k, n, true, true
			seen, e = map[string]bool{}, Entry{}
			continue
		}
		if !inside {
			return nil, fmt.Errorf("%s:%d: %q: an indented field before any table key", file, n, clip(trim))
		}
		name, val, ok := strings.Cut(trim, ":")
		val = strings.TrimSpace(val)
		if !ok || val == "" {
			return nil, fmt.Errorf("%s:%d: %q: want \"count: N\", \"mean: MS\" or \"std: MS\"", file, n, clip(trim))
		}
		if seen[name] {
			return nil, fmt.Errorf("%s:%d: %s given twice for %s", file, n, name, clip(key))
		}
		seen[name] = true
		switch name {
		case "count":
			c, err := strconv.Atoi(val)
			if err != nil || c < 0 {
				return nil, fmt.Errorf("%s:%d: count %q: want a non-negative integer", file, n, clip(val))
			}
			e.Count = c
		case "mean", "std":
			x, err := strconv.ParseFloat(val, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				return nil, fmt.Errorf("%s:%d: %s %q: want a finite non-negative number of milliseconds", file, n, name, clip(val))
			}
			if name == "mean" {
				e.Mean = x
			} else {
				e.Std = x
			}
		default:
			return nil, fmt.Errorf("%s:%d: unknown field %q (want count, mean or std)", file, n, clip(name))
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("%s: no table entries", file)
	}
	return t, nil
}

// ParseJSON reads the same table as JSON:
// {"KEY": {"count": 500, "mean": 0.99, "std": 0.01}, ...}.
func ParseJSON(data []byte, file string) (Table, error) {
	var raw map[string]struct {
		Count *int     `json:"count"`
		Mean  *float64 `json:"mean"`
		Std   *float64 `json:"std"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %v (want {\"KEY\": {\"count\": N, \"mean\": MS, \"std\": MS}, ...})", file, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s: data after the table object", file)
	}
	t := Table{}
	for k, v := range raw {
		if k == "" || v.Mean == nil {
			return nil, fmt.Errorf("%s: entry %q has no mean", file, clip(k))
		}
		e := Entry{Mean: *v.Mean}
		if v.Count != nil {
			e.Count = *v.Count
		}
		if v.Std != nil {
			e.Std = *v.Std
		}
		if e.Count < 0 || e.Mean < 0 || e.Std < 0 {
			return nil, fmt.Errorf("%s: entry %s: count, mean and std must be ≥ 0", file, clip(k))
		}
		t[k] = e
	}
	if len(t) == 0 {
		return nil, fmt.Errorf("%s: no table entries", file)
	}
	return t, nil
}

func clip(s string) string {
	if len(s) > 160 {
		return s[:157] + "..."
	}
	return s
}
