package predict

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePriorSpecs(t *testing.T) {
	tests := []struct {
		in      string
		want    []PriorSpec
		wantErr string
	}{
		{"h100.jsonl:gpu-b1-fp32-graph", []PriorSpec{{File: "h100.jsonl", Key: "gpu-b1-fp32-graph"}}, ""},
		{"a.jsonl:k1, b.jsonl:k2", []PriorSpec{{File: "a.jsonl", Key: "k1"}, {File: "b.jsonl", Key: "k2"}}, ""},
		{"C:/data/a.jsonl:k", []PriorSpec{{File: "C:/data/a.jsonl", Key: "k"}}, ""},
		{"a.jsonl:k,macs", []PriorSpec{{File: "a.jsonl", Key: "k"}, {MACs: true}}, ""},
		{"macs,macs", nil, "--prior macs is given twice"},
		{"", nil, "--prior is empty"},
		{"a.jsonl", nil, `--prior item "a.jsonl": want FILE:KEY`},
		{"a.jsonl:", nil, "want FILE:KEY"},
		{":k", nil, "want FILE:KEY"},
		{"a:k,,b:k", nil, `--prior item "": want FILE:KEY`},
		{"a:k,a:k", nil, "--prior a:k is given twice"},
		{strings.Repeat("a:k,", 16) + "a:z", nil, "given twice"},
	}
	for _, tc := range tests {
		got, err := ParsePriorSpecs(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	var many []string
	for i := range MaxPriors + 1 {
		many = append(many, "f"+strings.Repeat("x", i)+":k")
	}
	if _, err := ParsePriorSpecs(strings.Join(many, ",")); err == nil || !strings.Contains(err.Error(), "more than 16") {
		t.Errorf("%d priors: error %v", len(many), err)
	}
}

func FuzzParsePriorSpecs(f *testing.F) {
	for _, s := range []string{"h100.jsonl:gpu-b1-fp32-graph", "a:b,c:d", "C:/x:y", ":", ",", "a:b,a:b", "macs,a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParsePriorSpecs(s)
		if err != nil {
			return
		}
		if len(ps) == 0 || len(ps) > MaxPriors {
			t.Fatalf("%q: %d specs", s, len(ps))
		}
		var parts []string
		for _, p := range ps {
			if p.MACs {
				parts = append(parts, p.String())
				continue
			}
			if p.File == "" || p.Key == "" || strings.Contains(p.Key, ":") || strings.Contains(p.Key, ",") {
				t.Fatalf("%q: bad spec %+v", s, p)
			}
			parts = append(parts, p.String())
		}
		again, err := ParsePriorSpecs(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, ps) {
			t.Fatalf("%q: round trip %v, %v; want %v", s, again, err, ps)
		}
	})
}
