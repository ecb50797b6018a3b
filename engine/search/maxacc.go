package search

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"blockprof/model"
)

// MaxAccOptions configure the max-accuracy search (paper §5.2, Table 2):
// maximise accuracy subject to Cost(a) ≤ Limit. Zero values take the
// paper's defaults: initial 20, 50 children, 4 generations, top-10 set.
type MaxAccOptions struct {
	Initial     int
	Children    int
	Generations int
	TopK        int
	MutateProb  float64
	Seed        uint64
	Resolution  int
	// Cost is the budgeted quantity (MACs, or predicted latency).
	Cost  func(model.Arch) float64
	Limit float64
}

// MaxAccResult is the outcome of one max-accuracy search.
type MaxAccResult struct {
	Best        Individual
	TopK        []Individual
	Evaluations int
	// Infeasible counts archs drawn over the budget (not evaluated).
	Infeasible int
}

// MaxAccuracy runs the max-accuracy search. acc scores an architecture;
// Individual.Latency holds the arch's cost.
func MaxAccuracy(ctx context.Context, s *model.Space, acc func(model.Arch) (float64, error), o MaxAccOptions) (MaxAccResult, error) {
	o.Initial = cmp.Or(o.Initial, 20)
	o.Children = cmp.Or(o.Children, 50)
	o.Generations = cmp.Or(o.Generations, 4)
	o.TopK = cmp.Or(o.TopK, 10)
	o.MutateProb = cmp.Or(o.MutateProb, 0.5)
	o.Resolution = cmp.Or(o.Resolution, s.Resolution)
	if o.Cost == nil || o.Limit <= 0 {
		return MaxAccResult{}, fmt.Errorf("max-accuracy search: needs a cost function and a positive budget")
	}
	rng := model.NewRand(o.Seed)
	seen := map[string]bool{}
	var res MaxAccResult
	var top []Individual
	consider := func(a model.Arch) (bool, error) {
		key := a.String()
		if seen[key] {
			return false, nil
		}
		seen[key] = true
		c := o.Cost(a)
		if c > o.Limit {
			res.Infeasible++
			return false, nil
		}
		v, err := acc(a)
		if err != nil {
			return false, err
		}
		res.Evaluations++
		top = append(top, Individual{Arch: a, Latency: c, Accuracy: v})
		slices.SortStableFunc(top, func(x, y Individual) int {
			switch {
			case x.Accuracy > y.Accuracy:
				return -1
			case x.Accuracy < y.Accuracy:
				return 1
			}
			return 0
		})
		if len(top) > o.TopK {
			top = top[:o.TopK]
		}
		return true, nil
	}
	grow := func(n int, next func() model.Arch) error {
		got, tries := 0, 0
		for got < n && tries < 200*n {
			if err := ctx.Err(); err != nil {
				return err
			}
			tries++
			ok, err := consider(next())
			if err != nil {
				return err
			}
			if ok {
				got++
			}
		}
		return nil
	}
	if err := grow(o.Initial, func() model.Arch { return s.Sample(rng, o.Resolution) }); err != nil {
		return res, err
	}
	if len(top) == 0 {
		return res, fmt.Errorf("max-accuracy search: no architecture of %s within the budget %g after %d draws", s.Name, o.Limit, res.Infeasible)
	}
	for range o.Generations {
		parents := slices.Clone(top)
		if err := grow(o.Children, func() model.Arch {
			return Mutate(rng, s, parents[rng.IntN(len(parents))].Arch, o.MutateProb)
		}); err != nil {
			return res, err
		}
	}
	res.TopK = top
	res.Best = top[0]
	return res, nil
}
