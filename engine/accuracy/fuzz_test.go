package accuracy

import (
	"math"
	"os"
	"strings"
	"testing"
)

// FuzzParseDynasCSV: the DyNAS-T reader never panics, and every arch it
// accepts lies in the space with a top-1 in 0..100.
func FuzzParseDynasCSV(f *testing.F) {
	sp := loadSpace(f, "ofa-mbv3-w1.0")
	b, err := os.ReadFile("testdata/dynast.csv")
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	f.Add(lines[0] + lines[1])
	f.Add(lines[0] + lines[1] + lines[len(lines)-2])
	f.Add("Sub-network,Top-1 Acc (%)\n\"{'ks': [3], 'e': [3], 'd': [1]}\",70\n")
	f.Add("Sub-network,Top-1\n\"{'d': [2,2,2,2,2], 'ks': [], 'e': []}\",1e3\n")
	// Fractions, a mixed table, NaN and infinity (issue 13).
	for _, v := range [][2]string{{"0.75438", "0.77164"}, {"75.438", "0.77164"}, {"nan", "75"}, {"inf", "75"}, {"0", "1"}} {
		f.Add(lines[0] + fractionRow(lines[1], v[0]) + fractionRow(lines[2], v[1]))
	}
	f.Fuzz(func(t *testing.T, in string) {
		tb, err := ParseDynasCSV(strings.NewReader(in), "fuzz.csv", sp)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.csv") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		checkScale(t, tb)
		archs, top1 := tb.Archs()
		for i, a := range archs {
			if err := sp.Check(a); err != nil {
				t.Fatalf("accepted %s: %v", a, err)
			}
			if !(top1[i] >= 0 && top1[i] <= 100) {
				t.Fatalf("accepted top-1 %v", top1[i])
			}
			if v, ok := tb.Lookup(a); !ok || v != top1[i] {
				t.Fatalf("lookup of %s: %v %v", a, v, ok)
			}
		}
	})
}

// FuzzParseJSONL: the JSONL table reader never panics and accepts only
// archs of the space with a top-1 in 0..100.
func FuzzParseJSONL(f *testing.F) {
	sp := loadSpace(f, "ofa-mbv3-w1.0")
	b, err := os.ReadFile("testdata/top1.jsonl")
	if err != nil {
		f.Fatal(err)
	}
	lines := strings.SplitAfter(string(b), "\n")
	f.Add(lines[0])
	f.Add(lines[0] + lines[1] + lines[0])
	f.Add(`{"arch": {"ks": [], "e": [], "d": []}, "top1": 5}`)
	// Fractions, mixed scales, values past 100 (issue 13).
	for _, v := range [][2]string{{"0.75938", "0.77164"}, {"75.938", "0.77164"}, {"0.5", "100.5"}, {"0", "1"}, {"-0.1", "0.5"}} {
		f.Add(strings.Replace(lines[0], "75.938", v[0], 1) + strings.Replace(lines[1], "77.164", v[1], 1))
	}
	f.Fuzz(func(t *testing.T, in string) {
		tb, err := ParseJSONL(strings.NewReader(in), "fuzz.jsonl", sp)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.jsonl") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		checkScale(t, tb)
		archs, top1 := tb.Archs()
		for i, a := range archs {
			if err := sp.Check(a); err != nil {
				t.Fatalf("accepted %s: %v", a, err)
			}
			if !(top1[i] >= 0 && top1[i] <= 100) {
				t.Fatalf("accepted top-1 %v", top1[i])
			}
		}
	})
}

// FuzzParseEvaluatorOutput: never panics; what it accepts is a finite
// percentage.
func FuzzParseEvaluatorOutput(f *testing.F) {
	f.Add("{\"top1\": 77.4}")
	f.Add("log line\n{\"top1\": 77.4, \"top5\": 93}\n")
	f.Add("{\"top1\": -0}")
	f.Add("{\"top1\": \"x\"}")
	f.Fuzz(func(t *testing.T, out string) {
		v, err := ParseEvaluatorOutput([]byte(out))
		if err != nil {
			return
		}
		if math.IsNaN(v) || v < 0 || v > 100 {
			t.Fatalf("accepted %v", v)
		}
	})
}

// FuzzPyLiteral: the Python literal parser never panics or loops.
func FuzzPyLiteral(f *testing.F) {
	f.Add("{'wid': None, 'ks': [3, 5], 'r': [224]}")
	f.Add("((((1,),),),)")
	f.Add("{'a': 'b\\'c'}")
	f.Fuzz(func(t *testing.T, in string) {
		_, _ = parsePyLiteral(in)
	})
}

// fractionRow replaces the top-1 (the last field) of a DyNAS-T CSV row.
func fractionRow(row, v string) string {
	i := strings.LastIndexByte(strings.TrimRight(row, "\n"), ',')
	return row[:i+1] + v + "\n"
}

// checkScale: a table read as fractions says so and holds only values in
// 0..100 after the conversion. (Mixed tables are refused: TestTableScale;
// a fuzzed table may average an arch's 0 and 1.5 to 0.75, so the means
// cannot show the mix.)
func checkScale(t *testing.T, tb *Records) {
	t.Helper()
	_, top1 := tb.Archs()
	if tb.Note() == "" {
		return
	}
	if !strings.Contains(tb.Note(), "converted to percent") {
		t.Fatalf("note %q", tb.Note())
	}
	for _, v := range top1 {
		if !(v >= 0 && v <= 100) {
			t.Fatalf("converted table holds %v", v)
		}
	}
}
