package parse

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"blockprof/devices/safetext"
)

// want is what a parser must return for one output.
type want struct {
	err     string // a substring the error must contain; empty: no error
	metric  string // a substring of Result.Metric
	samples []float64
	summary bool
	median  float64
	mean    float64
	min     float64
	max     float64
	warmup  int
	runs    int
}

// parseCase is one row of a parser's table: a fixture file or inline text.
type parseCase struct {
	name string
	file string // under testdata/
	text string // used when file is empty
	want want
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (c parseCase) input(t testing.TB) []byte {
	if c.file != "" {
		return fixture(t, c.file)
	}
	return []byte(c.text)
}

func runCases(t *testing.T, p Parser, cases []parseCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := p.Parse(c.input(t))
			checkResult(t, p, got, err, c.want)
		})
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func checkResult(t *testing.T, p Parser, got Result, err error, w want) {
	t.Helper()
	if w.err != "" {
		if err == nil {
			t.Fatalf("want error containing %q, got result %+v", w.err, got)
		}
		if !strings.Contains(err.Error(), w.err) {
			t.Fatalf("error %q does not contain %q", err, w.err)
		}
		if !errors.Is(err, ErrFormat) {
			t.Errorf("error %q does not wrap ErrFormat", err)
		}
		if !strings.HasPrefix(err.Error(), p.Name()+" output ") {
			t.Errorf("error %q does not start with the tool name %q", err, p.Name())
		}
		if !strings.Contains(err.Error(), "output ends with: ") {
			t.Errorf("error %q quotes no excerpt", err)
		}
		if !safetext.Safe(err.Error()) {
			t.Errorf("error %q is not safe for a terminal", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got.Tool != p.Name() {
		t.Errorf("Tool = %q, want %q", got.Tool, p.Name())
	}
	if !strings.Contains(got.Metric, w.metric) {
		t.Errorf("Metric = %q, want it to contain %q", got.Metric, w.metric)
	}
	if len(got.SamplesMs) != len(w.samples) {
		t.Fatalf("SamplesMs = %v, want %v", got.SamplesMs, w.samples)
	}
	for i := range w.samples {
		if !near(got.SamplesMs[i], w.samples[i]) {
			t.Fatalf("SamplesMs = %v, want %v", got.SamplesMs, w.samples)
		}
	}
	if got.Summary != w.summary {
		t.Errorf("Summary = %v, want %v", got.Summary, w.summary)
	}
	for _, f := range []struct {
		name      string
		got, want float64
	}{
		{"MedianMs", got.MedianMs, w.median},
		{"MeanMs", got.MeanMs, w.mean},
		{"MinMs", got.MinMs, w.min},
		{"MaxMs", got.MaxMs, w.max},
	} {
		if !near(f.got, f.want) {
			t.Errorf("%s = %v, want %v", f.name, f.got, f.want)
		}
	}
	if got.Warmup != w.warmup {
		t.Errorf("Warmup = %d, want %d", got.Warmup, w.warmup)
	}
	if got.Runs != w.runs {
		t.Errorf("Runs = %d, want %d", got.Runs, w.runs)
	}
	if got.Raw == "" {
		t.Errorf("Raw is empty")
	}
	checkInvariants(t, got)
}

// checkInvariants holds for every Result a parser returns without error.
func checkInvariants(t *testing.T, r Result) {
	t.Helper()
	if r.Tool == "" || r.Metric == "" {
		t.Fatalf("result without Tool or Metric: %+v", r)
	}
	if len(r.SamplesMs) == 0 {
		t.Fatalf("result without samples: %+v", r)
	}
	for _, v := range append(append([]float64(nil), r.SamplesMs...), r.MedianMs, r.MeanMs, r.MinMs, r.MaxMs) {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("result holds a bad latency %v: %+v", v, r)
		}
	}
	if r.Warmup < 0 || r.Runs < 0 {
		t.Fatalf("negative counts: %+v", r)
	}
	if !safetext.Safe(r.Raw) {
		t.Fatalf("raw lines %q are not safe for a terminal", r.Raw)
	}
	if r.Summary {
		if len(r.SamplesMs) > 3 {
			t.Fatalf("summary with %d figures: %+v", len(r.SamplesMs), r)
		}
		mid := r.MedianMs
		if mid == 0 {
			mid = r.MeanMs
		}
		ordered := r.MinMs <= mid && mid <= r.MaxMs
		if mid > 0 && ordered && !near(median(r.SamplesMs), mid) {
			t.Fatalf("summary samples %v do not keep the median (or mean) %v", r.SamplesMs, mid)
		}
	} else if r.Runs == 0 {
		t.Fatalf("per-run samples but Runs is 0: %+v", r)
	}
	if len(r.Raw) > 2100 {
		t.Fatalf("Raw is %d bytes, want at most about 2 KiB", len(r.Raw))
	}
}

// median of xs; xs is not modified.
func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// garbageCases every parser must refuse with an error, not a panic.
func garbageCases() []parseCase {
	bin := make([]byte, 512)
	for i := range bin {
		bin[i] = byte(i * 7)
	}
	return []parseCase{
		{name: "empty", text: "", want: want{err: "the output is empty"}},
		{name: "blank lines", text: "\n\r\n  \n", want: want{err: "only blank lines"}},
		{name: "binary", text: string(bin), want: want{err: "output "}},
		{name: "shell error", text: "sh: 1: tool: not found\n", want: want{err: "tool: not found"}},
		{name: "other tool's output", text: string(mustRead("testdata/ort_perf_1.14.txt")) + string(mustRead("testdata/openvino_multi.txt")), want: want{err: "output "}},
	}
}

func mustRead(path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		panic(err)
	}
	return b
}

// fixtures lists testdata files by prefix, for fuzz seeds.
func fixtures(t testing.TB, prefix string) [][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", prefix+"*.txt"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no fixtures %s*.txt: %v", prefix, err)
	}
	var out [][]byte
	for _, n := range names {
		out = append(out, fixture(t, filepath.Base(n)))
	}
	return out
}
