package search

import (
	"context"
	"fmt"
	"math"
	"slices"

	"blockprof/engine/pareto"
	"blockprof/model"
)

// Summary is one space's side of a comparison.
type Summary struct {
	Space string `json:"space"`
	// Hypervolumes per seed against the comparison's common reference
	// point, and their median and spread.
	Hypervolumes      []float64 `json:"hypervolumes"`
	HypervolumeMedian float64   `json:"hypervolume_median"`
	HypervolumeMin    float64   `json:"hypervolume_min"`
	HypervolumeMax    float64   `json:"hypervolume_max"`
	// Front is the first front of the union of every seed's front.
	Front []Individual `json:"-"`
	// Fronts holds each seed's front.
	Fronts      [][]Individual `json:"-"`
	Evaluations int            `json:"evaluations"`
}

// Comparison is original vs reduced with the same budget over seeds.
type Comparison struct {
	// Reference is the common reference point (worst latency, worst
	// accuracy over every seed's front of both spaces, pushed out by 1% of
	// each range so that boundary points count).
	Reference pareto.Point `json:"-"`
	Original  Summary      `json:"original"`
	Reduced   Summary      `json:"reduced"`
	// LatencyReduction is 1 − latency(reduced)/latency(original) at equal
	// accuracy, over accuracy levels both merged fronts reach: median, min
	// and max over 50 evenly spaced levels; NaN if the fronts do not
	// overlap in accuracy.
	LatencyReductionMedian float64 `json:"latency_reduction_median"`
	LatencyReductionMin    float64 `json:"latency_reduction_min"`
	LatencyReductionMax    float64 `json:"latency_reduction_max"`
}

// CompareProgress reports which search of a comparison is running.
type CompareProgress struct {
	Space string
	Seed  uint64
	Progress
}

// Compare runs the search in the original and the reduced space with the
// same options and evaluator for every seed.
func Compare(ctx context.Context, orig, reduced *model.Space, eval Evaluator, opts Options, seeds []uint64, progress func(CompareProgress)) (Comparison, error) {
	if len(seeds) == 0 {
		return Comparison{}, fmt.Errorf("search: compare needs at least one seed")
	}
	run := func(s *model.Space, label string) (Summary, error) {
		sum := Summary{Space: label}
		for _, seed := range seeds {
			o := opts
			o.Seed = seed
			res, err := Run(ctx, s, eval, o, func(p Progress) {
				if progress != nil {
					progress(CompareProgress{Space: label, Seed: seed, Progress: p})
				}
			})
			if err != nil {
				return sum, err
			}
			sum.Fronts = append(sum.Fronts, res.Front)
			sum.Evaluations += res.Evaluations
		}
		return sum, nil
	}
	var c Comparison
	var err error
	if c.Original, err = run(orig, orig.Name); err != nil {
		return c, err
	}
	redName := reduced.Name
	if reduced.Reduced != "" {
		redName = reduced.Reduced
	}
	if c.Reduced, err = run(reduced, redName); err != nil {
		return c, err
	}
	var all []pareto.Point
	for _, s := range []*Summary{&c.Original, &c.Reduced} {
		for _, f := range s.Fronts {
			all = append(all, points(f)...)
		}
	}
	c.Reference = Reference(all)
	for _, s := range []*Summary{&c.Original, &c.Reduced} {
		var merged []Individual
		for _, f := range s.Fronts {
			s.Hypervolumes = append(s.Hypervolumes, pareto.Hypervolume(points(f), c.Reference))
			merged = append(merged, f...)
		}
		s.Front = byIDs(merged, pareto.Front(points(merged)))
		hv := slices.Clone(s.Hypervolumes)
		slices.Sort(hv)
		s.HypervolumeMin, s.HypervolumeMax = hv[0], hv[len(hv)-1]
		s.HypervolumeMedian = median(hv)
	}
	c.LatencyReductionMedian, c.LatencyReductionMin, c.LatencyReductionMax = latencyReduction(c.Original.Front, c.Reduced.Front)
	return c, nil
}

// Reference is the common reference point of a set of fronts: the worst
// latency and accuracy pushed out by 1% of each range.
func Reference(ps []pareto.Point) pareto.Point {
	if len(ps) == 0 {
		return pareto.Point{}
	}
	n := nadir(ps)
	lo, hi := ps[0], ps[0]
	for _, p := range ps {
		lo.Latency, hi.Latency = min(lo.Latency, p.Latency), max(hi.Latency, p.Latency)
		lo.Accuracy, hi.Accuracy = min(lo.Accuracy, p.Accuracy), max(hi.Accuracy, p.Accuracy)
	}
	n.Latency += 0.01 * (hi.Latency - lo.Latency)
	n.Accuracy -= 0.01 * (hi.Accuracy - lo.Accuracy)
	return n
}

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// latencyAt is the lowest latency on the front reaching accuracy ≥ acc.
func latencyAt(front []Individual, acc float64) float64 {
	best := math.Inf(1)
	for _, x := range front {
		if x.Accuracy >= acc {
			best = min(best, x.Latency)
		}
	}
	return best
}

func latencyReduction(orig, red []Individual) (med, lo, hi float64) {
	if len(orig) == 0 || len(red) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	maxAcc := func(f []Individual) float64 {
		m := math.Inf(-1)
		for _, x := range f {
			m = max(m, x.Accuracy)
		}
		return m
	}
	minAcc := func(f []Individual) float64 {
		m := math.Inf(1)
		for _, x := range f {
			m = min(m, x.Accuracy)
		}
		return m
	}
	a0, a1 := max(minAcc(orig), minAcc(red)), min(maxAcc(orig), maxAcc(red))
	if a1 < a0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	var rs []float64
	for i := range 50 {
		acc := a0 + (a1-a0)*float64(i)/49
		lo, lr := latencyAt(orig, acc), latencyAt(red, acc)
		if math.IsInf(lo, 0) || math.IsInf(lr, 0) || lo == 0 {
			continue
		}
		rs = append(rs, 1-lr/lo)
	}
	if len(rs) == 0 {
		return math.NaN(), math.NaN(), math.NaN()
	}
	slices.Sort(rs)
	return median(rs), rs[0], rs[len(rs)-1]
}
