package parse

import (
	"regexp"
	"strings"
)

// Trtexec parses the output of TensorRT's trtexec.
//
// Which figure: NVIDIA's documentation of trtexec's performance metrics
// defines "GPU Compute Time" as the GPU latency of executing the network's
// CUDA kernels, and "Latency" (Host Latency) as H2D Latency + GPU Compute
// Time + D2H Latency, i.e. including the copies of the input and output
// tensors. The copies depend only on tensor sizes, which are the same for
// every network of a space at one resolution, and are zero with
// --noDataTransfers; what differs between blocks and networks is the compute.
// So the parser reads GPU Compute Time by default, which is also what a
// CUDA-event timed forward pass measures; set HostLatency to read Latency.
//
// Versions: TensorRT 8 and later print one line per metric in the
// "=== Performance summary ===" (e.g. "GPU Compute Time: min = 0.61 ms,
// max = ..., mean = ..., median = ..., percentile(99%) = ..."); TensorRT 7
// prints a "GPU Compute" / "Host Latency" heading followed by "min: X ms",
// "max:", "mean:", "median:" lines. With --avgRuns=1 the "Average on 1 runs -
// GPU latency: X ms - Host latency: Y ms" trace lines are single runs and are
// kept as per-run samples; with larger --avgRuns they are averages and are
// not used.
type Trtexec struct {
	// HostLatency reads "Latency" (H2D + compute + D2H) instead of
	// "GPU Compute Time".
	HostLatency bool
}

// Name implements Parser.
func (Trtexec) Name() string { return nameTrtexec }

var (
	trtSummaryRE = regexp.MustCompile(`^(Latency|GPU Compute Time):\s*(.*\bmin\s*=.*)$`)
	trtPairRE    = regexp.MustCompile(`\b(min|max|mean|median)\s*=\s*(` + numRE + `)\s*(ms|us|s)\b`)
	trtHeadRE    = regexp.MustCompile(`^(Host Latency|GPU Compute|GPU Compute Time|Enqueue Time|H2D Latency|D2H Latency)$`)
	trtOldStatRE = regexp.MustCompile(`^(min|max|mean|median):\s*(` + numRE + `)\s*(ms|us|s)\b`)
	trtOldKeyRE  = regexp.MustCompile(`^(?:min|max|mean|median|percentile|throughput|walltime|total compute time)\s*:`)
	trtTraceRE   = regexp.MustCompile(`Average on\s+(\d+)\s+runs\s*-\s*GPU latency:\s*(` + numRE + `)\s*(ms)\s*-\s*Host latency:\s*(` + numRE + `)\s*(ms)`)
	trtWarmupRE  = regexp.MustCompile(`Warmup completed\s+(\d+)\s+queries`)
	trtRunsRE    = regexp.MustCompile(`Timing trace has\s+(\d+)\s+queries`)
)

// Parse implements Parser.
func (p Trtexec) Parse(out []byte) (Result, error) {
	metric, oldHead, traceGroup := "GPU Compute Time", "GPU Compute", 2
	if p.HostLatency {
		metric, oldHead, traceGroup = "Latency", "Host Latency", 4
	}
	r := Result{Tool: nameTrtexec, Metric: metric}
	var raw rawLines
	summary := noStats()
	var samples []float64
	avgRuns := 0 // the --avgRuns the trace lines show; 0 when none
	failed := ""
	block := "" // TensorRT 7 statistics block being read
	var old stats
	wanted := func(head string) bool {
		return head == oldHead || (head == "GPU Compute Time" && !p.HostLatency)
	}

	for _, line := range lines(out) {
		l := stripPrefix(line)
		if strings.Contains(l, "&&&& FAILED") {
			failed = l
		}
		if m := trtWarmupRE.FindStringSubmatch(l); m != nil {
			if n, ok := atoi(m[1]); ok {
				r.Warmup = n
			}
		}
		if m := trtRunsRE.FindStringSubmatch(l); m != nil {
			if n, ok := atoi(m[1]); ok {
				r.Runs = n
			}
		}
		if m := trtTraceRE.FindStringSubmatch(l); m != nil {
			n, ok := atoi(m[1])
			if !ok || n == 0 {
				continue
			}
			if avgRuns == 0 || n > avgRuns {
				avgRuns = n
			}
			v, err := toMs(m[traceGroup], m[traceGroup+1])
			if err != nil {
				return Result{}, formatErr(nameTrtexec, out, "has a bad trace line %q: %v", l, err)
			}
			if n == 1 {
				samples = append(samples, v)
			}
			continue
		}
		// TensorRT 8+: one summary line per metric.
		if m := trtSummaryRE.FindStringSubmatch(l); m != nil {
			block = ""
			if m[1] != metric {
				continue
			}
			s := noStats()
			for _, kv := range trtPairRE.FindAllStringSubmatch(m[2], -1) {
				v, err := toMs(kv[2], kv[3])
				if err != nil {
					return Result{}, formatErr(nameTrtexec, out, "has a bad %q line: %v", metric, err)
				}
				s.set(kv[1], v)
			}
			if s.any() {
				summary = s
				raw.add(l)
			}
			continue
		}
		// TensorRT 7: a heading, then "min: X ms" lines.
		if m := trtHeadRE.FindStringSubmatch(l); m != nil {
			block = m[1]
			if wanted(block) {
				old = noStats()
				raw.add(l)
			}
			continue
		}
		if block == "" {
			continue
		}
		if !trtOldKeyRE.MatchString(l) {
			block = ""
			continue
		}
		if !wanted(block) {
			continue
		}
		if m := trtOldStatRE.FindStringSubmatch(l); m != nil {
			v, err := toMs(m[2], m[3])
			if err != nil {
				return Result{}, formatErr(nameTrtexec, out, "has a bad %q line %q: %v", oldHead, l, err)
			}
			old.set(m[1], v)
			raw.add(l)
			if old.any() {
				summary = old
			}
		}
	}

	if failed != "" {
		return Result{}, formatErr(nameTrtexec, out, "reports failure (%q)", failed)
	}
	if len(samples) == 0 && !summary.any() {
		if avgRuns > 1 {
			return Result{}, formatErr(nameTrtexec, out,
				"has no %q line, only trace lines averaged over %d runs (was it cut short? run with --avgRuns=1 for per-run samples)",
				metric, avgRuns)
		}
		return Result{}, formatErr(nameTrtexec, out,
			"has no %q line (TensorRT 8+) or %q block (TensorRT 7): did the run finish? run trtexec without --skipInference", metric, oldHead)
	}
	r.SamplesMs = samples
	summary.fill(&r)
	r.Raw = raw.String()
	return finish(r), nil
}

// set records a figure by the name tools give it.
func (s *stats) set(name string, v float64) {
	switch strings.ToLower(name) {
	case "min":
		s.min = v
	case "max":
		s.max = v
	case "mean", "avg", "average":
		s.mean = v
	case "median", "p50":
		s.median = v
	}
}
