package session

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"

	"blockprof/engine/store"
	"blockprof/model"
)

// DataEntry is one device's latency of one arch in an exported data file:
// the fields of the shared data format (median, min, max, n) and, beyond
// them, every sample, the record's provenance, the device's fingerprint
// and label, and the probe-corrected latency analysis uses where the
// device timed a probe.
type DataEntry struct {
	Median  float64   `json:"median"`
	Min     float64   `json:"min"`
	Max     float64   `json:"max"`
	N       int       `json:"n"`
	Spread  float64   `json:"spread"`
	Samples []float64 `json:"samples_ms"`
	// ProbeCorrected is the latency Series analyses when it differs from
	// Median (store.Record.Latency); readers of the file prefer it.
	ProbeCorrected float64 `json:"probe_corrected_ms,omitempty"`
	Mode           string  `json:"mode,omitempty"`
	Provenance     string  `json:"provenance"`
	Fingerprint    string  `json:"fingerprint"`
	Label          string  `json:"device_label,omitempty"`
}

// DataLine is one line of an exported data file: an arch in one plan role
// with its latency on every exported device.
type DataLine struct {
	Space string    `json:"space"`
	Arch  model.OFA `json:"arch"`
	// Fixed is null for a uniform arch, [unit, k, e] ([unit, e] for
	// bottleneck spaces, unit 0-based) for a whole-unit fix; Fix is the
	// fixed location of an A_{u,l,b} ("u2.l3=e6k7"), and then Fixed is
	// left out (an older reader takes the arch as not drawn uniformly).
	Fixed   *[]float64           `json:"fixed,omitempty"`
	Fix     string               `json:"fix,omitempty"`
	Params  int64                `json:"params"`
	MACs    int64                `json:"macs"`
	Latency map[string]DataEntry `json:"latency_ms"`

	uniform bool
}

// MarshalJSON writes "fixed": null for a uniform arch (the format's mark
// of a uniform draw).
func (l DataLine) MarshalJSON() ([]byte, error) {
	type plain DataLine
	if l.uniform {
		return json.Marshal(struct {
			plain
			Fixed *[]float64 `json:"fixed"`
		}{plain: plain(l)})
	}
	return json.Marshal(plain(l))
}

// ExportedData says what ExportData wrote.
type ExportedData struct {
	Lines   int
	Devices []string
	// Records per device; Stale records (earlier settings) are not
	// exported, as Series does not use them.
	Records map[string]int
	Stale   map[string]int
}

// ExportData writes the store's plan measurements of the session's space
// at its resolution, one JSON line per (arch, plan role) in the format of
// the shared data (../shared/data/README.md), on device ("" for every
// device). It exports the records Series reads: the newest of each arch
// under the device's current fingerprint.
func (s *Session) ExportData(ctx context.Context, w io.Writer, device string) (ExportedData, error) {
	lines, out, err := s.Data(ctx, device)
	if err != nil {
		return out, err
	}
	enc := json.NewEncoder(w)
	for _, l := range lines {
		if err := enc.Encode(l); err != nil {
			return out, err
		}
		out.Lines++
	}
	return out, nil
}

// Data is what ExportData writes, as lines: the records Series reads of
// device ("" for every device), one line per (arch, plan role) with the
// latency of every device that measured it.
func (s *Session) Data(ctx context.Context, device string) ([]DataLine, ExportedData, error) {
	out := ExportedData{Records: map[string]int{}, Stale: map[string]int{}}
	devs, err := s.st.Devices(ctx)
	if err != nil {
		return nil, out, err
	}
	if device != "" {
		d, err := s.storedDevice(ctx, device)
		if err != nil {
			return nil, out, err
		}
		devs = []store.Device{d}
	}
	if len(devs) == 0 {
		return nil, out, fmt.Errorf("store %s holds no device yet: profile first", s.st.Path())
	}
	type role struct {
		res       int
		arch, fix string
	}
	var order []role
	count := map[int]int{}
	lines := map[role]*DataLine{}
	for _, d := range devs {
		baseline, err := s.st.ProbeBaseline(ctx, d.Name)
		if err != nil {
			return nil, out, err
		}
		stale, err := s.st.Stale(ctx, d.Name, d.Fingerprint, s.sp.Name)
		if err != nil {
			return nil, out, err
		}
		for _, g := range stale {
			out.Stale[d.Name] += g.Count
		}
		q := store.Query{Device: d.Name, Space: s.sp.Name, Kind: store.KindPlan, Latest: true, Fingerprint: d.Fingerprint, Samples: true}
		for r, err := range s.st.Records(ctx, q) {
			if err != nil {
				return nil, out, err
			}
			k := role{r.Resolution, r.Arch, r.Fix}
			l := lines[k]
			if l == nil {
				if l, err = s.dataLine(r); err != nil {
					return nil, out, err
				}
				lines[k] = l
				order = append(order, k)
			}
			st := store.Summarize(r.SamplesMs)
			e := DataEntry{Median: r.Median, Min: st.Min, Max: st.Max, N: r.N, Spread: r.Spread, Samples: r.SamplesMs,
				Mode: r.Mode, Provenance: string(r.Provenance), Fingerprint: r.Fingerprint, Label: d.Info.Label}
			if v := r.Latency(baseline); v != r.Median {
				e.ProbeCorrected = v
			}
			l.Latency[d.Name] = e
			count[r.Resolution]++
		}
	}
	// The session's resolution, or (none asked) the only one the store
	// holds, as Series picks it.
	res := s.spec.Resolution
	if count[res] == 0 && s.opts.Resolution == 0 && len(count) == 1 {
		for r := range count {
			res = r
		}
	}
	for _, k := range order {
		if k.res == res {
			for d := range lines[k].Latency {
				out.Records[d]++
			}
		}
	}
	for _, d := range devs {
		if out.Records[d.Name] > 0 {
			out.Devices = append(out.Devices, d.Name)
		}
	}
	if count[res] == 0 {
		return nil, out, fmt.Errorf("store %s has no plan measurements of %s at %d px to export (present: %s px; pass --resolution, or profile first)", s.st.Path(), s.sp.Name, res, joinInts(slices.Sorted(maps.Keys(count))))
	}
	var got []DataLine
	for _, k := range order {
		if k.res == res {
			got = append(got, *lines[k])
		}
	}
	return got, out, nil
}

func (s *Session) dataLine(r store.Record) (*DataLine, error) {
	a, err := s.sp.ParseArch(r.Arch)
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.st.Path(), err)
	}
	f, err := store.ParseFix(r.Fix)
	if err != nil {
		return nil, fmt.Errorf("store %s: arch %s: %w", s.st.Path(), r.Arch, err)
	}
	l := &DataLine{Space: s.sp.Name, Arch: s.sp.ToOFA(a), Params: r.Params, MACs: r.MACs, Latency: map[string]DataEntry{}}
	switch {
	case f == nil:
		l.uniform = true
	case f.Layer == 0:
		fixed := []float64{float64(f.Unit - 1), float64(f.Block.K), f.Block.E}
		if s.sp.Family == model.Bottleneck {
			fixed = []float64{float64(f.Unit - 1), f.Block.E}
		}
		l.Fixed = &fixed
	default:
		l.Fix = f.String()
	}
	return l, nil
}
