package pareto

import (
	"context"

	"blockprof/model"
)

// Point is one architecture in objective space.
type Point struct {
	Arch string
	// Latency in ms on the device; Accuracy is the score (top-1 % or a
	// proxy score), higher is better.
	Latency, Accuracy float64
}

// Data are the archs of the space measured on a device that have a score.
type Data struct {
	Device string
	// LatencyLabel is the provenance of the latencies ("measured",
	// "simulated", "replayed (NVIDIA H100)", ...).
	LatencyLabel string
	// AccuracyName is "top-1 accuracy" or "proxy score"; AccuracyUnit "%"
	// or ""; AccuracyLabel its provenance ("table", "predicted",
	// "measured", "proxy").
	AccuracyName, AccuracyUnit, AccuracyLabel string
	Points                                    []Point
	// Front indexes the points of the first non-dominated front (latency
	// down, score up), sorted by latency.
	Front []int
	Notes []string
}

// SearchRequest asks for a search of the original and the reduced space
// with the same budget.
type SearchRequest struct {
	Device    string
	Reduction model.Reduction
}

// SearchUpdate reports a search's progress: one per generation of each
// seed of each space, then a last one with Result or Err, after which the
// channel closes.
type SearchUpdate struct {
	// Space names the space searched; Reduced says it is the reduced one.
	Space   string
	Reduced bool
	Seed    uint64
	// Generation 0 is the initial population.
	Generation, Generations int
	Evaluations, FrontSize  int
	Hypervolume             float64

	Result *SearchResult
	Err    error
}

// Spread is a median with its range over seeds.
type Spread struct{ Median, Min, Max float64 }

// SearchResult compares the fronts of the original and the reduced space.
type SearchResult struct {
	// LatencyLabel says where the search's latencies come from (a
	// predictor fitted on the device's measurements: "predicted (additive,
	// cpu)"); AccuracyName and AccuracyLabel as in Data.
	LatencyLabel, AccuracyName, AccuracyUnit, AccuracyLabel string
	// Original and Reduced are the merged fronts over seeds, by latency.
	Original, Reduced []Point
	// Hypervolumes against the common reference point, over seeds.
	HVOriginal, HVReduced Spread
	// LatencyReduction is 1 − latency(reduced)/latency(original) at equal
	// score over the range both fronts reach (NaN when they do not
	// overlap).
	LatencyReduction Spread
	Evaluations      int
	Seeds            int
}

// Source is what the view needs from the engine.
type Source interface {
	// Points lists the measured archs of the device with their score.
	Points(ctx context.Context, device string) (Data, error)
	// Search starts a search; it ends when ctx ends or the channel closes.
	Search(ctx context.Context, req SearchRequest) (<-chan SearchUpdate, error)
}
