package predict

import (
	"encoding/json"
	"strings"
	"testing"
)

const mbv3Line = `{"space": "ofa-mbv3-w1.0", "arch": {"ks": [7, 7, 0, 0, 7, 7, 5, 7, 3, 5, 0, 0, 7, 7, 5, 5, 7, 3, 0, 0], "e": [3, 4, 0, 0, 3, 6, 3, 6, 3, 4, 0, 0, 4, 4, 4, 6, 4, 4, 0, 0], "d": [2, 4, 2, 4, 2], "r": 224}, "fixed": null, "params": 4549040, "macs": 275965728, "latency_ms": {"gpu-b1-fp32-graph": {"median": 0.731, "min": 0.727, "max": 0.748, "n": 30}, "cpu-b1-fp32": {"median": 11.3, "min": 11.1, "max": 11.8, "n": 8}}}`

const top1Line = `{"space": "ofa-mbv3-w1.0", "arch": {"ks": [7, 5, 7, 5, 3, 5, 5, 7, 5, 7, 5, 0, 5, 5, 3, 5, 7, 5, 0, 0], "e": [3, 4, 6, 4, 6, 4, 6, 6, 4, 4, 4, 0, 4, 4, 3, 3, 6, 4, 0, 0], "d": [4, 4, 3, 4, 2], "r": 224}, "top1": 75.938, "macs": 335900704, "params": 4522736}`

func TestReadRecords(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	tests := []struct {
		name    string
		in      string
		n       int
		wantErr string
	}{
		{"latency record", mbv3Line, 1, ""},
		{"accuracy record", top1Line, 1, ""},
		{"blank lines skipped", "\n" + mbv3Line + "\n\n" + top1Line + "\n", 2, ""},
		{"no space field is fine", strings.Replace(mbv3Line, `"space": "ofa-mbv3-w1.0", `, "", 1), 1, ""},
		{"other space", strings.Replace(mbv3Line, `"ofa-mbv3-w1.0"`, `"ofa-pn-w1.3"`, 1), 0, `record of space "ofa-pn-w1.3"`},
		{"not JSON", "ks=3", 0, ":1: not a JSON record"},
		{"no arch", `{"top1": 70}`, 0, `no "arch"`},
		{"arch of wrong length", `{"arch": {"ks": [3], "e": [3], "d": [1], "r": 224}}`, 0, "d has 1 entries"},
		{"zero median", strings.Replace(mbv3Line, `"median": 0.731`, `"median": 0`, 1), 0, "not a positive number"},
		{"top1 as fraction", strings.Replace(top1Line, "75.938", "175.9", 1), 0, "outside 0..100"},
		{"error names the line", mbv3Line + "\n{", 0, "f.jsonl:2:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			recs, err := ReadRecords(strings.NewReader(tc.in), "f.jsonl", sp)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != tc.n {
				t.Fatalf("%d records, want %d", len(recs), tc.n)
			}
		})
	}
}

func TestRecordFields(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	recs, err := ReadRecords(strings.NewReader(mbv3Line+"\n"+top1Line), "f", sp)
	if err != nil {
		t.Fatal(err)
	}
	if got := recs[0].Arch.String(); got != "ofa-mbv3-w1.0:224:e3k7,e4k7/e3k7,e6k7,e3k5,e6k7/e3k3,e4k5/e4k7,e4k7,e4k5,e6k5/e4k7,e4k3" {
		t.Errorf("arch %s", got)
	}
	if recs[0].Line != 1 || recs[1].Line != 2 || recs[0].MACs != 275965728 || recs[1].HasTop1 != true || recs[1].Top1 != 75.938 || recs[0].HasTop1 {
		t.Errorf("fields: %+v / %+v", recs[0], recs[1])
	}
	if keys := LatencyKeys(recs[:1]); strings.Join(keys, ",") != "cpu-b1-fp32,gpu-b1-fp32-graph" {
		t.Errorf("keys %v", keys)
	}
	if keys := LatencyKeys(recs); len(keys) != 0 {
		t.Errorf("keys present in every record: %v, want none", keys)
	}
	if _, y, err := Latencies(recs[:1], "cpu-b1-fp32"); err != nil || y[0] != 11.3 {
		t.Errorf("latencies %v %v", y, err)
	}
	if _, _, err := Latencies(recs, "cpu-b1-fp32"); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("missing key: err %v", err)
	}
	if _, _, err := Top1s(recs); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("missing top1: err %v", err)
	}
	if _, y, err := Top1s(recs[1:]); err != nil || y[0] != 75.938 {
		t.Errorf("top1s %v %v", y, err)
	}
}

// FuzzReadRecords: the JSONL reader never panics, and every record it
// accepts lies in the space and round-trips through the OFA encoding.
func FuzzReadRecords(f *testing.F) {
	sp := loadSpace(f, "ofa-mbv3-w1.0")
	f.Add(mbv3Line)
	f.Add(top1Line)
	f.Add(mbv3Line + "\n" + top1Line)
	f.Add(`{"arch": {"ks": [3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3], "e": [3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3], "d": [2,2,2,2,2]}, "top1": 1e308}`)
	f.Add(`{"arch": null}`)
	f.Fuzz(func(t *testing.T, in string) {
		recs, err := ReadRecords(strings.NewReader(in), "fuzz", sp)
		if err != nil {
			return
		}
		for _, r := range recs {
			if err := sp.Check(r.Arch); err != nil {
				t.Fatalf("accepted an arch outside the space: %v", err)
			}
			js, _ := json.Marshal(sp.ToOFA(r.Arch))
			b, err := sp.ParseArchAny(string(js))
			if err != nil || !b.Equal(r.Arch) {
				t.Fatalf("round trip %s: %v", r.Arch, err)
			}
			if r.HasTop1 && !(r.Top1 >= 0 && r.Top1 <= 100) {
				t.Fatalf("accepted top1 %v", r.Top1)
			}
			for k, l := range r.Latency {
				if !finitePos(l.Median) {
					t.Fatalf("accepted median %v for %s", l.Median, k)
				}
			}
		}
	})
}
