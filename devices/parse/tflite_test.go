package parse

import "testing"

func TestBenchmarkModel(t *testing.T) {
	cases := []parseCase{
		// TF 2.4: warm-up and timed phases, statistics in microseconds.
		{name: "2.4 two phases", file: "tflite_2.4.txt", want: want{
			metric: "count=", summary: true,
			samples: []float64{15.491, 15.8398, 17.821},
			min:     15.491, max: 17.821, mean: 15.8398,
			warmup: 31, runs: 64,
		}},
		// TF 2.16: INFO: prefixes, p5/median/p95, scientific notation.
		{name: "2.16 median and e-notation", file: "tflite_2.16.txt", want: want{
			metric: "count=", summary: true,
			samples: []float64{1205.62, 1218.02, 1259.81},
			min:     1205.62, max: 1259.81, mean: 1219.54, median: 1218.02,
			warmup: 5, runs: 50,
		}},
		// logcat prefixes; a one-run warm-up prints "count=1 curr=X".
		{name: "logcat", file: "tflite_logcat.txt", want: want{
			metric: "count=", summary: true,
			samples: []float64{9.588, 9.771, 10.412},
			min:     9.588, max: 10.412, mean: 9.80316, median: 9.771,
			warmup: 1, runs: 25,
		}},
		{name: "timings line only", text: "Inference timings in us: Init: 41018, First inference: 24213, Warmup (avg): 16207.5, Inference (avg): 15839.8\n", want: want{
			metric: "Inference (avg)", summary: true,
			samples: []float64{15.8398}, mean: 15.8398,
		}},
		{name: "statistics lines without phase announcements", text: "count=3 first=30 curr=20 min=20 max=30 avg=25 std=5\ncount=10 first=12 curr=11 min=10 max=14 avg=11.5 std=1\n", want: want{
			metric: "count=", summary: true,
			samples: []float64{0.010, 0.0115, 0.014}, min: 0.010, max: 0.014, mean: 0.0115,
			warmup: 3, runs: 10,
		}},
		{name: "all runs the same", text: "Running benchmark for at least 1 iterations\ncount=1 curr=900\nRunning benchmark for at least 4 iterations\ncount=4 curr=800(all same)\n", want: want{
			metric: "count=", summary: true,
			samples: []float64{0.8, 0.8, 0.8}, min: 0.8, max: 0.8, mean: 0.8, median: 0.8,
			warmup: 1, runs: 4,
		}},
		{name: "cut off after warm-up", file: "tflite_truncated.txt", want: want{err: "has only the warm-up statistics line (count=31)"}},
		{name: "missing model", file: "tflite_error.txt", want: want{err: "Benchmarking failed."}},
		{name: "memory line is not statistics", text: "Memory footprint delta from the start of the tool (MB): init=38.2 overall=52.6\n", want: want{err: "has no 'Inference timings in us' line"}},
		{name: "statistics line without figures", text: "count=3 curr=\n", want: want{err: "has no 'Inference timings in us' line"}},
		{name: "bad value", text: "count=5 first=1 curr=1 min=1 max=1e400 avg=1 std=0\n", want: want{err: "out of range"}},
	}
	cases = append(cases, garbageCases()...)
	runCases(t, BenchmarkModel{}, cases)
}
