// Package parse reads end-to-end latency out of the text that on-device
// benchmark tools print (trtexec, onnxruntime_perf_test, TFLite's
// benchmark_model, OpenVINO's benchmark_app, or any tool through a user
// regex). The command device runs such a tool on an exported network and
// hands its combined stdout and stderr to a Parser.
//
// Parsers never panic on any input and fail with errors that name the line
// they looked for and quote the end of the output.
package parse

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"blockprof/devices/safetext"
)

// Result is what one run of a benchmark tool reported.
type Result struct {
	// Tool is the parser that read the output (e.g. "trtexec", "regex").
	Tool string
	// Metric names the figure the latency was read from, e.g.
	// "GPU Compute Time" or "Inference (avg)".
	Metric string
	// SamplesMs holds one latency per timed run, in milliseconds, when the
	// tool printed them. When it printed only statistics (Summary is true),
	// it holds the figures it printed: min, median (mean when there is no
	// median), max, with min and max only when both were printed, so that
	// the median of SamplesMs is the tool's own median (or mean).
	SamplesMs []float64
	// Summary says SamplesMs holds summary figures, not individual runs.
	Summary bool
	// MedianMs, MeanMs, MinMs and MaxMs are the statistics as the tool
	// printed them, in milliseconds; 0 when it did not print one.
	MedianMs, MeanMs, MinMs, MaxMs float64
	// Warmup is the number of untimed runs the tool reported (0 if unknown).
	Warmup int
	// Runs is the number of timed runs the tool reported; with per-run
	// samples and no count from the tool, the number of samples; else 0.
	Runs int
	// Raw holds the lines the figures were read from (at most about 2 KiB),
	// to keep beside the measurement for debugging.
	Raw string
}

// Parser reads a Result from a benchmark tool's output.
type Parser interface {
	// Name is the name Lookup knows the parser by ("regex" for NewRegex).
	Name() string
	// Parse reads the tool's combined stdout and stderr.
	Parse(out []byte) (Result, error)
}

// ErrFormat is wrapped by every error about output a parser cannot read.
var ErrFormat = errors.New("unrecognised benchmark output")

// FormatError says what a parser looked for and did not find.
type FormatError struct {
	Tool string
	// Problem says what is wrong, e.g. "has no 'GPU Compute Time' line".
	Problem string
	// Excerpt quotes the last lines of the output.
	Excerpt string
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("%s output %s; output ends with: %s", e.Tool, e.Problem, e.Excerpt)
}

// Unwrap makes errors.Is(err, ErrFormat) true.
func (e *FormatError) Unwrap() error { return ErrFormat }

func formatErr(tool string, out []byte, format string, args ...any) error {
	return &FormatError{Tool: tool, Problem: fmt.Sprintf(format, args...), Excerpt: excerpt(out)}
}

// Names of the parsers Lookup knows, sorted.
func Names() []string {
	return []string{nameOVBench, nameTFLite, nameORTPerf, nameTrtexec}
}

const (
	nameTrtexec = "trtexec"
	nameORTPerf = "onnxruntime_perf_test"
	nameTFLite  = "benchmark_model"
	nameOVBench = "benchmark_app"
	nameRegex   = "regex"
)

// Lookup returns the parser of a named tool: trtexec, onnxruntime_perf_test,
// benchmark_model (TFLite) or benchmark_app (OpenVINO). For a user regex use
// NewRegex, or New with name "regex".
func Lookup(name string) (Parser, error) {
	switch name {
	case nameTrtexec:
		return Trtexec{}, nil
	case nameORTPerf:
		return ORTPerfTest{}, nil
	case nameTFLite:
		return BenchmarkModel{}, nil
	case nameOVBench:
		return BenchmarkApp{}, nil
	case nameRegex:
		return nil, fmt.Errorf("parser %q needs an expression: set regex (and unit) in the device's config", name)
	}
	return nil, fmt.Errorf("unknown parser %q: choose one of %s or regex", name, strings.Join(Names(), ", "))
}

// New returns the parser a command device's config names: a tool name for
// Lookup, or "regex" with expr and unit for NewRegex. expr and unit must be
// empty for tool parsers.
func New(name, expr, unit string) (Parser, error) {
	if name == nameRegex {
		p, err := NewRegex(expr, unit)
		if err != nil {
			return nil, err // not a nil *Regex in a non-nil Parser
		}
		return p, nil
	}
	p, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if expr != "" || unit != "" {
		return nil, fmt.Errorf("parser %q takes no regex or unit (they are only for parser \"regex\")", name)
	}
	return p, nil
}

// ---- shared helpers ----

// numRE matches a decimal number as tools print them, including C++'s
// scientific notation (2.95034e+06). It never matches inf or nan.
const numRE = `[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`

// unitScale converts a unit of time to milliseconds.
func unitScale(unit string) (float64, bool) {
	switch strings.ToLower(strings.TrimSpace(unit)) {
	case "ms", "msec", "millisecond", "milliseconds":
		return 1, true
	case "us", "µs", "μs", "usec", "microsecond", "microseconds":
		return 1e-3, true
	case "s", "sec", "second", "seconds":
		return 1e3, true
	case "ns", "nsec", "nanosecond", "nanoseconds":
		return 1e-6, true
	}
	return 0, false
}

// toMs parses a number printed in unit and returns it in milliseconds. It
// rejects values that are negative or not finite: no latency is.
func toMs(num, unit string) (float64, error) {
	scale, ok := unitScale(unit)
	if !ok {
		return 0, fmt.Errorf("unknown time unit %q", unit)
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("%q %s is out of range", num, unit)
	}
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", num)
	}
	v *= scale
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q %s is out of range", num, unit)
	}
	if v < 0 {
		return 0, fmt.Errorf("negative latency %q %s", num, unit)
	}
	return v, nil
}

// atoi parses a non-negative count; ok is false when it does not fit.
func atoi(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// lines splits output into lines without their line ends (\n, \r\n, and the
// \r\r\n that adb shell produces).
func lines(out []byte) []string {
	ls := strings.Split(string(out), "\n")
	for i, l := range ls {
		ls[i] = strings.TrimRight(l, "\r")
	}
	return ls
}

// logPrefixRE matches the bracketed prefixes tools put before a message:
// trtexec's "[10/31/2023-15:06:14] [I] ", OpenVINO's "[ INFO ] ".
var logPrefixRE = regexp.MustCompile(`^\s*(?:\[[^\]\n]{0,64}\]\s*)+`)

// stripPrefix removes log prefixes and surrounding blanks from a line.
func stripPrefix(l string) string {
	return strings.TrimSpace(logPrefixRE.ReplaceAllString(l, ""))
}

// excerpt quotes the last few non-blank lines of output for an error.
func excerpt(out []byte) string {
	const maxLines, maxBytes = 4, 320
	ls := lines(out)
	var keep []string
	for i := len(ls) - 1; i >= 0 && len(keep) < maxLines; i-- {
		if s := strings.TrimSpace(ls[i]); s != "" {
			keep = append(keep, s)
		}
	}
	if len(keep) == 0 {
		if len(out) == 0 {
			return "(nothing: the output is empty)"
		}
		return "(only blank lines)"
	}
	for i, j := 0, len(keep)-1; i < j; i, j = i+1, j-1 {
		keep[i], keep[j] = keep[j], keep[i]
	}
	s := strings.Join(keep, " | ")
	if len(s) > maxBytes {
		s = "…" + strings.ToValidUTF8(s[len(s)-maxBytes:], "")
	}
	return strconv.Quote(s)
}

// rawLines keeps the lines figures were read from, capped at about 2 KiB,
// escaped for a terminal (safetext.Line): they are the tool's own text.
type rawLines struct {
	b    strings.Builder
	full bool
}

func (r *rawLines) add(l string) {
	const limit = 2048
	if r.full {
		return
	}
	l = safetext.Line(l)
	if r.b.Len()+len(l)+1 > limit {
		r.b.WriteString("…\n")
		r.full = true
		return
	}
	r.b.WriteString(l)
	r.b.WriteByte('\n')
}

func (r *rawLines) String() string { return r.b.String() }

// stats are the summary figures of one metric; a negative value is absent.
type stats struct {
	min, max, mean, median float64
}

func noStats() stats { return stats{-1, -1, -1, -1} }

func (s stats) any() bool { return s.min >= 0 || s.max >= 0 || s.mean >= 0 || s.median >= 0 }

// fill copies the figures into r and, when samples is empty, makes the
// summary samples (min, median or mean, max). s must have a figure.
func (s stats) fill(r *Result) {
	pos := func(v float64) float64 { return math.Max(v, 0) }
	r.MinMs, r.MaxMs, r.MeanMs, r.MedianMs = pos(s.min), pos(s.max), pos(s.mean), pos(s.median)
	if len(r.SamplesMs) > 0 {
		return
	}
	r.Summary = true
	mid := s.median
	if mid < 0 {
		mid = s.mean
	}
	both := s.min >= 0 && s.max >= 0
	switch {
	case mid >= 0 && both:
		r.SamplesMs = []float64{s.min, mid, s.max}
	case mid >= 0:
		r.SamplesMs = []float64{mid}
	case both:
		r.SamplesMs = []float64{s.min, s.max}
	case s.min >= 0:
		r.SamplesMs = []float64{s.min}
	case s.max >= 0:
		r.SamplesMs = []float64{s.max}
	}
}

// finish fills Runs when the tool did not report it.
func finish(r Result) Result {
	if r.Runs == 0 && !r.Summary {
		r.Runs = len(r.SamplesMs)
	}
	return r
}
