package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/cuts"
	"blockprof/engine/reduce"
	"blockprof/model"
)

// Recorded is a recorded file in the format of the shared data
// (shared/data/*.jsonl): latencies measured on another machine under
// several keys, and for accuracy tables top-1 numbers. Its numbers are
// labelled replayed (or table), never measured.
type Recorded struct {
	sp    *model.Space
	path  string
	key   string
	data  []byte
	label string
}

// OpenRecorded reads a recorded file; key is the latency_ms key analysed
// (empty for accuracy, MACs and params), spaceName "" takes the space its
// first record names. A sibling PREFIX-meta.json (h100-meta.json beside
// h100-*.jsonl) names the machine in the label.
func OpenRecorded(path, key, spaceName string, spaces *model.Spaces) (*Recorded, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if spaceName == "" {
		var first struct {
			Space string `json:"space"`
		}
		line, _, _ := bytes.Cut(bytes.TrimSpace(data), []byte("\n"))
		if json.Unmarshal(line, &first) != nil || first.Space == "" {
			return nil, fmt.Errorf("%s: its records name no space: pass --space (one of %s)", path, strings.Join(spaces.Names(), ", "))
		}
		spaceName = first.Space
	}
	sp, err := spaces.Get(spaceName)
	if err != nil {
		return nil, err
	}
	base := filepath.Base(path)
	label := "replayed: measured on another machine, read from " + base
	if prefix, _, ok := strings.Cut(base, "-"); ok {
		if meta, err := os.ReadFile(filepath.Join(filepath.Dir(path), prefix+"-meta.json")); err == nil {
			var m struct {
				GPU string `json:"gpu"`
				CPU string `json:"cpu"`
			}
			if json.Unmarshal(meta, &m) == nil && m.GPU != "" {
				label = fmt.Sprintf("replayed: measured on %s (host CPU %s), read from %s", m.GPU, m.CPU, base)
			}
		}
	}
	return &Recorded{sp: sp, path: path, key: key, data: data, label: label}, nil
}

// Space is the space of the file's records.
func (r *Recorded) Space() *model.Space { return r.sp }

// Series reads one metric at resolution res (0: the only one present).
func (r *Recorded) Series(metric string, res int) (Series, error) {
	out := Series{}
	out.Space, out.Metric = r.sp, metric
	m := metric
	prov := ""
	switch metric {
	case MetricLatency:
		if r.key == "" {
			return out, fmt.Errorf("--data with --metric latency needs --key (a latency_ms key)")
		}
		out.Device, out.Unit, out.Field, prov = r.key, "ms", "latency_ms", "replayed"
	case MetricAccuracy, "top1":
		m, out.Metric, out.Unit, out.Field, prov = analysis.RecordedTop1, MetricAccuracy, "%", "accuracy", "table"
	case MetricMACs, MetricParams:
		out.Unit, out.Field, out.Label = "M", metric, "computed from the network"
	default:
		return out, fmt.Errorf("--metric %q: want latency, accuracy, macs or params", metric)
	}
	obs, err := analysis.ReadRecorded(bytes.NewReader(r.data), r.path, r.sp, m, r.key)
	if err != nil {
		return out, err
	}
	out.Records = len(obs)
	for _, o := range obs {
		if !slices.Contains(out.Resolutions, o.Arch.Resolution) {
			out.Resolutions = append(out.Resolutions, o.Arch.Resolution)
		}
	}
	slices.Sort(out.Resolutions)
	if res == 0 {
		if len(out.Resolutions) > 1 {
			return out, fmt.Errorf("archs at resolutions %s: pick one with --resolution", joinInts(out.Resolutions))
		}
		out.Obs = obs
	} else {
		out.Obs = slices.DeleteFunc(slices.Clone(obs), func(o analysis.Obs) bool { return o.Arch.Resolution != res })
		if len(out.Obs) == 0 {
			return out, fmt.Errorf("no archs at resolution %d (present: %s)", res, joinInts(out.Resolutions))
		}
	}
	if prov != "" { // every record of a recorded file has the file's provenance
		own := r.entryProvenances(res)
		if len(own) != len(out.Obs) {
			own = nil
		}
		for i := range out.Obs {
			p := prov
			if own != nil {
				p = own[i]
			}
			if err := out.Provenance.Add(p, r.path); err != nil {
				return out, err
			}
		}
		if out.Provenance.Only(prov) {
			out.Provenance.Detail = r.label
			if prov == "table" {
				out.Provenance.Detail = "table: " + filepath.Base(r.path)
			}
			if own != nil {
				out.Provenance.Detail += " (records measured by blockprof, exported with export-data)"
			}
		} else {
			out.Provenance.Detail = ""
		}
		out.Label = out.Provenance.Label()
	}
	return out, nil
}

// entryProvenances reads the provenance export-data writes beside each
// latency (latency_ms[key].provenance), in the order of the file's
// records at resolution res (0: all), or nil when the file carries none
// (the shared data). A number measured by blockprof and read back is
// replayed; a simulated, table or predicted one keeps its provenance.
func (r *Recorded) entryProvenances(res int) []string {
	if r.key == "" {
		return nil
	}
	var out []string
	found := false
	for _, line := range bytes.Split(r.data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var l struct {
			Arch struct {
				R int `json:"r"`
			} `json:"arch"`
			Latency map[string]struct {
				Provenance string `json:"provenance"`
			} `json:"latency_ms"`
		}
		if json.Unmarshal(line, &l) != nil {
			return nil
		}
		if res != 0 && l.Arch.R != res {
			continue
		}
		p := l.Latency[r.key].Provenance
		switch p {
		case "":
			p = "replayed"
		case "measured":
			found = true
			p = "replayed"
		default:
			found = true
		}
		out = append(out, p)
	}
	if !found {
		return nil
	}
	return out
}

// Analyze runs the friendliness analysis of one metric of the file.
func (r *Recorded) Analyze(metric string, res int, opt analysis.Options) (*Analysis, error) {
	ser, err := r.Series(metric, res)
	if err != nil {
		return nil, err
	}
	rep, err := analysis.Analyze(ser.Series, opt)
	if err != nil {
		return nil, err
	}
	return &Analysis{Series: ser, Report: rep, Evidence: evidenceOf(ser, rep)}, nil
}

// SuggestFrom proposes a reduction from two analyses (latency and
// quality) already made: the rule Suggest applies to the store's.
func SuggestFrom(lat, q *Analysis, name string) (Suggestion, error) {
	var qrep *analysis.Report
	if q != nil {
		qrep = q.Report
	}
	r, err := reduce.Suggest(lat.Report, qrep, reduce.Options{Name: name})
	if err != nil {
		return Suggestion{}, err
	}
	c, err := cuts.FromSuggestion(lat.Report.SpaceDef(), r)
	if err != nil {
		return Suggestion{}, err
	}
	c = c.WithOrigin(r.Description)
	out := Suggestion{Reduction: r, Cuts: c, Latency: lat.Evidence, Weak: lat.Evidence.Weak}
	out.Model = c.Reduction(name)
	out.Model.Statistic = "regression effect of latency"
	if q != nil {
		out.Model.Statistic += " vs " + q.Series.Metric
	}
	if q != nil {
		out.Quality, out.QualityMetric, out.Weak = q.Evidence, q.Series.Metric, out.Weak || q.Evidence.Weak
	}
	if len(r.Suggestions) == 0 {
		return out, ErrNothingToCut
	}
	return out, nil
}
