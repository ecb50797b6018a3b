package predict

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"blockprof/model"
)

// Record is one line of a recorded data file in the format of
// ../shared/data/*.jsonl: an architecture in OFA encoding with its MACs,
// params, and either latency summaries per device key or an ImageNet top-1.
type Record struct {
	// Line is the 1-based line number in the file.
	Line   int
	Arch   model.Arch
	MACs   int64
	Params int64
	// Latency maps a device key (e.g. "gpu-b1-fp32-graph") to its summary.
	Latency map[string]LatencySummary
	// Top1 is the ImageNet top-1 in percent; HasTop1 says it was present.
	Top1    float64
	HasTop1 bool
}

// LatencySummary is one latency_ms entry of a record.
type LatencySummary struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	N      int     `json:"n"`
}

type rawRecord struct {
	Space   string                    `json:"space"`
	Arch    json.RawMessage           `json:"arch"`
	MACs    int64                     `json:"macs"`
	Params  int64                     `json:"params"`
	Latency map[string]LatencySummary `json:"latency_ms"`
	Top1    *float64                  `json:"top1"`
}

// ReadRecords reads JSON lines of records of space sp. name is used in
// errors ("file:line: ..."). Blank lines are skipped; every other line must
// be an object with an "arch" in OFA encoding that lies in sp; a "space"
// field, when present, must name sp. Slots past a unit's depth are ignored.
func ReadRecords(r io.Reader, name string, sp *model.Space) ([]Record, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var out []Record
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		rec, err := parseRecord([]byte(text), sp)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		rec.Line = line
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return out, nil
}

func parseRecord(text []byte, sp *model.Space) (Record, error) {
	var raw rawRecord
	if err := json.Unmarshal(text, &raw); err != nil {
		return Record{}, fmt.Errorf("not a JSON record: %v", err)
	}
	if raw.Space != "" && raw.Space != sp.Name {
		return Record{}, fmt.Errorf("record of space %q, want %q (pass --space %s, or a file of %s)", raw.Space, sp.Name, raw.Space, sp.Name)
	}
	if len(raw.Arch) == 0 || string(raw.Arch) == "null" {
		return Record{}, fmt.Errorf("no \"arch\" field")
	}
	var o model.OFA
	if err := json.Unmarshal(raw.Arch, &o); err != nil {
		return Record{}, fmt.Errorf("arch: %v (want {\"ks\":[...],\"e\":[...],\"d\":[...],\"r\":224})", err)
	}
	a, err := sp.FromOFA(o)
	if err != nil {
		return Record{}, err
	}
	rec := Record{Arch: a, MACs: raw.MACs, Params: raw.Params, Latency: raw.Latency}
	for k, l := range raw.Latency {
		if !finitePos(l.Median) {
			return Record{}, fmt.Errorf("latency_ms[%q].median %v is not a positive number", k, l.Median)
		}
	}
	if raw.Top1 != nil {
		if math.IsNaN(*raw.Top1) || *raw.Top1 < 0 || *raw.Top1 > 100 {
			return Record{}, fmt.Errorf("top1 %v outside 0..100 (want a percentage)", *raw.Top1)
		}
		rec.Top1, rec.HasTop1 = *raw.Top1, true
	}
	return rec, nil
}

func finitePos(x float64) bool { return x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) }

// LatencyKeys lists the device keys present in every record, sorted.
func LatencyKeys(recs []Record) []string {
	if len(recs) == 0 {
		return nil
	}
	var keys []string
	for k := range recs[0].Latency {
		all := true
		for _, r := range recs[1:] {
			if _, ok := r.Latency[k]; !ok {
				all = false
				break
			}
		}
		if all {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// Latencies returns the archs and median latencies of key, failing on the
// first record that lacks it.
func Latencies(recs []Record, key string) ([]model.Arch, []float64, error) {
	archs := make([]model.Arch, len(recs))
	y := make([]float64, len(recs))
	for i, r := range recs {
		l, ok := r.Latency[key]
		if !ok {
			return nil, nil, fmt.Errorf("line %d has no latency_ms[%q] (keys in every record: %s)", r.Line, key, strings.Join(LatencyKeys(recs), ", "))
		}
		archs[i], y[i] = r.Arch, l.Median
	}
	return archs, y, nil
}

// Top1s returns the archs and top-1 values, failing on the first record
// without "top1".
func Top1s(recs []Record) ([]model.Arch, []float64, error) {
	archs := make([]model.Arch, len(recs))
	y := make([]float64, len(recs))
	for i, r := range recs {
		if !r.HasTop1 {
			return nil, nil, fmt.Errorf("line %d has no \"top1\" field (an accuracy table is needed for --metric top1)", r.Line)
		}
		archs[i], y[i] = r.Arch, r.Top1
	}
	return archs, y, nil
}
