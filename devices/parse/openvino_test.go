package parse

import "testing"

func TestBenchmarkApp(t *testing.T) {
	cases := []parseCase{
		// 2024 Python tool.
		{name: "2024 python", file: "openvino_2024.txt", want: want{
			metric: "Latency", summary: true,
			samples: []float64{4.93, 5.21, 11.62},
			min:     4.93, max: 11.62, mean: 5.27, median: 5.21,
			warmup: 1, runs: 2841,
		}},
		// C++ with tabs and -pcseq groups: only the overall block counts.
		{name: "c++ tabs and shape groups", file: "openvino_cpp_pcseq.txt", want: want{
			metric: "Latency", summary: true,
			samples: []float64{9.41, 14.62, 39.07},
			min:     9.41, max: 39.07, mean: 14.78, median: 14.62,
			warmup: 1, runs: 16224,
		}},
		// -latency_percentile 90: no median; microseconds; -no_warmup.
		{name: "90th percentile in us", file: "openvino_percentile_us.txt", want: want{
			metric: "Latency", summary: true,
			samples: []float64{0.17102, 0.19255, 1.89344},
			min:     0.17102, max: 1.89344, mean: 0.19255,
			runs: 51278,
		}},
		// 2021.x: a single "Latency: X ms" line, the median.
		{name: "2021 single line", file: "openvino_2021.txt", want: want{
			metric: "Latency", summary: true,
			samples: []float64{52.91}, median: 52.91,
			warmup: 1, runs: 4516,
		}},
		{name: "upper-case labels", text: "Latency:\n\tMedian: 2 ms\n\tAVG: 2.5 ms\n\tMIN: 1 ms\n\tMAX: 9 ms\n", want: want{
			metric: "Latency", summary: true,
			samples: []float64{1, 2, 9}, min: 1, max: 9, mean: 2.5, median: 2,
		}},
		{name: "MULTI device", file: "openvino_multi.txt", want: want{err: "MULTI devices report no latency"}},
		{name: "heading without figures", text: "[ INFO ] Count: 10 iterations\n[ INFO ] Latency:\n", want: want{err: "no 'Median:'"}},
		{name: "unknown unit", text: "[ INFO ] Latency:\n[ INFO ]    Median: 3 fortnights\n", want: want{err: "no 'Median:'"}},
	}
	cases = append(cases, garbageCases()...)
	runCases(t, BenchmarkApp{}, cases)
}
