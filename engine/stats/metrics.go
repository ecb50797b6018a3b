package stats

import "math"

// MAPE returns the mean absolute percentage error of pred against truth,
// mean(|pred−truth|/|truth|), as a fraction: 0.05 means 5%. A truth of 0
// makes it +Inf (or NaN if that pred is also 0); latencies are positive so
// predictors never meet this. It is NaN when the inputs are empty and panics
// when their lengths differ.
func MAPE(pred, truth []float64) float64 {
	mustSameLen("MAPE", pred, truth)
	if len(pred) == 0 {
		return math.NaN()
	}
	s := 0.0
	for i, t := range truth {
		s += math.Abs(pred[i]-t) / math.Abs(t)
	}
	return s / float64(len(pred))
}

// WithinFrac returns the share of predictions within ±frac of the truth in
// relative terms, i.e. with |pred−truth|/|truth| ≤ frac (boundary included;
// 0.1 for "within 10%"). It is NaN when the inputs are empty and panics when
// their lengths differ.
func WithinFrac(pred, truth []float64, frac float64) float64 {
	mustSameLen("WithinFrac", pred, truth)
	if len(pred) == 0 {
		return math.NaN()
	}
	k := 0
	for i, t := range truth {
		if math.Abs(pred[i]-t)/math.Abs(t) <= frac {
			k++
		}
	}
	return float64(k) / float64(len(pred))
}

// MAE returns the mean absolute error mean(|pred−truth|), in the units of
// the data. It is NaN when the inputs are empty and panics when their
// lengths differ.
func MAE(pred, truth []float64) float64 {
	mustSameLen("MAE", pred, truth)
	if len(pred) == 0 {
		return math.NaN()
	}
	s := 0.0
	for i, t := range truth {
		s += math.Abs(pred[i] - t)
	}
	return s / float64(len(pred))
}

// RMSE returns the root mean squared error √mean((pred−truth)²), in the
// units of the data. It is NaN when the inputs are empty and panics when
// their lengths differ.
func RMSE(pred, truth []float64) float64 {
	mustSameLen("RMSE", pred, truth)
	if len(pred) == 0 {
		return math.NaN()
	}
	s := 0.0
	for i, t := range truth {
		d := pred[i] - t
		s += d * d
	}
	return math.Sqrt(s / float64(len(pred)))
}
