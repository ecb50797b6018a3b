package parse

import (
	"strings"
	"testing"
)

func TestTrtexec(t *testing.T) {
	crlf := strings.ReplaceAll(string(mustRead("testdata/trtexec_8.4.txt")), "\n", "\r\n")
	cases := []parseCase{
		// TensorRT 8.5+ summary with percentile(90/95/99%), trace averaged over 10 runs.
		{name: "8.6 summary", file: "trtexec_8.6.txt", want: want{
			metric: "GPU Compute Time", summary: true,
			samples: []float64{0.474121, 0.478882, 0.817139},
			min:     0.474121, max: 0.817139, mean: 0.479822, median: 0.478882,
			warmup: 412, runs: 6187,
		}},
		// TensorRT 8.4: only percentile(99%); CUDA graph, no transfers.
		{name: "8.4 summary", file: "trtexec_8.4.txt", want: want{
			metric: "GPU Compute Time", summary: true,
			samples: []float64{7.71002, 7.76611, 7.86103},
			min:     7.71002, max: 7.86103, mean: 7.76911, median: 7.76611,
			warmup: 26, runs: 389,
		}},
		{name: "8.4 with CRLF line ends", text: crlf, want: want{
			metric: "GPU Compute Time", summary: true,
			samples: []float64{7.71002, 7.76611, 7.86103},
			min:     7.71002, max: 7.86103, mean: 7.76911, median: 7.76611,
			warmup: 26, runs: 389,
		}},
		// --avgRuns=1: every trace line is one run.
		{name: "avgRuns=1 per-run samples", file: "trtexec_avgruns1.txt", want: want{
			metric:  "GPU Compute Time",
			samples: []float64{1.1875, 1.18164, 1.19238, 1.18457, 1.20313},
			min:     1.18164, max: 1.20313, mean: 1.18984, median: 1.1875,
			warmup: 1, runs: 5,
		}},
		// TensorRT 7: headings followed by "min: X ms" lines.
		{name: "7.x blocks", file: "trtexec_7.txt", want: want{
			metric: "GPU Compute Time", summary: true,
			samples: []float64{4.24512, 4.39307, 6.97388},
			min:     4.24512, max: 6.97388, mean: 4.41148, median: 4.39307,
			warmup: 9, runs: 663,
		}},
		{name: "no log prefixes", text: "GPU Compute Time: min = 1.5 ms, max = 3 ms, mean = 2.25 ms, median = 2 ms\n", want: want{
			metric: "GPU Compute Time", summary: true,
			samples: []float64{1.5, 2, 3}, min: 1.5, max: 3, mean: 2.25, median: 2,
		}},
		{name: "summary without median", text: "[I] GPU Compute Time: min = 1 ms, max = 4 ms, mean = 2 ms\n", want: want{
			metric: "GPU Compute Time", summary: true,
			samples: []float64{1, 2, 4}, min: 1, max: 4, mean: 2,
		}},
		{name: "cut off in the trace", file: "trtexec_truncated.txt", want: want{err: "only trace lines averaged over 10 runs"}},
		{name: "failed run", file: "trtexec_failed.txt", want: want{err: "reports failure"}},
		{name: "only Latency when GPU Compute Time is wanted", text: "[I] Latency: min = 1 ms, max = 2 ms, mean = 1.5 ms, median = 1.5 ms\n",
			want: want{err: `has no "GPU Compute Time" line`}},
		{name: "only totals", text: "[I] Total GPU Compute Time: 2.96866 s\n[I] Total Host Walltime: 3.0 s\n",
			want: want{err: `has no "GPU Compute Time" line`}},
		{name: "negative latency", text: "[I] GPU Compute Time: min = -1 ms, max = 2 ms, mean = 1 ms, median = 1 ms\n",
			want: want{err: "negative latency"}},
		{name: "overflowing number", text: "[I] GPU Compute Time: min = 1e999 ms, max = 2 ms\n",
			want: want{err: "out of range"}},
	}
	cases = append(cases, garbageCases()...)
	runCases(t, Trtexec{}, cases)
}

func TestTrtexecHostLatency(t *testing.T) {
	cases := []parseCase{
		{name: "8.6 summary", file: "trtexec_8.6.txt", want: want{
			metric: "Latency", summary: true,
			samples: []float64{0.541992, 0.551758, 0.893311},
			min:     0.541992, max: 0.893311, mean: 0.552871, median: 0.551758,
			warmup: 412, runs: 6187,
		}},
		{name: "avgRuns=1 per-run samples", file: "trtexec_avgruns1.txt", want: want{
			metric:  "Latency",
			samples: []float64{1.25391, 1.24707, 1.25781, 1.25, 1.26855},
			min:     1.24707, max: 1.26855, mean: 1.25547, median: 1.25391,
			warmup: 1, runs: 5,
		}},
		{name: "7.x blocks", file: "trtexec_7.txt", want: want{
			metric: "Latency", summary: true,
			samples: []float64{4.35107, 4.50122, 7.0813},
			min:     4.35107, max: 7.0813, mean: 4.52017, median: 4.50122,
			warmup: 9, runs: 663,
		}},
		{name: "only GPU Compute Time", text: "[I] GPU Compute Time: min = 1 ms, max = 2 ms, mean = 1.5 ms, median = 1.5 ms\n",
			want: want{err: `has no "Latency" line`}},
	}
	runCases(t, Trtexec{HostLatency: true}, cases)
}

// GPU Compute Time must never be confused with the other metrics' lines,
// which share its shape: each fixture's figure differs from the others.
func TestTrtexecPicksItsMetric(t *testing.T) {
	for _, file := range []string{"trtexec_8.6.txt", "trtexec_7.txt"} {
		gpu, err := Trtexec{}.Parse(fixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		host, err := Trtexec{HostLatency: true}.Parse(fixture(t, file))
		if err != nil {
			t.Fatal(err)
		}
		if gpu.MedianMs >= host.MedianMs {
			t.Errorf("%s: GPU compute median %v is not below host latency median %v", file, gpu.MedianMs, host.MedianMs)
		}
		if !strings.Contains(gpu.Raw, "GPU Compute") || strings.Contains(gpu.Raw, "Enqueue") {
			t.Errorf("%s: Raw should hold only the GPU Compute lines:\n%s", file, gpu.Raw)
		}
	}
}
