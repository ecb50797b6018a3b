package accuracy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/engine/predict"
	"blockprof/engine/stats"
	"blockprof/model"
	"blockprof/model/modeltest"
)

func loadSpace(t testing.TB, name string) *model.Space {
	t.Helper()
	return modeltest.Space(t, name)
}

func readTable(t testing.TB, sp *model.Space, name string) *Records {
	t.Helper()
	tb, err := ReadTable(filepath.Join("testdata", name), sp)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

func TestJSONLAndCSVAgree(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	js := readTable(t, sp, "top1.jsonl")
	csv := readTable(t, sp, "dynast.csv")
	if js.Len() != 40 || csv.Len() != 40 {
		t.Fatalf("%d JSONL and %d CSV archs, want 40 each (the CSV repeats one arch with other junk slots)", js.Len(), csv.Len())
	}
	archs, top1 := js.Archs()
	for i, a := range archs {
		v, ok := csv.Lookup(a)
		if !ok {
			t.Fatalf("CSV lacks %s: junk slots past d were not masked", a)
		}
		want := top1[i]
		if i == 0 {
			want += 0.1 // the repeated row (+0.2) is averaged in
		}
		if math.Abs(v-want) > 1e-9 {
			t.Errorf("%s: CSV %v, JSONL %v (want %v)", a, v, top1[i], want)
		}
	}
	v, err := js.Top1(context.Background(), archs[3])
	if err != nil {
		t.Fatal(err)
	}
	if v.Top1 != top1[3] || v.Provenance != Table || v.Label != TableLabel || v.Source != "top1.jsonl" || v.Field() != "top1" {
		t.Errorf("value %+v", v)
	}
	_, err = js.Top1(context.Background(), sp.MinArch(224))
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("missing arch: err %v, want ErrNotFound", err)
	}
}

func TestParseDynasCSVErrors(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	const header = "Sub-network,Date,Model Parameters,Latency (ms),MACs,Top-1 Acc (%)\n"
	const dict = `"{'wid': None, 'ks': [3, 3, 9, 9, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], 'e': [3, 3, 0.5, 8, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3], 'd': [2, 4, 4, 4, 4], 'r': [224]}"`
	tests := []struct {
		name, in, want string
	}{
		{"ok with junk", header + dict + ",d,1,0,1,75.5\n", ""},
		{"empty", "", "empty file"},
		{"no top-1 column", "Sub-network,Date\n" + dict + ",x\n", "lacks a Sub-network or a Top-1 column"},
		{"only header", header, "no records"},
		{"short row", header + dict + "\n", "columns"},
		{"top1 not a number", header + dict + ",d,1,0,1,high\n", "not a percentage"},
		{"top1 a fraction over 100", header + dict + ",d,1,0,1,755\n", "not a percentage"},
		{"not a dict", header + `"[1, 2]",d,1,0,1,75` + "\n", "not a dict"},
		{"no d", header + `"{'ks': [3], 'e': [3]}",d,1,0,1,75` + "\n", `no "d" list`},
		{"bad literal", header + `"{'ks': [3,}",d,1,0,1,75` + "\n", "python literal"},
		{"two resolutions", header + strings.Replace(dict, "[224]", "[224, 192]", 1) + ",d,1,0,1,75\n", "resolutions"},
		{"depth out of range", header + strings.Replace(dict, "'d': [2,", "'d': [7,", 1) + ",d,1,0,1,75\n", "outside"},
		{"error names the line", header + dict + ",d,1,0,1,75\n" + dict + ",d,1,0,1,x\n", "f.csv:3:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := ParseDynasCSV(strings.NewReader(tc.in), "f.csv", sp)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				archs, top1 := tb.Archs()
				if len(archs) != 1 || top1[0] != 75.5 || archs[0].String() != "ofa-mbv3-w1.0:224:e3k3,e3k3/e3k3,e3k3,e3k3,e3k3/e3k3,e3k3,e3k3,e3k3/e3k3,e3k3,e3k3,e3k3/e3k3,e3k3,e3k3,e3k3" {
					t.Errorf("got %v %v", archs, top1)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseJSONLErrors(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	line := `{"arch": {"ks": [3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0], "e": [3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0], "d": [2,2,2,2,2], "r": 224}, "top1": 70.5}`
	for _, tc := range []struct{ name, in, want string }{
		{"ok", line + "\n" + strings.Replace(line, "70.5", "71.5", 1), ""},
		{"no top1", strings.Replace(line, `, "top1": 70.5`, "", 1), `no "top1"`},
		{"empty", "\n\n", "no records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := ParseJSONL(strings.NewReader(tc.in), "t.jsonl", sp)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if v, ok := tb.Lookup(sp.MinArch(224)); !ok || v != 71 {
					t.Errorf("repeated arch: %v %v, want the mean 71", v, ok)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPyLiteral(t *testing.T) {
	tests := []struct {
		in   string
		want string // JSON of the value; "" for an error
	}{
		{"{'wid': None, 'ks': [3, 5], 'r': [224]}", `{"ks":[3,5],"r":[224],"wid":null}`},
		{`{"a": (1, 2.5e1, -3), 'b': True, 'c': False, 'd': 'x\'y'}`, `{"a":[1,25,-3],"b":true,"c":false,"d":"x'y"}`},
		{"[]", `[]`},
		{"  7  ", `7`},
		{"{'a': [1, 2,]}", `{"a":[1,2]}`},
		{"{'a' 1}", ""},
		{"{1: 2}", ""},
		{"[1 2]", ""},
		{"'open", ""},
		{"{'a': 1} x", ""},
		{"nan", ""},
		{strings.Repeat("[", 100) + strings.Repeat("]", 100), ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := parsePyLiteral(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted: %v", v)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(v)
			if string(b) != tc.want {
				t.Errorf("got %s, want %s", b, tc.want)
			}
		})
	}
}

func TestProxy(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"ofa-mbv3", "ofa-mbv3-w1.0", "ofa-pn-w1.3", "ofa-resnet50"} {
		t.Run(name, func(t *testing.T) {
			sp := loadSpace(t, name)
			p := NewProxy(sp)
			lo, err := p.Top1(ctx, sp.MinArch(sp.Resolution))
			if err != nil {
				t.Fatal(err)
			}
			hi, err := p.Top1(ctx, sp.MaxArch(sp.Resolution))
			if err != nil {
				t.Fatal(err)
			}
			if !(hi.Top1 > lo.Top1) {
				t.Errorf("proxy of the largest arch %.3f ≤ smallest %.3f", hi.Top1, lo.Top1)
			}
			again, _ := p.Top1(ctx, sp.MinArch(sp.Resolution))
			if again != lo {
				t.Errorf("not deterministic: %+v then %+v", lo, again)
			}
			if lo.Provenance != Proxy || !lo.IsProxy() || lo.Field() != "proxy_score" || !strings.Contains(lo.Label, "proxy") {
				t.Errorf("labels %+v", lo)
			}
			b, _ := json.Marshal(lo)
			if !strings.Contains(string(b), `"proxy_score":`) || strings.Contains(string(b), "top1") || strings.Contains(string(b), "accuracy") {
				t.Errorf("JSON %s must name the value proxy_score, never top1 or accuracy", b)
			}
		})
	}
	// The formula, checked on one network by hand.
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	a := sp.MinArch(224)
	net, _ := sp.Network(a)
	want := 61.02 + 1.549*math.Log(float64(net.MACs())/1e6) + 2.329*math.Log(float64(net.Params())/1e6) + 0.1415*10
	if got := ProxyScore(net); math.Abs(got-want) > 1e-9 {
		t.Errorf("ProxyScore %v, want %v", got, want)
	}
	if _, err := NewProxy(sp).Top1(ctx, loadSpace(t, "ofa-pn-w1.3").MinArch(224)); err == nil {
		t.Error("proxy of an arch of another space succeeded")
	}
}

// On the fixture table the proxy ranks archs well (it is calibrated on the
// full training split; this checks the formula, not a fit to 40 archs).
func TestProxyRanksTable(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	archs, top1 := readTable(t, sp, "top1.jsonl").Archs()
	p := NewProxy(sp)
	score := make([]float64, len(archs))
	for i, a := range archs {
		v, err := p.Top1(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		score[i] = v.Top1
	}
	if rho := stats.Spearman(score, top1); rho < 0.9 {
		t.Errorf("proxy Spearman %.3f with top-1, want ≥ 0.9", rho)
	}
}

func TestPredictorSource(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	tb := readTable(t, sp, "top1.jsonl")
	p, err := NewPredictor(tb, sp, predict.Top1Options{Features: []string{predict.FeatSlotsCapacity}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	archs, top1 := tb.Archs()
	v, err := p.Top1(ctx, archs[0])
	if err != nil || v.Top1 != top1[0] || v.Provenance != Table {
		t.Errorf("arch in the table: %+v %v, want the table's %v", v, err, top1[0])
	}
	v, err = p.Top1(ctx, sp.MaxArch(224))
	if err != nil {
		t.Fatal(err)
	}
	if v.Provenance != Predicted || v.Label != PredictedLabel || !strings.Contains(v.Source, "top1.jsonl") || v.Field() != "top1" {
		t.Errorf("predicted value %+v", v)
	}
	if math.IsNaN(v.Top1) || v.Top1 < 50 || v.Top1 > 100 {
		t.Errorf("predicted top-1 %v is implausible", v.Top1)
	}
	if p.Model().Features() != predict.FeatSlotsCapacity || p.Table() != tb {
		t.Errorf("model %s", p.Model().Features())
	}
}

func TestOpen(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	tests := []struct {
		name string
		ref  model.AccuracyRef
		base string
		want string // type name, or error text
		err  bool
	}{
		{"empty is proxy", model.AccuracyRef{}, "", "*accuracy.ProxySource", false},
		{"proxy", model.AccuracyRef{Kind: "proxy"}, "", "*accuracy.ProxySource", false},
		{"table relative to base", model.AccuracyRef{Kind: "table", File: "top1.jsonl"}, "testdata", "*accuracy.Records", false},
		{"csv table", model.AccuracyRef{Kind: "table", File: "testdata/dynast.csv"}, ".", "*accuracy.Records", false},
		{"predictor", model.AccuracyRef{Kind: "predictor", File: "top1.jsonl", Model: predict.FeatSlots}, "testdata", "*accuracy.PredictorSource", false},
		{"command", model.AccuracyRef{Kind: "command", Command: []string{"true"}}, "", "*accuracy.CommandSource", false},
		{"table without file", model.AccuracyRef{Kind: "table"}, "", "needs file", true},
		{"missing file", model.AccuracyRef{Kind: "table", File: "nope.jsonl"}, "testdata", "nope.jsonl", true},
		{"predictor with bad model", model.AccuracyRef{Kind: "predictor", File: "top1.jsonl", Model: "gp"}, "testdata", `"gp"`, true},
		{"command without argv", model.AccuracyRef{Kind: "command"}, "", "needs command", true},
		{"unknown kind", model.AccuracyRef{Kind: "oracle"}, "", `kind "oracle"`, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, err := Open(tc.ref, sp, tc.base)
			if tc.err {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				if !strings.Contains(err.Error(), "space ofa-mbv3-w1.0") {
					t.Errorf("error %q does not name the space", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := typeName(src); got != tc.want {
				t.Errorf("source %s, want %s", got, tc.want)
			}
		})
	}
}

func typeName(v any) string {
	switch v.(type) {
	case *ProxySource:
		return "*accuracy.ProxySource"
	case *Records:
		return "*accuracy.Records"
	case *PredictorSource:
		return "*accuracy.PredictorSource"
	case *CommandSource:
		return "*accuracy.CommandSource"
	}
	return "?"
}

// TestTableScale: a table of fractions is converted to percent and says
// so; a table that mixes fractions and percentages is refused at the line
// of its rarer scale; values outside 0..100 are errors. Both layouts.
func TestTableScale(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	// Four distinct archs: the smallest with unit 1 at depth 2, 3, 4, and
	// the largest.
	o := sp.ToOFA(sp.MinArch(224))
	var archs []string
	for _, d := range []int{2, 3, 4} {
		o.D[0] = d
		for j := range d {
			o.KS[j], o.E[j] = 3, 3
		}
		b, _ := json.Marshal(o)
		archs = append(archs, string(b))
	}
	b, _ := json.Marshal(sp.ToOFA(sp.MaxArch(224)))
	archs = append(archs, string(b))
	jsonl := func(vals ...string) string {
		var sb strings.Builder
		for i, v := range vals {
			fmt.Fprintf(&sb, "{\"arch\": %s, \"top1\": %s}\n", archs[i], v)
		}
		return sb.String()
	}
	csv := func(vals ...string) string {
		var sb strings.Builder
		sb.WriteString("Sub-network,Top-1 Acc (%)\n")
		for i, v := range vals {
			var o model.OFA
			json.Unmarshal([]byte(archs[i]), &o)
			ks, _ := json.Marshal(o.KS)
			e, _ := json.Marshal(o.E)
			d, _ := json.Marshal(o.D)
			fmt.Fprintf(&sb, "\"{'ks': %s, 'e': %s, 'd': %s, 'r': [224]}\",%s\n", ks, e, d, v)
		}
		return sb.String()
	}
	tests := []struct {
		name string
		vals []string
		// want: the top-1 values read (percent), or the error's start
		// (line numbers are the JSONL's; the CSV's are one more).
		want    []float64
		err     string
		errLine int
		scaled  bool
	}{
		{"percent", []string{"75.5", "77.25", "0", "80"}, []float64{75.5, 77.25, 0, 80}, "", 0, false},
		{"fractions", []string{"0.755", "0.7725", "0", "1"}, []float64{75.5, 77.25, 0, 100}, "", 0, true},
		{"all zero", []string{"0", "0"}, []float64{0, 0}, "", 0, false},
		{"one fraction among percentages", []string{"75.5", "0.7725", "76", "77"}, nil, "top-1 0.7725 looks like a fraction (0..1), but line", 2, false},
		{"one percentage among fractions", []string{"0.755", "0.77", "76", "0.8"}, nil, "top-1 76 looks like a percentage, but line", 3, false},
		{"1 beside percentages", []string{"75", "1"}, nil, "the table mixes scales (values in 0..1: 1, above 1: 1)", 2, false},
		{"above 100", []string{"75", "100.5"}, nil, "100.5", 2, false},
		{"negative", []string{"-0.5"}, nil, "-0.5", 1, false},
	}
	for _, tc := range tests {
		for _, layout := range []string{"jsonl", "csv"} {
			t.Run(tc.name+"/"+layout, func(t *testing.T) {
				var tb *Records
				var err error
				line := tc.errLine
				if layout == "jsonl" {
					tb, err = ParseJSONL(strings.NewReader(jsonl(tc.vals...)), "t.jsonl", sp)
				} else {
					tb, err = ParseDynasCSV(strings.NewReader(csv(tc.vals...)), "t.csv", sp)
					line++
				}
				if tc.want == nil {
					prefix := fmt.Sprintf("t.%s:%d: ", layout, line)
					if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tc.err) {
						t.Fatalf("error %v, want %s… %q", err, prefix, tc.err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				_, got := tb.Archs()
				for i, w := range tc.want[:len(got)] {
					if math.Abs(got[i]-w) > 1e-9 {
						t.Errorf("top-1 %v, want %v", got, tc.want)
					}
				}
				note := tb.Note()
				if tc.scaled != (note != "") || tc.scaled && !strings.Contains(note, "converted to percent") {
					t.Errorf("note %q", note)
				}
				a, _ := tb.Archs()
				v, err := tb.Top1(context.Background(), a[0])
				if err != nil || tc.scaled != strings.HasSuffix(v.Source, FractionsSuffix) {
					t.Errorf("value %+v, %v", v, err)
				}
			})
		}
	}
}

// TestOpenFractionsTable: the shared top-1 table written as fractions gives
// the same percentages through a table and a predictor source, and both
// say how they read it.
func TestOpenFractionsTable(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	b, err := os.ReadFile("testdata/top1.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(l), &rec); err != nil {
			t.Fatal(err)
		}
		rec["top1"] = rec["top1"].(float64) / 100
		j, _ := json.Marshal(rec)
		out.Write(append(j, '\n'))
	}
	path := filepath.Join(t.TempDir(), "fractions.jsonl")
	if err := os.WriteFile(path, []byte(out.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	want := readTable(t, sp, "top1.jsonl")
	archs, top1 := want.Archs()
	for _, kind := range []string{KindTable, KindPredictor} {
		src, err := Open(model.AccuracyRef{Kind: kind, File: path}, sp, "")
		if err != nil {
			t.Fatal(err)
		}
		if n := NoteOf(src); !strings.Contains(n, "fractions.jsonl: every top-1 lies within 0..1") {
			t.Errorf("%s: note %q", kind, n)
		}
		v, err := src.Top1(context.Background(), archs[0])
		if err != nil || math.Abs(v.Top1-top1[0]) > 1e-9 || v.Source != "fractions.jsonl"+FractionsSuffix {
			t.Errorf("%s: %+v, %v; want top-1 %v", kind, v, err, top1[0])
		}
	}
	if n := NoteOf(want); n != "" {
		t.Errorf("a percent table has a note: %q", n)
	}
}
