// Package search is blockprof's hardware-aware evolutionary search (paper
// §5): a random initial population within a (possibly reduced) space,
// unit-wise mutations that respect each unit's blocks and depths,
// de-duplicated children, and parents taken from the first non-dominated
// front (accuracy up, latency down), or NSGA-II ranking with crowding.
package search

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"

	"blockprof/engine/pareto"
	"blockprof/model"
)

// Evaluator scores an architecture: latency (lower is better) and accuracy
// (higher is better). It must be safe to call from one goroutine at a time.
type Evaluator func(a model.Arch) (latency, accuracy float64, err error)

// Options configure one search. Zero values take the paper's defaults.
type Options struct {
	Initial     int     // initial population (paper: 100)
	Children    int     // children per generation (paper: 200)
	Generations int     // generations (paper: 10)
	MutateProb  float64 // per-unit mutation probability (paper code: 0.5); a unit's MutationProb overrides it
	// Crowding selects NSGA-II survival (rank, then crowding distance,
	// population kept at Initial) instead of the paper's "parents = first
	// front of everything evaluated".
	Crowding   bool
	Seed       uint64
	Resolution int
}

func (o *Options) defaults(s *model.Space) {
	o.Initial = cmp.Or(o.Initial, 100)
	o.Children = cmp.Or(o.Children, 200)
	o.Generations = cmp.Or(o.Generations, 10)
	o.MutateProb = cmp.Or(o.MutateProb, 0.5)
	o.Resolution = cmp.Or(o.Resolution, s.Resolution)
}

// Individual is an evaluated architecture.
type Individual struct {
	Arch     model.Arch
	Latency  float64
	Accuracy float64
}

// Progress is published after the initial population and each generation.
type Progress struct {
	Generation  int // 0 = initial population
	Generations int
	Evaluations int
	FrontSize   int
	// Hypervolume of the current front against Ref (if Ref is set on the
	// Search; else against the front's own nadir).
	Hypervolume float64
}

// Result is the outcome of one search.
type Result struct {
	// Front is the first non-dominated front of everything evaluated,
	// sorted by latency.
	Front       []Individual
	Evaluated   []Individual
	Evaluations int
	History     []Progress
}

// Run searches the space. progress, if non-nil, is called from the calling
// goroutine after every generation. Run stops early, returning ctx's error
// and the result so far, when ctx ends.
func Run(ctx context.Context, s *model.Space, eval Evaluator, opts Options, progress func(Progress)) (Result, error) {
	opts.defaults(s)
	if opts.Initial < 1 || opts.Children < 1 || opts.Generations < 0 || opts.MutateProb <= 0 || opts.MutateProb > 1 {
		return Result{}, fmt.Errorf("search: want initial ≥ 1, children ≥ 1, generations ≥ 0, 0 < mutate_prob ≤ 1")
	}
	rng := model.NewRand(opts.Seed)
	st := &state{space: s, eval: eval, seen: map[string]bool{}}
	var res Result
	// Initial population: uniform within the space, de-duplicated.
	pop, err := st.fill(ctx, opts.Initial, func() model.Arch { return s.Sample(rng, opts.Resolution) })
	if err != nil {
		return st.result(res), err
	}
	report := func(gen int) {
		front := pareto.Front(points(st.all))
		p := Progress{Generation: gen, Generations: opts.Generations, Evaluations: len(st.all), FrontSize: len(front)}
		p.Hypervolume = pareto.Hypervolume(front, nadir(points(st.all)))
		res.History = append(res.History, p)
		if progress != nil {
			progress(p)
		}
	}
	report(0)
	for gen := 1; gen <= opts.Generations; gen++ {
		var parents []Individual
		if opts.Crowding {
			parents = pop
		} else {
			parents = byIDs(st.all, pareto.Front(points(st.all)))
		}
		children, err := st.fill(ctx, opts.Children, func() model.Arch {
			p := parents[rng.IntN(len(parents))]
			return Mutate(rng, s, p.Arch, opts.MutateProb)
		})
		if err != nil {
			return st.result(res), err
		}
		if opts.Crowding {
			pop = survive(append(pop, children...), opts.Initial)
		}
		report(gen)
	}
	return st.result(res), nil
}

type state struct {
	space *model.Space
	eval  Evaluator
	seen  map[string]bool
	all   []Individual
}

// fill evaluates n new unique archs drawn from next. If the space runs out
// of new archs (a tiny reduced space), it stops after many misses.
func (st *state) fill(ctx context.Context, n int, next func() model.Arch) ([]Individual, error) {
	var out []Individual
	misses := 0
	for len(out) < n && misses < 50*n+1000 {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		a := next()
		key := a.String()
		if st.seen[key] {
			misses++
			continue
		}
		st.seen[key] = true
		lat, acc, err := st.eval(a)
		if err != nil {
			return out, fmt.Errorf("search: evaluating %s: %w", key, err)
		}
		ind := Individual{Arch: a, Latency: lat, Accuracy: acc}
		st.all = append(st.all, ind)
		out = append(out, ind)
	}
	return out, nil
}

func (st *state) result(r Result) Result {
	r.Evaluated = st.all
	r.Evaluations = len(st.all)
	r.Front = byIDs(st.all, pareto.Front(points(st.all)))
	return r
}

func points(inds []Individual) []pareto.Point {
	ps := make([]pareto.Point, len(inds))
	for i, x := range inds {
		ps[i] = pareto.Point{Latency: x.Latency, Accuracy: x.Accuracy, ID: i}
	}
	return ps
}

func byIDs(inds []Individual, ps []pareto.Point) []Individual {
	out := make([]Individual, len(ps))
	for i, p := range ps {
		out[i] = inds[p.ID]
	}
	return out
}

// nadir is the worst latency and accuracy of a set: the reference point of
// a search's own progress hypervolume.
func nadir(ps []pareto.Point) pareto.Point {
	if len(ps) == 0 {
		return pareto.Point{}
	}
	r := pareto.Point{Latency: ps[0].Latency, Accuracy: ps[0].Accuracy}
	for _, p := range ps {
		r.Latency = max(r.Latency, p.Latency)
		r.Accuracy = min(r.Accuracy, p.Accuracy)
	}
	return r
}

// survive keeps n individuals by non-dominated rank, then crowding
// distance (NSGA-II).
func survive(pop []Individual, n int) []Individual {
	if len(pop) <= n {
		return pop
	}
	var out []Individual
	for _, front := range pareto.Sort(points(pop)) {
		if len(out)+len(front) <= n {
			out = append(out, byIDs(pop, front)...)
			continue
		}
		cd := pareto.Crowding(front)
		idx := make([]int, len(front))
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(a, b int) int {
			switch {
			case cd[a] > cd[b]:
				return -1
			case cd[a] < cd[b]:
				return 1
			}
			return 0
		})
		for _, i := range idx[:n-len(out)] {
			out = append(out, pop[front[i].ID])
		}
		break
	}
	return out
}

// ErrNoMutation is returned by MutateUnit when no mutation is valid.
var ErrNoMutation = errors.New("no valid mutation for this unit")

// Mutate returns a child of a: each unit mutates with its own probability
// (the unit's MutationProb, else p), at least one unit always mutates, and
// the mutation type is uniform over the valid ones (add a layer, remove a
// layer, swap a block; for bottleneck spaces also swap the unit's channel
// ratio, and the stem mutates with probability p/2). The child lies in s.
func Mutate(rng *rand.Rand, s *model.Space, a model.Arch, p float64) model.Arch {
	c := a.Clone()
	mutated := false
	for i, u := range s.Units {
		pu := p
		if u.MutationProb > 0 {
			pu = u.MutationProb
		}
		if rng.Float64() < pu {
			if mutateUnit(rng, s, &c, i) == nil {
				mutated = true
			}
		}
	}
	if s.Family == model.Bottleneck && rng.Float64() < p/2 {
		mutateStem(rng, s, &c)
		mutated = true
	}
	for tries := 0; !mutated && tries < 4*len(s.Units); tries++ {
		if mutateUnit(rng, s, &c, rng.IntN(len(s.Units))) == nil {
			mutated = true
		}
	}
	return c
}

func mutateStem(rng *rand.Rand, s *model.Space, a *model.Arch) {
	if rng.IntN(2) == 0 && len(s.Stem.SkipDepths) > 1 {
		for {
			d := s.Stem.SkipDepths[rng.IntN(len(s.Stem.SkipDepths))]
			if d != a.StemDepth {
				a.StemDepth = d
				return
			}
		}
	}
	a.StemW0 = rng.IntN(len(s.Stem.Ratios))
	a.StemW1 = rng.IntN(len(s.Stem.Ratios))
}

// mutateUnit applies one uniformly chosen valid mutation to unit i.
func mutateUnit(rng *rand.Rand, s *model.Space, a *model.Arch, i int) error {
	u := s.Units[i]
	layers := a.Units[i]
	d := len(layers)
	choices := unitChoices(s, u, layers)
	type op int
	const (
		add op = iota
		remove
		swap
		swapRatio
	)
	var ops []op
	if slices.Contains(u.Depths, d+1) && len(choices) > 0 {
		ops = append(ops, add)
	}
	if slices.Contains(u.Depths, d-1) {
		ops = append(ops, remove)
	}
	if len(choices) > 1 {
		ops = append(ops, swap)
	}
	if s.Family == model.Bottleneck && len(u.Widths()) > 1 {
		ops = append(ops, swapRatio)
	}
	if len(ops) == 0 {
		return ErrNoMutation
	}
	switch ops[rng.IntN(len(ops))] {
	case add:
		pos := rng.IntN(d + 1)
		b := choices[rng.IntN(len(choices))]
		layers = slices.Insert(slices.Clone(layers), pos, b)
	case remove:
		pos := rng.IntN(d)
		layers = slices.Delete(slices.Clone(layers), pos, pos+1)
	case swap:
		pos := rng.IntN(d)
		old := layers[pos]
		var others []model.Block
		for _, b := range choices {
			if b != old {
				others = append(others, b)
			}
		}
		layers = slices.Clone(layers)
		layers[pos] = others[rng.IntN(len(others))]
	case swapRatio:
		ws := slices.DeleteFunc(u.Widths(), func(w float64) bool { return d > 0 && w == layers[0].W })
		w := ws[rng.IntN(len(ws))]
		var withW []model.Block
		for _, b := range u.Blocks {
			if b.W == w {
				withW = append(withW, b)
			}
		}
		layers = slices.Clone(layers)
		for j := range layers {
			nb := model.Block{K: layers[j].K, W: w, E: layers[j].E}
			if !u.Allows(nb) {
				nb = withW[rng.IntN(len(withW))]
			}
			layers[j] = nb
		}
	}
	a.Units[i] = layers
	return nil
}

// unitChoices are the blocks a layer of the unit may take given its other
// layers (bottleneck units share one channel ratio).
func unitChoices(s *model.Space, u model.Unit, layers []model.Block) []model.Block {
	if s.Family != model.Bottleneck || len(layers) == 0 {
		return u.Blocks
	}
	var out []model.Block
	for _, b := range u.Blocks {
		if b.W == layers[0].W {
			out = append(out, b)
		}
	}
	return out
}
