package analysis

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

// Recorded metrics of a data file in the format of ../shared/data/*.jsonl.
const (
	RecordedLatency = "latency" // latency_ms[key].median, in ms
	RecordedTop1    = "top1"    // top1, in %
	RecordedMACs    = "macs"    // computed from the network, in millions
	RecordedParams  = "params"  // computed from the network, in millions
)

type recordedLine struct {
	Space string          `json:"space"`
	Arch  json.RawMessage `json:"arch"`
	Fixed json.RawMessage `json:"fixed"`
	// Fix is an A_{u,l,b}'s fixed location ("u2.l3=e6k7"), written by
	// blockprof export-data (the shared format has whole-unit fixes only).
	Fix     string `json:"fix"`
	Latency map[string]struct {
		Median *float64 `json:"median"`
		// ProbeCorrected is the probe-corrected latency blockprof analysed
		// (export-data); it is read instead of the median when present.
		ProbeCorrected *float64 `json:"probe_corrected_ms"`
	} `json:"latency_ms"`
	Top1 *float64 `json:"top1"`
}

// ReadRecorded reads observations of one metric from JSON lines in the
// format of the project's shared data (shared/data/README.md): "arch" in OFA
// encoding, "fixed" null (a uniform arch) or a whole-unit fix — [unit, k, e]
// for MBConv spaces, [unit, e] for bottleneck spaces, unit 0-based — or no
// "fixed" at all: an arch not drawn uniformly (Obs.NonUniform; the ImageNet
// accuracy table's archs come from search runs), and "latency_ms"
// (metric "latency" reads latency_ms[key].median) or "top1". MACs and
// params are computed from the network. Lines that lack the metric are an
// error naming the line; every fix is checked against its arch.
func ReadRecorded(r io.Reader, name string, sp *model.Space, metric, key string) ([]Obs, error) {
	var value func(recordedLine, model.Arch) (float64, bool, error)
	switch metric {
	case RecordedLatency:
		if key == "" {
			return nil, fmt.Errorf("%s: metric latency needs a device key (--key), one of the latency_ms keys", name)
		}
		value = func(l recordedLine, _ model.Arch) (float64, bool, error) {
			e, ok := l.Latency[key]
			if ok && e.ProbeCorrected != nil && *e.ProbeCorrected > 0 {
				return *e.ProbeCorrected, true, nil
			}
			if !ok || e.Median == nil {
				return 0, false, nil
			}
			return *e.Median, true, nil
		}
	case RecordedTop1:
		value = func(l recordedLine, _ model.Arch) (float64, bool, error) {
			if l.Top1 == nil {
				return 0, false, nil
			}
			return *l.Top1, true, nil
		}
	case RecordedMACs, RecordedParams:
		f, _, err := NetworkMetric(sp, metric)
		if err != nil {
			return nil, err
		}
		value = func(_ recordedLine, a model.Arch) (float64, bool, error) {
			v, err := f(a)
			return v, err == nil, err
		}
	default:
		return nil, fmt.Errorf("%s: metric %q: want latency, top1, macs or params", name, metric)
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	var out []Obs
	keys := map[string]bool{}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			continue
		}
		at := func(format string, args ...any) error {
			return fmt.Errorf("%s:%d: %s", name, line, fmt.Sprintf(format, args...))
		}
		var l recordedLine
		if err := json.Unmarshal([]byte(text), &l); err != nil {
			return nil, at("not a JSON record: %v", err)
		}
		if l.Space != "" && l.Space != sp.Name {
			return nil, at("record of space %q, not %q (pass --space %s)", l.Space, sp.Name, l.Space)
		}
		if len(l.Arch) == 0 || string(l.Arch) == "null" {
			return nil, at("no \"arch\" field")
		}
		var o model.OFA
		if err := json.Unmarshal(l.Arch, &o); err != nil {
			return nil, at("arch: %v", err)
		}
		a, err := sp.FromOFA(o)
		if err != nil {
			return nil, at("%v", err)
		}
		var fixed []float64
		if len(l.Fixed) > 0 {
			if err := json.Unmarshal(l.Fixed, &fixed); err != nil {
				return nil, at("fixed %s: %v (want null, [unit, k, e] or [unit, e])", clip(string(l.Fixed)), err)
			}
		}
		fix, err := sp.UnitFix(a, fixed)
		if err != nil {
			return nil, at("%v", err)
		}
		if l.Fix != "" {
			if fixed != nil {
				return nil, at("both \"fixed\" and \"fix\": give one")
			}
			if fix, err = layerFix(sp, a, l.Fix); err != nil {
				return nil, at("%v", err)
			}
		}
		for k := range l.Latency {
			keys[k] = true
		}
		v, ok, err := value(l, a)
		if err != nil {
			return nil, at("%v", err)
		}
		if !ok {
			return nil, at("no %s value%s", metric, keyList(metric, key, keys))
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, at("%s value is not finite", metric)
		}
		out = append(out, Obs{Arch: a, Fix: fix, NonUniform: len(l.Fixed) == 0 && l.Fix == "", Value: v})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no records", name)
	}
	return out, nil
}

func keyList(metric, key string, keys map[string]bool) string {
	if metric != RecordedLatency {
		return ""
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return fmt.Sprintf(" for key %q (keys seen: %s)", key, strings.Join(ks, ", "))
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:77] + "..."
	}
	return s
}

// layerFix reads an A_{u,l,b}'s location "u2.l3=e6k7" (1-based unit and
// layer) and checks that arch a holds the block there.
func layerFix(sp *model.Space, a model.Arch, text string) (*model.Fix, error) {
	var u, l int
	loc, block, ok := strings.Cut(text, "=")
	if !ok {
		return nil, fmt.Errorf("fix %q: want u<unit>.l<layer>=<block>, e.g. u2.l3=e6k7", clip(text))
	}
	if n, err := fmt.Sscanf(loc, "u%d.l%d", &u, &l); n != 2 || err != nil || fmt.Sprintf("u%d.l%d", u, l) != loc {
		return nil, fmt.Errorf("fix %q: location is not u<unit>.l<layer>, e.g. u2.l3", clip(text))
	}
	b, err := model.ParseBlock(block)
	if err != nil {
		return nil, fmt.Errorf("fix %q: %w", clip(text), err)
	}
	f := model.Fix{Unit: u, Layer: l, Block: b}
	if err := sp.CheckFix(f); err != nil {
		return nil, err
	}
	if u > len(a.Units) || l > len(a.Units[u-1]) {
		return nil, fmt.Errorf("fix %s: the arch has no layer %d in unit %d", f, l, u)
	}
	if got := a.Units[u-1][l-1]; got.K != b.K || got.E != b.E || (b.W != 0 && got.W != b.W) {
		return nil, fmt.Errorf("fix %s: the arch holds %s there", f, got.Key())
	}
	return &f, nil
}
