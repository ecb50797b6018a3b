package parse

import "regexp"

// ORTPerfTest parses the output of ONNX Runtime's onnxruntime_perf_test.
//
// The tool prints no per-run times on stdout (they go to its optional result
// file), only statistics: "Average inference time cost: X ms" (named
// "Average inference time cost total" in recent releases, and "Average time
// cost:X ms" with "Total iterations:N" in the earliest ones), "Total
// inference requests: N", and with -s (on by default in recent releases)
// "Min Latency: X s", "Max Latency", "P50 Latency", "P90 Latency" ...
// in seconds. P50 is the tool's sorted_times[n/2], reported as the median.
// The tool runs one untimed inference first ("First inference time cost").
type ORTPerfTest struct{}

// Name implements Parser.
func (ORTPerfTest) Name() string { return nameORTPerf }

var (
	ortAvgRE   = regexp.MustCompile(`^Average (?:inference )?time cost(?: total)?\s*:\s*(` + numRE + `)\s*(ms|us|s)\b`)
	ortRunsRE  = regexp.MustCompile(`^(?:Total inference requests|Total iterations|Runs)\s*:\s*(\d+)\s*$`)
	ortStatRE  = regexp.MustCompile(`^(Min|Max|P50) Latency\s*:\s*(` + numRE + `)\s*(ms|us|s)\b`)
	ortFirstRE = regexp.MustCompile(`^First inference time cost\s*:`)
)

// Parse implements Parser.
func (ORTPerfTest) Parse(out []byte) (Result, error) {
	r := Result{Tool: nameORTPerf}
	var raw rawLines
	s := noStats()
	for _, line := range lines(out) {
		l := stripPrefix(line)
		if m := ortAvgRE.FindStringSubmatch(l); m != nil {
			v, err := toMs(m[1], m[2])
			if err != nil {
				return Result{}, formatErr(nameORTPerf, out, "has a bad average line %q: %v", l, err)
			}
			s.mean = v
			raw.add(l)
			continue
		}
		if m := ortStatRE.FindStringSubmatch(l); m != nil {
			v, err := toMs(m[2], m[3])
			if err != nil {
				return Result{}, formatErr(nameORTPerf, out, "has a bad latency line %q: %v", l, err)
			}
			switch m[1] {
			case "Min":
				s.min = v
			case "Max":
				s.max = v
			case "P50":
				s.median = v
			}
			raw.add(l)
			continue
		}
		if m := ortRunsRE.FindStringSubmatch(l); m != nil {
			if n, ok := atoi(m[1]); ok {
				r.Runs = n
			}
			continue
		}
		if ortFirstRE.MatchString(l) {
			r.Warmup = 1
		}
	}
	if !s.any() {
		return Result{}, formatErr(nameORTPerf, out,
			"has no 'Average inference time cost' line nor 'P50 Latency' line: did the run finish?")
	}
	r.Metric = "Average inference time cost"
	if s.median >= 0 {
		r.Metric = "P50 Latency"
	}
	s.fill(&r)
	r.Raw = raw.String()
	return finish(r), nil
}
