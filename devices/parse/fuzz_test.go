package parse

import (
	"errors"
	"strings"
	"testing"

	"blockprof/devices/safetext"
)

// fuzzParser feeds a parser arbitrary output seeded with its fixtures: it
// must never panic, every error must be a FormatError naming the tool, and
// every result must hold sane samples.
func fuzzParser(f *testing.F, p Parser, prefix string) {
	for _, b := range fixtures(f, prefix) {
		f.Add(b)
		f.Add(b[:len(b)/2]) // cut short
	}
	for _, c := range garbageCases() {
		f.Add([]byte(c.text))
	}
	for _, b := range fixtures(f, prefix) {
		f.Add(hostile(b))
	}
	f.Fuzz(func(t *testing.T, out []byte) {
		r, err := p.Parse(out)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not a FormatError", err)
			}
			if fe.Tool != p.Name() || !strings.HasPrefix(err.Error(), p.Name()+" output ") {
				t.Fatalf("error %q does not name the tool %q", err, p.Name())
			}
			if !safetext.Safe(err.Error()) {
				t.Fatalf("error %q is not safe for a terminal", err)
			}
			return
		}
		checkInvariants(t, r)
	})
}

func FuzzParseTrtexec(f *testing.F)        { fuzzParser(f, Trtexec{}, "trtexec") }
func FuzzParseTrtexecLatency(f *testing.F) { fuzzParser(f, Trtexec{HostLatency: true}, "trtexec") }
func FuzzParseORTPerfTest(f *testing.F)    { fuzzParser(f, ORTPerfTest{}, "ort_perf") }
func FuzzParseBenchmarkModel(f *testing.F) { fuzzParser(f, BenchmarkModel{}, "tflite") }
func FuzzParseBenchmarkApp(f *testing.F)   { fuzzParser(f, BenchmarkApp{}, "openvino") }

// FuzzParseRegex fuzzes the user expression and the output together.
func FuzzParseRegex(f *testing.F) {
	exprs := []string{
		`GPU latency: (\S+) ms`,
		`(?P<latency>` + numRE + `)\s*ms`,
		`count=(\d+)`,
		`^\s*Median:\s*(\S+)`,
		`(\d*)`,
		`a(\d+)|b`,
	}
	for i, b := range fixtures(f, "") {
		f.Add(exprs[i%len(exprs)], "ms", b)
	}
	f.Add(`t=(\S+)`, "us", []byte("t=1 t=2 t=inf t=-1"))
	f.Add(`t=(\S+)`, "s", []byte("t=1e308 t=0x1p-2"))
	f.Fuzz(func(t *testing.T, expr, unit string, out []byte) {
		p, err := NewRegex(expr, unit)
		if err != nil {
			return
		}
		r, err := p.Parse(out)
		if err != nil {
			if !errors.Is(err, ErrFormat) || !strings.HasPrefix(err.Error(), "regex output ") {
				t.Fatalf("error %q is not a regex FormatError", err)
			}
			return
		}
		checkInvariants(t, r)
		if r.Summary || r.Runs != len(r.SamplesMs) {
			t.Fatalf("regex result is not per-run: Summary %v, Runs %d, %d samples", r.Summary, r.Runs, len(r.SamplesMs))
		}
	})
}

// hostile puts terminal escapes (a title, a clear screen, the C1 CSI, NUL,
// an invalid byte) at the start and end of every line of a tool's output.
func hostile(out []byte) []byte {
	ls := strings.Split(string(out), "\n")
	for i, l := range ls {
		ls[i] = "\x1b]0;pwned\x07" + l + "\x1b[2J\u009b31m\x00\x9b"
	}
	return []byte(strings.Join(ls, "\n"))
}

// TestHostileOutputs: a tool whose every line carries terminal escapes
// gives errors and raw lines that are safe to print, whichever parser
// reads it (each parser's own fixtures, made hostile).
func TestHostileOutputs(t *testing.T) {
	parsers := map[string]Parser{"trtexec": Trtexec{}, "ort_perf": ORTPerfTest{}, "tflite": BenchmarkModel{}, "openvino": BenchmarkApp{}}
	n := 0
	for prefix, p := range parsers {
		for _, b := range fixtures(t, prefix) {
			r, err := p.Parse(hostile(b))
			if err != nil {
				if !safetext.Safe(err.Error()) {
					t.Errorf("%s: error %q is not safe", p.Name(), err)
				}
				continue
			}
			n++
			if !safetext.Safe(r.Raw) || !safetext.Safe(r.Metric) {
				t.Errorf("%s: raw %q metric %q not safe", p.Name(), r.Raw, r.Metric)
			}
		}
	}
	if n == 0 {
		t.Error("no hostile output parsed: the test checks no raw lines")
	}
}
