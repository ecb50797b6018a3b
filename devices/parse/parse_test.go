package parse

import (
	"sort"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	if !sort.StringsAreSorted(Names()) {
		t.Errorf("Names() = %v, not sorted", Names())
	}
	for _, name := range Names() {
		p, err := Lookup(name)
		if err != nil {
			t.Fatalf("Lookup(%q): %v", name, err)
		}
		if p.Name() != name {
			t.Errorf("Lookup(%q).Name() = %q", name, p.Name())
		}
	}
	for _, c := range []struct{ name, err string }{
		{"regex", "needs an expression"},
		{"tensorrt", `unknown parser "tensorrt": choose one of benchmark_app, benchmark_model, onnxruntime_perf_test, trtexec or regex`},
		{"", "unknown parser"},
	} {
		if _, err := Lookup(c.name); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("Lookup(%q) error = %v, want it to contain %q", c.name, err, c.err)
		}
	}
}

func TestNew(t *testing.T) {
	cases := []struct {
		name, parser, expr, unit string
		err                      string // empty: no error
		want                     string // Name() of the parser
	}{
		{name: "tool", parser: "trtexec", want: "trtexec"},
		{name: "regex", parser: "regex", expr: `t=(\d+)`, unit: "us", want: "regex"},
		{name: "regex without unit", parser: "regex", expr: `t=(\d+)`, want: "regex"},
		{name: "regex without expression", parser: "regex", err: "needs an expression"},
		{name: "tool with a regex", parser: "benchmark_app", expr: `(\d+)`, err: "takes no regex or unit"},
		{name: "tool with a unit", parser: "benchmark_app", unit: "ms", err: "takes no regex or unit"},
		{name: "unknown", parser: "perf", err: "unknown parser"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := New(c.parser, c.expr, c.unit)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error = %v, want it to contain %q", err, c.err)
				}
				if p != nil {
					t.Fatalf("a failed New returned a non-nil parser %#v", p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.Name() != c.want {
				t.Errorf("Name() = %q, want %q", p.Name(), c.want)
			}
		})
	}
}

func TestNewRegexErrors(t *testing.T) {
	for _, c := range []struct{ expr, unit, err string }{
		{"", "ms", "needs an expression"},
		{"   ", "ms", "needs an expression"},
		{`time: \d+ ms`, "ms", "has no capturing group"},
		{`time: (\d+`, "ms", "bad expression"},
		{`time: (\d+)`, "min", `unit "min" is not ms, us or s`},
		{`time: (\d+)`, "ns", `unit "ns" is not ms, us or s`},
	} {
		if _, err := NewRegex(c.expr, c.unit); err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("NewRegex(%q, %q) error = %v, want it to contain %q", c.expr, c.unit, err, c.err)
		}
	}
}

func TestRegex(t *testing.T) {
	const out = "warm-up: 9.5 ms\nrun 1: 1.25 ms\nrun 2: 1.5 ms\nrun 3: 1.0 ms\nmean: 1.25 ms\n"
	cases := []struct {
		name, expr, unit, out string
		want                  want
	}{
		{name: "first group", expr: `^run \d+: (\S+) ms$`, unit: "ms", out: out, want: want{
			samples: []float64{1.25, 1.5, 1.0}, runs: 3, metric: "regex",
		}},
		{name: "named group wins over the first", expr: `^(run) \d+: (?P<latency>\S+) ms$`, unit: "ms", out: out, want: want{
			samples: []float64{1.25, 1.5, 1.0}, runs: 3, metric: "regex",
		}},
		{name: "microseconds", expr: `t=(\d+)us`, unit: "us", out: "t=1500us t=2500us\r\nt=500us", want: want{
			samples: []float64{1.5, 2.5, 0.5}, runs: 3, metric: "regex",
		}},
		{name: "seconds, default ms when empty unit is given", expr: `took (\S+)s`, unit: "s", out: "took 0.012s\n", want: want{
			samples: []float64{12}, runs: 1, metric: "regex",
		}},
		{name: "no match", expr: `^lat (\d+)$`, unit: "ms", out: out, want: want{err: `has no match for regex "^lat (\\d+)$"`}},
		{name: "group not a number", expr: `^run \d+: (\S+)`, unit: "ms", out: "run 1: fast\n", want: want{err: `"fast" is not a number`}},
		{name: "empty group", expr: `x(\d*)`, unit: "ms", out: "x\n", want: want{err: `"" is not a number`}},
		{name: "group that did not take part", expr: `a(\d+)|b`, unit: "ms", out: "b\n", want: want{err: "captured nothing"}},
		{name: "infinity", expr: `t=(\S+)`, unit: "ms", out: "t=inf\n", want: want{err: "out of range"}},
		{name: "negative", expr: `t=(\S+)`, unit: "ms", out: "t=-3\n", want: want{err: "negative latency"}},
		{name: "empty output", expr: `t=(\S+)`, unit: "ms", out: "", want: want{err: "the output is empty"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := NewRegex(c.expr, c.unit)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Parse([]byte(c.out))
			checkResult(t, p, got, err, c.want)
		})
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("x", 1000)
	cases := []struct{ name, out, want string }{
		{"empty", "", "(nothing: the output is empty)"},
		{"blank", " \n\t\n", "(only blank lines)"},
		{"last four lines", "a\nb\n\nc\nd\ne\n\n", `"b | c | d | e"`},
		{"control characters are quoted", "bad\x00line\x1b[31m", `"bad\x00line\x1b[31m"`},
	}
	for _, c := range cases {
		if got := excerpt([]byte(c.out)); got != c.want {
			t.Errorf("%s: excerpt = %s, want %s", c.name, got, c.want)
		}
	}
	if got := excerpt([]byte(long + "\nend")); len(got) > 340 || !strings.HasSuffix(got, `x | end"`) || !strings.HasPrefix(got, `"…`) {
		t.Errorf("long excerpt is not cut to its end: %d bytes, %s…", len(got), got[:20])
	}
}

func TestStripPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"[03/14/2024-10:21:44] [I] GPU Compute Time: min": "GPU Compute Time: min",
		"[ INFO ]    Median:        5.21 ms":              "Median:        5.21 ms",
		"[ INFO ] \tAverage:    14.78 ms":                 "Average:    14.78 ms",
		"[Step 11/11] Dumping statistics report":          "Dumping statistics report",
		"Latency:    52.91 ms":                            "Latency:    52.91 ms",
		"count=5 [not a prefix]":                          "count=5 [not a prefix]",
	} {
		if got := stripPrefix(in); got != want {
			t.Errorf("stripPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRawIsCapped(t *testing.T) {
	var b strings.Builder
	for range 500 {
		b.WriteString("Average on 1 runs - GPU latency: 1.5 ms - Host latency: 2 ms\n")
	}
	b.WriteString("GPU Compute Time: min = 1.5 ms, max = 1.5 ms, mean = 1.5 ms, median = 1.5 ms\n")
	r, err := Trtexec{}.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.SamplesMs) != 500 || r.Runs != 500 || r.Summary {
		t.Fatalf("got %d samples, Runs %d, Summary %v; want 500 per-run samples", len(r.SamplesMs), r.Runs, r.Summary)
	}
	r2, err := mustRegex(t, `GPU latency: (\S+) ms`).Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(r2.Raw) > 2100 || !strings.HasSuffix(r2.Raw, "…\n") {
		t.Errorf("Raw of 500 matches is %d bytes, ends %q; want it capped with …", len(r2.Raw), r2.Raw[len(r2.Raw)-10:])
	}
}

func mustRegex(t testing.TB, expr string) *Regex {
	t.Helper()
	p, err := NewRegex(expr, "ms")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
