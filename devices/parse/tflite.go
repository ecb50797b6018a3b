package parse

import (
	"regexp"
	"strings"
)

// BenchmarkModel parses the output of TensorFlow Lite's benchmark_model.
//
// The tool runs a warm-up phase and then the timed phase, each announced by
// "Running benchmark for at least N iterations ..." and summarised by a
// statistics line in microseconds: "count=50 first=... curr=... min=...
// max=... avg=... std=..." (recent releases add "p5=... median=... p95=...";
// a phase whose runs all took the same time prints "count=N curr=X(all
// same)"). It ends with "Inference timings in us: Init: ..., First inference:
// ..., Warmup (avg): ..., Inference (avg): ...". Lines may carry an "INFO: "
// or logcat prefix, and C++ may print large values as 2.95034e+06. The tool
// prints no per-run times, so results are summaries; Runs and Warmup are the
// two phases' counts.
type BenchmarkModel struct{}

// Name implements Parser.
func (BenchmarkModel) Name() string { return nameTFLite }

var (
	tflPhaseRE   = regexp.MustCompile(`Running benchmark for (?:at least )?\d+ iterations`)
	tflCountRE   = regexp.MustCompile(`\bcount=(\d+)`)
	tflStatRE    = regexp.MustCompile(`\b(first|curr|min|max|avg|std|p5|median|p95)=(` + numRE + `)`)
	tflTimingsRE = regexp.MustCompile(`Inference timings in us:.*\bInference \(avg\):\s*(` + numRE + `)`)
)

// tflStat is one phase's statistics line.
type tflStat struct {
	phase int // ordinal of the "Running benchmark" line before it (0: none)
	count int
	s     stats
	line  string
}

// Parse implements Parser.
func (BenchmarkModel) Parse(out []byte) (Result, error) {
	r := Result{Tool: nameTFLite}
	var all []tflStat
	phase := 0
	inferAvg := -1.0
	timingsLine := ""
	for _, line := range lines(out) {
		l := strings.TrimSpace(line)
		if tflPhaseRE.MatchString(l) {
			phase++
			continue
		}
		if m := tflTimingsRE.FindStringSubmatch(l); m != nil {
			v, err := toMs(m[1], "us")
			if err != nil {
				return Result{}, formatErr(nameTFLite, out, "has a bad timings line %q: %v", l, err)
			}
			inferAvg, timingsLine = v, l
			continue
		}
		c := tflCountRE.FindStringSubmatch(l)
		if c == nil || !strings.Contains(l, "curr=") {
			continue
		}
		n, ok := atoi(c[1])
		if !ok || n == 0 {
			continue
		}
		st := tflStat{phase: phase, count: n, s: noStats(), line: l}
		curr := -1.0
		for _, kv := range tflStatRE.FindAllStringSubmatch(l, -1) {
			v, err := toMs(kv[2], "us")
			if err != nil {
				return Result{}, formatErr(nameTFLite, out, "has a bad statistics line %q: %v", l, err)
			}
			if kv[1] == "curr" {
				curr = v
			}
			st.s.set(kv[1], v)
		}
		if !st.s.any() {
			if curr < 0 {
				continue // "count=N curr=" with no figure: not a statistics line
			}
			// "count=N curr=X(all same)": every run took X.
			st.s = stats{min: curr, max: curr, mean: curr, median: curr}
		}
		all = append(all, st)
	}

	measured, warm := tflPhases(all, phase)
	if warm != nil {
		r.Warmup = warm.count
	}
	var raw rawLines
	switch {
	case measured != nil:
		r.Metric = "timed-phase statistics (count=...)"
		r.Runs = measured.count
		raw.add(measured.line)
		if timingsLine != "" {
			raw.add(timingsLine)
		}
		measured.s.fill(&r)
	case inferAvg >= 0:
		r.Metric = "Inference (avg)"
		raw.add(timingsLine)
		stats{min: -1, max: -1, median: -1, mean: inferAvg}.fill(&r)
	case warm != nil:
		return Result{}, formatErr(nameTFLite, out,
			"has only the warm-up statistics line (count=%d), no timed one and no 'Inference timings in us' line: was the run cut short?", warm.count)
	default:
		return Result{}, formatErr(nameTFLite, out,
			"has no 'Inference timings in us' line nor 'count=... avg=...' statistics line: did the benchmark run?")
	}
	r.Raw = raw.String()
	return finish(r), nil
}

// tflPhases picks the timed phase's and the warm-up's statistics lines. With
// "Running benchmark" announcements, odd ones start warm-ups and even ones
// timed phases (the last pair wins); without them, the last line is the timed
// phase and the one before it the warm-up.
func tflPhases(all []tflStat, phases int) (measured, warm *tflStat) {
	if phases == 0 {
		switch len(all) {
		case 0:
			return nil, nil
		case 1:
			return &all[0], nil
		}
		return &all[len(all)-1], &all[len(all)-2]
	}
	for i := range all {
		switch {
		case all[i].phase == 0:
		case all[i].phase%2 == 1:
			warm = &all[i]
		default:
			measured = &all[i]
		}
	}
	if measured != nil && warm != nil && warm.phase > measured.phase {
		// The last timed phase has not been reached: a cut-short repeat.
		warm = nil
		for i := range all {
			if all[i].phase == measured.phase-1 {
				warm = &all[i]
			}
		}
	}
	return measured, warm
}
