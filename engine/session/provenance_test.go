package session

import (
	"strings"
	"testing"
)

func TestProvenanceLabel(t *testing.T) {
	type rec struct {
		prov      string
		corrected bool
	}
	many := func(p string, n int, corrected bool) []rec {
		out := make([]rec, n)
		for i := range out {
			out[i] = rec{p, corrected}
		}
		return out
	}
	cases := []struct {
		name   string
		recs   []rec
		detail string
		want   string
	}{
		{"none", nil, "", ""},
		{"one kind", many("measured", 3, false), "", "measured"},
		{"device detail when every record agrees", many("table", 4, false), "table (Note10)", "table (Note10)"},
		{"mixed says the counts, most first", append(many("replayed", 30, false), many("measured", 120, false)...), "", "mixed: 120 measured, 30 replayed"},
		{"mixed ignores the detail", append(many("simulated", 2, false), many("measured", 1, false)...), "simulated (npu)", "mixed: 2 simulated, 1 measured"},
		{"all corrected", many("measured", 5, true), "", "measured, probe-corrected"},
		{"some corrected", append(many("measured", 1, true), many("measured", 149, false)...), "", "measured, probe-corrected: 1 of 150"},
		{"proxy", many("proxy", 2, false), "", "proxy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Provenance
			for i, r := range c.recs {
				if err := p.Add(r.prov, "record"); err != nil {
					t.Fatalf("record %d: %v", i, err)
				}
				if r.corrected {
					p.Corrected++
				}
			}
			p.Detail = c.detail
			if got := p.Label(); got != c.want {
				t.Errorf("Label() = %q, want %q", got, c.want)
			}
		})
	}
}

func TestProvenanceRejectsUnknown(t *testing.T) {
	for _, bad := range []string{"", "Measured", "guessed", "measured "} {
		var p Provenance
		err := p.Add(bad, "measurement 7 of a on cpu")
		if err == nil {
			t.Errorf("Add(%q) accepted", bad)
			continue
		}
		if !strings.Contains(err.Error(), "measurement 7") {
			t.Errorf("Add(%q): error does not name the record: %v", bad, err)
		}
		if p.Total() != 0 || p.Label() != "" {
			t.Errorf("Add(%q) counted the record: %q", bad, p.Label())
		}
	}
}

func TestProvenanceMerge(t *testing.T) {
	var a, b Provenance
	for range 3 {
		_ = a.Add("measured", "r")
	}
	_ = b.Add("replayed", "r")
	a.Detail, b.Detail = "measured", "replayed (H100)"
	m := a.Merge(b)
	if got := m.Label(); got != "mixed: 3 measured, 1 replayed" {
		t.Errorf("merged label %q", got)
	}
	if a.Count("replayed") != 0 {
		t.Error("Merge changed its receiver")
	}
}
