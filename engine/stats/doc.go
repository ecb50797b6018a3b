// Package stats holds the numerics that blockprof's measurement protocol,
// friendliness analysis and predictors share: robust summaries of timing
// samples (median, type-7 quantiles, IQR, relative spread), rank and linear
// correlation, predictor error metrics, percentile-bootstrap confidence
// intervals, ridge regression with coefficient standard errors and
// cross-validated λ, and a running mean/variance accumulator.
//
// Conventions shared by every function:
//
//   - Inputs are never modified; functions that need sorted data sort a copy.
//   - An empty input, or one too short for the statistic, gives NaN rather
//     than an error or a panic: a NaN in a table is visible, a panic in a
//     long profiling run is not.
//   - A NaN in the input gives NaN (it is not silently skipped).
//   - Model fitting (Ridge, RidgeCV) returns an error that says what is
//     wrong with the data and what to do, since a caller can act on it.
//   - Two slices that must pair up element by element (pred/truth, a/b of a
//     correlation) but have different lengths are a programming error and
//     panic with a message naming the function.
//   - Randomised functions take an explicit *rand.Rand (math/rand/v2) so
//     results are reproducible from a seed; a *rand.Rand is not safe for
//     concurrent use, so give each goroutine its own.
//
// Nothing here knows about spaces, devices or measurements: callers turn
// their data into []float64 (and [][]float64 designs) first.
package stats
