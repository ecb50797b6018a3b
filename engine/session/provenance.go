package session

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"blockprof/devices"
	"blockprof/engine/accuracy"
)

// Provenance counts the records behind a number by where each came from
// (measured, replayed, table, simulated, predicted, proxy). It is built from
// the records themselves, never from a device's current configuration, and
// an unknown provenance is an error, never "measured".
type Provenance struct {
	counts map[string]int
	// Detail is the device's own description of its provenance when every
	// record has the provenance the device reports ("table (Note10)",
	// "replayed (NVIDIA H100 80GB HBM3, recorded)"); empty otherwise.
	Detail string
	// Corrected counts the records whose latency is probe-corrected
	// (devices.Protocol.ProbeEvery), out of Total().
	Corrected int
}

// known are the provenances a record may carry.
var known = []string{string(devices.Measured), string(devices.Replayed), string(devices.Table),
	string(devices.Simulated), string(devices.Predicted), accuracy.Proxy}

// Add counts one record of provenance p; it fails for an empty or unknown
// provenance (what names the record in the error).
func (p *Provenance) Add(prov, what string) error {
	if !slices.Contains(known, prov) {
		if prov == "" {
			return fmt.Errorf("%s has no provenance: it cannot be shown as measured or anything else; re-measure it (blockprof profile --remeasure)", what)
		}
		return fmt.Errorf("%s has an unknown provenance %q (want one of %s)", what, prov, strings.Join(known, ", "))
	}
	if p.counts == nil {
		p.counts = map[string]int{}
	}
	p.counts[prov]++
	return nil
}

// Total is the number of records counted.
func (p Provenance) Total() int {
	n := 0
	for _, c := range p.counts {
		n += c
	}
	return n
}

// Count is the number of records of provenance prov.
func (p Provenance) Count(prov string) int { return p.counts[prov] }

// Kinds lists the provenances present, most frequent first.
func (p Provenance) Kinds() []string {
	ks := slices.Collect(maps.Keys(p.counts))
	slices.SortFunc(ks, func(a, b string) int {
		if c := cmp.Compare(p.counts[b], p.counts[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	return ks
}

// Mixed reports whether the records have more than one provenance.
func (p Provenance) Mixed() bool { return len(p.counts) > 1 }

// Only reports whether every record has provenance prov (and there is at
// least one).
func (p Provenance) Only(prov string) bool { return len(p.counts) == 1 && p.counts[prov] > 0 }

// Label is the text shown beside the number: "measured", "table (Note10)",
// "mixed: 120 measured, 30 replayed", with ", probe-corrected" when every
// record is and ", probe-corrected: 30 of 150" when some are. Empty when
// there is no record.
func (p Provenance) Label() string {
	ks := p.Kinds()
	var s string
	switch {
	case len(ks) == 0:
		return ""
	case len(ks) == 1 && p.Detail != "":
		s = p.Detail
	case len(ks) == 1:
		s = ks[0]
	default:
		parts := make([]string, len(ks))
		for i, k := range ks {
			parts[i] = fmt.Sprintf("%d %s", p.counts[k], k)
		}
		s = "mixed: " + strings.Join(parts, ", ")
	}
	switch n := p.Total(); {
	case p.Corrected == 0:
	case p.Corrected == n:
		s += ", probe-corrected"
	default:
		s += fmt.Sprintf(", probe-corrected: %d of %d", p.Corrected, n)
	}
	return s
}

// Merge adds q's counts to p's (Detail kept only when both agree).
func (p Provenance) Merge(q Provenance) Provenance {
	out := Provenance{counts: maps.Clone(p.counts), Corrected: p.Corrected + q.Corrected}
	if out.counts == nil {
		out.counts = map[string]int{}
	}
	for k, c := range q.counts {
		out.counts[k] += c
	}
	if p.Detail == q.Detail || q.Total() == 0 {
		out.Detail = p.Detail
	} else if p.Total() == 0 {
		out.Detail = q.Detail
	}
	return out
}
