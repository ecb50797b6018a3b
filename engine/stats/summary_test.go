package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// near reports whether got equals want within tol, treating two NaNs and two
// equal infinities as equal.
func near(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	if math.IsInf(want, 0) {
		return got == want
	}
	return math.Abs(got-want) <= tol
}

func TestQuantileType7(t *testing.T) {
	nan := math.NaN()
	// Expected values by hand with type 7: sort, h = (n−1)·q,
	// Q = x[⌊h⌋] + (h−⌊h⌋)(x[⌊h⌋+1]−x[⌊h⌋]); these are what
	// numpy.quantile(xs, q) (method="linear", the default) returns.
	tests := []struct {
		name string
		xs   []float64
		q    float64
		want float64
	}{
		{"1..4 q=0", []float64{1, 2, 3, 4}, 0, 1},
		{"1..4 q=.1 h=.3", []float64{1, 2, 3, 4}, 0.1, 1.3},
		{"1..4 q=.25 h=.75", []float64{1, 2, 3, 4}, 0.25, 1.75},
		{"1..4 q=.5 h=1.5", []float64{1, 2, 3, 4}, 0.5, 2.5},
		{"1..4 q=.75 h=2.25", []float64{1, 2, 3, 4}, 0.75, 3.25},
		{"1..4 q=1", []float64{1, 2, 3, 4}, 1, 4},
		{"unsorted 7,1,3 q=.25 h=.5", []float64{7, 1, 3}, 0.25, 2},
		{"unsorted 7,1,3 q=.5", []float64{7, 1, 3}, 0.5, 3},
		{"unsorted 7,1,3 q=.9 h=1.8: 3+.8*4", []float64{7, 1, 3}, 0.9, 6.2},
		{"pi digits q=.25 h=1.75: 1+.75*1", []float64{3, 1, 4, 1, 5, 9, 2, 6}, 0.25, 1.75},
		{"pi digits q=.75 h=5.25: 5+.25*1", []float64{3, 1, 4, 1, 5, 9, 2, 6}, 0.75, 5.25},
		{"negatives q=.5", []float64{-5, -1, -3}, 0.5, -3},
		{"single", []float64{10}, 0.37, 10},
		{"ties", []float64{2, 2, 2, 5}, 0.5, 2},
		{"empty", nil, 0.5, nan},
		{"q<0", []float64{1, 2}, -0.1, nan},
		{"q>1", []float64{1, 2}, 1.1, nan},
		{"q NaN", []float64{1, 2}, nan, nan},
		{"NaN in data", []float64{1, nan, 2}, 0.5, nan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.xs)
			got := Quantile(tc.xs, tc.q)
			if !near(got, tc.want, 1e-12) {
				t.Errorf("Quantile(%v, %g) = %g, want %g", tc.xs, tc.q, got, tc.want)
			}
			if !slices.EqualFunc(orig, tc.xs, func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }) {
				t.Errorf("Quantile modified its input: %v, was %v", tc.xs, orig)
			}
			qs := Quantiles(tc.xs, tc.q, 0.5)
			if !near(qs[0], tc.want, 1e-12) {
				t.Errorf("Quantiles(%v, %g)[0] = %g, want %g", tc.xs, tc.q, qs[0], tc.want)
			}
		})
	}
}

func TestRobustSummaries(t *testing.T) {
	nan := math.NaN()
	// pi digits sorted: 1 1 2 3 4 5 6 9 (n = 8). Q1 = 1.75, median = 3.5
	// (h = 3.5), Q3 = 5.25 (see TestQuantileType7), so IQR = 3.5 and
	// RelSpread = 1. Sum 31 → mean 3.875; squared deviations sum to 52.875
	// (2·2.875² + 1.875² + 0.875² + 0.125² + 1.125² + 2.125² + 5.125²),
	// so Std = √(52.875/7).
	pi := []float64{3, 1, 4, 1, 5, 9, 2, 6}
	tests := []struct {
		name                        string
		xs                          []float64
		median, iqr, rel, mean, std float64
	}{
		{"pi digits", pi, 3.5, 3.5, 1, 3.875, math.Sqrt(52.875 / 7)},
		// Timings of a stable device: 10.0 10.1 10.2 10.3 10.4 → median 10.2,
		// Q1 = 10.1 and Q3 = 10.3 (h = 1 and 3 exactly), IQR 0.2, mean 10.2,
		// Std = √((0.04+0.01+0+0.01+0.04)/4) = √0.025.
		{"stable timings", []float64{10.4, 10.0, 10.2, 10.1, 10.3}, 10.2, 0.2, 0.2 / 10.2, 10.2, math.Sqrt(0.025)},
		{"single", []float64{4}, 4, 0, 0, 4, nan},
		{"zero median", []float64{-1, 0, 1}, 0, 1, math.Inf(1), 0, 1},
		{"all zero", []float64{0, 0}, 0, 0, nan, 0, 0},
		{"empty", nil, nan, nan, nan, nan, nan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			orig := slices.Clone(tc.xs)
			checks := []struct {
				fn        string
				got, want float64
			}{
				{"Median", Median(tc.xs), tc.median},
				{"IQR", IQR(tc.xs), tc.iqr},
				{"RelSpread", RelSpread(tc.xs), tc.rel},
				{"Mean", Mean(tc.xs), tc.mean},
				{"Std", Std(tc.xs), tc.std},
			}
			for _, c := range checks {
				if !near(c.got, c.want, 1e-12) {
					t.Errorf("%s(%v) = %g, want %g", c.fn, tc.xs, c.got, c.want)
				}
			}
			s := Summarize(tc.xs)
			if s.N != len(tc.xs) || !near(s.Median, tc.median, 1e-12) || !near(s.IQR, tc.iqr, 1e-12) ||
				!near(s.RelSpread, tc.rel, 1e-12) || !near(s.Mean, tc.mean, 1e-12) || !near(s.Std, tc.std, 1e-12) {
				t.Errorf("Summarize(%v) = %+v, want median %g IQR %g rel %g mean %g std %g",
					tc.xs, s, tc.median, tc.iqr, tc.rel, tc.mean, tc.std)
			}
			if len(tc.xs) > 0 && (s.Min != slices.Min(tc.xs) || s.Max != slices.Max(tc.xs)) {
				t.Errorf("Summarize(%v) min/max = %g/%g", tc.xs, s.Min, s.Max)
			}
			if !slices.Equal(orig, tc.xs) {
				t.Errorf("input modified: %v, was %v", tc.xs, orig)
			}
		})
	}
}

func TestVarianceLargeOffset(t *testing.T) {
	// Timings in ns around 1e9 with unit spread: the naive Σx²−n·m² loses
	// every digit here; the two-pass formula must not. Values 1e9+{1,2,3,4}
	// have variance 5/3 exactly like {1,2,3,4}.
	xs := []float64{1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4}
	if got := Variance(xs); !near(got, 5.0/3, 1e-9) {
		t.Errorf("Variance = %g, want 5/3", got)
	}
}

// FuzzQuantile checks Quantile on arbitrary data (one value per input byte
// pair, so long inputs with many ties exercise the selection path) against
// interpolation on a sorted copy, and the invariants Q(0) = min, Q(1) = max
// and monotonicity in q.
func FuzzQuantile(f *testing.F) {
	f.Add([]byte{1, 0, 5, 0, 3, 0}, 0.3, 0.6)
	f.Add([]byte("the quick brown fox jumps over the lazy dog, twice: the quick brown fox"), 0.5, 0.9)
	f.Fuzz(func(t *testing.T, raw []byte, q1, q2 float64) {
		if !(q1 >= 0 && q1 <= 1 && q2 >= 0 && q2 <= 1) || len(raw) < 2 {
			t.Skip()
		}
		xs := make([]float64, len(raw)/2)
		for i := range xs {
			xs[i] = float64(int(raw[2*i])-128) * math.Pow(2, float64(raw[2*i+1]%8))
		}
		if q1 > q2 {
			q1, q2 = q2, q1
		}
		sorted := slices.Sorted(slices.Values(xs))
		v1, v2 := Quantile(xs, q1), Quantile(xs, q2)
		if v1 != QuantileSorted(sorted, q1) || v2 != QuantileSorted(sorted, q2) {
			t.Errorf("Quantile(%v) = %g, %g at %g, %g; sorted reference %g, %g",
				xs, v1, v2, q1, q2, QuantileSorted(sorted, q1), QuantileSorted(sorted, q2))
		}
		if v1 > v2 {
			t.Errorf("Quantile(%v): Q(%g) = %g > Q(%g) = %g", xs, q1, v1, q2, v2)
		}
		if Quantile(xs, 0) != sorted[0] || Quantile(xs, 1) != sorted[len(sorted)-1] {
			t.Errorf("Quantile(%v) ends %g %g, want %g %g", xs, Quantile(xs, 0), Quantile(xs, 1), sorted[0], sorted[len(sorted)-1])
		}
	})
}

// TestQuantileSelectionMatchesSort checks the selection path of Quantile
// against interpolation on a fully sorted copy, on random data with and
// without heavy ties, sorted and reversed input, and lengths on both sides
// of the stack buffer; QuantileInPlace gives the same bits and only reorders
// its argument.
func TestQuantileSelectionMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 14))
	qs := []float64{0, 0.01, 0.1, 0.25, 1.0 / 3, 0.5, 0.75, 0.9, 0.99, 1}
	for _, n := range []int{1, 2, 3, 5, 11, 12, 13, 40, 100, 255, 256, 257, 1000} {
		for kind := range 4 {
			xs := make([]float64, n)
			for i := range xs {
				switch kind {
				case 0:
					xs[i] = rng.NormFloat64()
				case 1:
					xs[i] = float64(rng.IntN(3)) // heavy ties
				case 2:
					xs[i] = float64(i) // sorted
				case 3:
					xs[i] = float64(n - i) // reversed
				}
			}
			sorted := slices.Sorted(slices.Values(xs))
			for _, q := range qs {
				got, want := Quantile(xs, q), QuantileSorted(sorted, q)
				if got != want {
					t.Errorf("n=%d kind=%d q=%g: Quantile %g, sorted reference %g", n, kind, q, got, want)
				}
				scratch := slices.Clone(xs)
				if got := QuantileInPlace(scratch, q); math.Float64bits(got) != math.Float64bits(want) {
					t.Errorf("n=%d kind=%d q=%g: QuantileInPlace %g, sorted reference %g", n, kind, q, got, want)
				}
				if !slices.Equal(slices.Sorted(slices.Values(scratch)), sorted) {
					t.Errorf("n=%d kind=%d q=%g: QuantileInPlace lost values", n, kind, q)
				}
			}
		}
	}
}
