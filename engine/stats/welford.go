package stats

import "math"

// Welford accumulates the count, mean, variance, minimum and maximum of a
// stream of values in O(1) memory with Welford's numerically stable update,
// e.g. for live progress while samples arrive. The zero value is an empty
// accumulator ready to use. It is not safe for concurrent use; give each
// goroutine its own and combine them with Merge.
type Welford struct {
	n        int
	mean, m2 float64
	min, max float64
}

// Add includes x in the accumulator. A NaN makes Mean, Var, Min and Max NaN
// from then on.
func (w *Welford) Add(x float64) {
	w.n++
	if w.n == 1 {
		w.mean, w.m2, w.min, w.max = x, 0, x, x
		return
	}
	d := x - w.mean
	w.mean += d / float64(w.n)
	w.m2 += d * (x - w.mean)
	if x < w.min || math.IsNaN(x) {
		w.min = x
	}
	if x > w.max || math.IsNaN(x) {
		w.max = x
	}
}

// Merge folds the values accumulated in o into w (Chan et al.'s pairwise
// update), as if every value added to o had been added to w.
func (w *Welford) Merge(o Welford) {
	switch {
	case o.n == 0:
		return
	case w.n == 0:
		*w = o
		return
	}
	n := w.n + o.n
	d := o.mean - w.mean
	w.mean += d * float64(o.n) / float64(n)
	w.m2 += o.m2 + d*d*float64(w.n)*float64(o.n)/float64(n)
	w.n = n
	if o.min < w.min || math.IsNaN(o.min) {
		w.min = o.min
	}
	if o.max > w.max || math.IsNaN(o.max) {
		w.max = o.max
	}
}

// N returns the number of values added.
func (w *Welford) N() int { return w.n }

// Mean returns the running mean, NaN before the first value.
func (w *Welford) Mean() float64 {
	if w.n == 0 {
		return math.NaN()
	}
	return w.mean
}

// Var returns the running sample variance (denominator n−1), NaN with fewer
// than two values.
func (w *Welford) Var() float64 {
	if w.n < 2 {
		return math.NaN()
	}
	return w.m2 / float64(w.n-1)
}

// Std returns the running sample standard deviation, NaN with fewer than two
// values.
func (w *Welford) Std() float64 { return math.Sqrt(w.Var()) }

// SEM returns the standard error of the running mean, Std/√n, NaN with
// fewer than two values.
func (w *Welford) SEM() float64 { return w.Std() / math.Sqrt(float64(w.n)) }

// Min returns the smallest value added, NaN before the first value.
func (w *Welford) Min() float64 {
	if w.n == 0 {
		return math.NaN()
	}
	return w.min
}

// Max returns the largest value added, NaN before the first value.
func (w *Welford) Max() float64 {
	if w.n == 0 {
		return math.NaN()
	}
	return w.max
}
