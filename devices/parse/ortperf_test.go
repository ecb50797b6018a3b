package parse

import "testing"

func TestORTPerfTest(t *testing.T) {
	cases := []parseCase{
		// 1.17+ with -s: "Average inference time cost total" and latencies in seconds.
		{name: "statistics in seconds", file: "ort_perf_stats.txt", want: want{
			metric: "P50 Latency", summary: true,
			samples: []float64{35.9812, 36.8125, 42.1907},
			min:     35.9812, max: 42.1907, mean: 37.0426, median: 36.8125,
			warmup: 1, runs: 50,
		}},
		// 1.x without -s: only the average.
		{name: "average only", file: "ort_perf_1.14.txt", want: want{
			metric: "Average inference time cost", summary: true,
			samples: []float64{6.82204}, mean: 6.82204,
			warmup: 1, runs: 100,
		}},
		// The first releases (2019): "Average time cost:X ms", "Total iterations:N".
		{name: "2019 release", file: "ort_perf_2019.txt", want: want{
			metric: "Average inference time cost", summary: true,
			samples: []float64{12.0281}, mean: 12.0281, runs: 200,
		}},
		{name: "statistics without average", text: "Runs:3\nMin Latency: 0.001 s\nMax Latency: 0.004 s\nP50 Latency: 0.002 s\n", want: want{
			metric: "P50 Latency", summary: true,
			samples: []float64{1, 2, 4}, min: 1, max: 4, median: 2, runs: 3,
		}},
		{name: "cut off before the report", file: "ort_perf_truncated.txt", want: want{err: "has no 'Average inference time cost' line"}},
		{name: "model load error", file: "ort_perf_error.txt", want: want{err: "Protobuf parsing failed"}},
		{name: "negative latency", text: "Average inference time cost: 5 ms\nMin Latency: -0.1 s\n", want: want{err: "negative latency"}},
	}
	cases = append(cases, garbageCases()[:4]...)
	runCases(t, ORTPerfTest{}, cases)
}
