// Package replay is a device whose measurements come from a recorded file in
// the format of ../shared/data/*.jsonl: one JSON object per line with the
// space, the arch in the Once-for-All encoding and latency_ms.<key> summary
// figures (median, min, max, n). Asking for an arch not in the file is an
// error naming the arch and the file.
package replay

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"blockprof/model"
)

// Stat is one recorded latency summary in milliseconds.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

// Line is one decoded record line.
type Line struct {
	Space string    `json:"space"`
	Arch  model.OFA `json:"arch"`
	// Fixed is the recording's note of a fixed block, kept as written.
	Fixed     json.RawMessage `json:"fixed,omitempty"`
	Params    int64           `json:"params"`
	MACs      int64           `json:"macs"`
	LatencyMs map[string]Stat `json:"latency_ms"`
}

// ParseLine decodes one record line and checks its latency figures: every
// entry needs finite min ≤ median ≤ max, all positive, and n ≥ 1.
func ParseLine(data []byte) (Line, error) {
	var l Line
	if err := json.Unmarshal(data, &l); err != nil {
		return Line{}, fmt.Errorf("not a record line: %v (want {\"space\":...,\"arch\":{\"ks\",\"e\",\"d\",\"r\"},\"latency_ms\":{KEY:{\"median\",\"min\",\"max\",\"n\"}}})", err)
	}
	if l.Space == "" {
		return Line{}, errors.New("record has no \"space\"")
	}
	if len(l.Arch.D) == 0 {
		return Line{}, errors.New("record has no \"arch\" with a \"d\" list")
	}
	if len(l.LatencyMs) == 0 {
		return Line{}, errors.New("record has no \"latency_ms\" entries")
	}
	for _, k := range l.keys() {
		s := l.LatencyMs[k]
		if !finitePos(s.Median) || !finitePos(s.Min) || !finitePos(s.Max) || s.Min > s.Median || s.Median > s.Max || s.N < 1 {
			return Line{}, fmt.Errorf("latency_ms.%s: want 0 < min ≤ median ≤ max and n ≥ 1, got median=%v min=%v max=%v n=%d",
				k, s.Median, s.Min, s.Max, s.N)
		}
	}
	return l, nil
}

func finitePos(x float64) bool { return x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) }

func (l Line) keys() []string {
	ks := make([]string, 0, len(l.LatencyMs))
	for k := range l.LatencyMs {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Record is one recorded arch: its canonical form, where it was read and
// what was recorded.
type Record struct {
	Arch model.Arch
	// Canon is Arch.String(), the index key.
	Canon string
	Line  int
	MACs  int64
	// Params as recorded.
	Params    int64
	LatencyMs map[string]Stat
	// Fixed is the line's "fixed" entry as written (Space.UnitFix reads it).
	Fixed json.RawMessage
}

// Recording is a whole file indexed by canonical arch string.
type Recording struct {
	File    string
	Records []Record
	byArch  map[string]int
}

// maxLine bounds one record line (a ResNet record is under 1 KiB).
const maxLine = 1 << 20

// Read decodes a recording from r; file names it in errors, which read
// "file:line: ...". Every line's arch is converted to the canonical form
// with the space named in the line (space.FromOFA), so a line whose space
// spaces does not know, or whose arch is not in the space, is an error. An
// arch recorded twice is an error naming both lines.
func Read(r io.Reader, file string, spaces *model.Spaces) (*Recording, error) {
	rec := &Recording{File: file, byArch: map[string]int{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), maxLine)
	n := 0
	for sc.Scan() {
		n++
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		l, err := ParseLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		sp, err := spaces.Get(l.Space)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w (add the space to the config or use a recording of a configured space)", file, n, err)
		}
		a, err := sp.FromOFA(l.Arch)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, n, err)
		}
		canon := a.String()
		if prev, ok := rec.byArch[canon]; ok {
			return nil, fmt.Errorf("%s:%d: arch %s is already recorded at line %d (one record per arch)", file, n, canon, rec.Records[prev].Line)
		}
		rec.byArch[canon] = len(rec.Records)
		rec.Records = append(rec.Records, Record{Arch: a, Canon: canon, Line: n, MACs: l.MACs, Params: l.Params, LatencyMs: l.LatencyMs, Fixed: l.Fixed})
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("%s:%d: line longer than %d bytes: not a recording in the ../shared/data/*.jsonl format", file, n+1, maxLine)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(rec.Records) == 0 {
		return nil, fmt.Errorf("%s: no records (want one JSON object per line, see ../shared/data/README.md)", file)
	}
	return rec, nil
}

// Load reads the recording at path.
func Load(path string, spaces *model.Spaces) (*Recording, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	defer f.Close()
	return Read(f, path, spaces)
}

// Lookup returns the record of a canonical arch string.
func (r *Recording) Lookup(canon string) (Record, bool) {
	i, ok := r.byArch[canon]
	if !ok {
		return Record{}, false
	}
	return r.Records[i], true
}

// Keys lists every latency key that appears in the file, sorted.
func (r *Recording) Keys() []string {
	seen := map[string]bool{}
	var ks []string
	for _, rec := range r.Records {
		for k := range rec.LatencyMs {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	slices.Sort(ks)
	return ks
}

// Archs lists the archs recorded with key (every arch when key is ""), in
// file order: what "replay profiles every arch in it" iterates over.
func (r *Recording) Archs(key string) []model.Arch {
	var out []model.Arch
	for _, rec := range r.Records {
		if _, ok := rec.LatencyMs[key]; key == "" || ok {
			out = append(out, rec.Arch)
		}
	}
	return out
}

// Archs lists the archs of the recording at path that carry key (every arch
// when key is ""), in file order.
func Archs(path, key string, spaces *model.Spaces) ([]model.Arch, error) {
	r, err := Load(path, spaces)
	if err != nil {
		return nil, err
	}
	if key != "" && !slices.Contains(r.Keys(), key) {
		return nil, fmt.Errorf("%s: no latency_ms.%s in any record (keys there: %s)", path, key, strings.Join(r.Keys(), ", "))
	}
	return r.Archs(key), nil
}
