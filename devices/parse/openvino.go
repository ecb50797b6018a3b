package parse

import (
	"regexp"
	"strings"
)

// BenchmarkApp parses the output of OpenVINO's benchmark_app (the C++ sample
// and the Python tool print the same report).
//
// Step 11 "Dumping statistics report" prints "Count: N iterations",
// "Duration: X ms", then a "Latency:" heading followed by "Median: X ms"
// (or "90 percentile: X ms" with -latency_percentile 90), "Average:", "Min:",
// "Max:" lines, all behind "[ INFO ]" and indented with spaces or, in older
// releases, a tab. Recent C++ builds switch to "us" for sub-millisecond
// averages. With -pcseq further per-shape blocks follow "Latency for each
// data shape group:"; only the first, overall block is read. Releases before
// 2022 printed a single "Latency: X ms" line, the median. Before timing, the
// tool runs one inference it excludes ("First inference took X ms") unless
// given -no_warmup. It prints no per-run times, so results are summaries.
type BenchmarkApp struct{}

// Name implements Parser.
func (BenchmarkApp) Name() string { return nameOVBench }

var (
	ovCountRE  = regexp.MustCompile(`^Count:\s*(\d+)\s*iterations`)
	ovFirstRE  = regexp.MustCompile(`^First inference took\s`)
	ovHeadRE   = regexp.MustCompile(`^Latency:\s*$`)
	ovSingleRE = regexp.MustCompile(`^Latency:\s*(` + numRE + `)\s*(ms|us|µs)\s*$`)
	ovStatRE   = regexp.MustCompile(`^(Median|Average|AVG|Min|MIN|Max|MAX|\d+ percentile)\s*:\s*(` + numRE + `)\s*(ms|us|µs)\s*$`)
	ovShapeRE  = regexp.MustCompile(`^Data shape:`)
)

// Parse implements Parser.
func (BenchmarkApp) Parse(out []byte) (Result, error) {
	r := Result{Tool: nameOVBench}
	var raw rawLines
	s := noStats()
	state := 0 // 0: before the latency block, 1: in it, 2: after it
	for _, line := range lines(out) {
		l := stripPrefix(line)
		if m := ovCountRE.FindStringSubmatch(l); m != nil {
			if n, ok := atoi(m[1]); ok {
				r.Runs = n
			}
			continue
		}
		if ovFirstRE.MatchString(l) {
			r.Warmup = 1
			continue
		}
		switch state {
		case 0:
			if ovHeadRE.MatchString(l) {
				state = 1
				raw.add(l)
				continue
			}
			if m := ovSingleRE.FindStringSubmatch(l); m != nil {
				v, err := toMs(m[1], m[2])
				if err != nil {
					return Result{}, formatErr(nameOVBench, out, "has a bad latency line %q: %v", l, err)
				}
				s.median = v
				raw.add(l)
				state = 2
			}
		case 1:
			if ovShapeRE.MatchString(l) {
				continue
			}
			m := ovStatRE.FindStringSubmatch(l)
			if m == nil {
				state = 2
				continue
			}
			v, err := toMs(m[2], m[3])
			if err != nil {
				return Result{}, formatErr(nameOVBench, out, "has a bad latency line %q: %v", l, err)
			}
			if !strings.HasSuffix(m[1], "percentile") { // a non-median percentile is not kept
				s.set(m[1], v)
			}
			raw.add(l)
		}
	}
	if !s.any() {
		if state == 1 || state == 2 {
			return Result{}, formatErr(nameOVBench, out,
				"has a 'Latency:' heading but no 'Median:', 'Average:', 'Min:' or 'Max:' line under it: was it cut short?")
		}
		return Result{}, formatErr(nameOVBench, out,
			"has no 'Latency:' block: did the run reach step 11 (statistics report)? MULTI devices report no latency; use one device")
	}
	r.Metric = "Latency"
	s.fill(&r)
	r.Raw = raw.String()
	return finish(r), nil
}
