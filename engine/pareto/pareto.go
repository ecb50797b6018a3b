// Package pareto holds the multi-objective helpers of blockprof's search and
// UI over 2-D points: dominance, the first non-dominated front, NSGA-II
// non-dominated sorting with crowding distance, and the 2-D hypervolume.
//
// Latency is minimised and accuracy is maximised. A NaN objective counts as
// the worst possible value (latency +Inf, accuracy -Inf), so every function is
// total and deterministic on any input. The functions never modify their
// arguments.
package pareto

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// Point is one candidate (for example one profiled architecture) in objective
// space.
type Point struct {
	Latency  float64 // minimised (for example ms)
	Accuracy float64 // maximised (for example top-1 %)
	// ID is the caller's handle for the point, typically its index in the
	// caller's own slice. It is carried through unchanged and used only as a
	// tie-break: points with equal objectives are ordered by ID, then by input
	// order.
	ID int
}

// lat and acc return the objectives with NaN mapped to the worst value.
func lat(p Point) float64 {
	if math.IsNaN(p.Latency) {
		return math.Inf(1)
	}
	return p.Latency
}

func acc(p Point) float64 {
	if math.IsNaN(p.Accuracy) {
		return math.Inf(-1)
	}
	return p.Accuracy
}

// same reports whether a and b have equal objectives (after NaN mapping).
func same(a, b Point) bool { return lat(a) == lat(b) && acc(a) == acc(b) }

// Dominates reports whether a Pareto-dominates b: a is at least as good as b in
// both objectives (latency no higher, accuracy no lower) and strictly better in
// at least one. Equal points do not dominate each other.
func Dominates(a, b Point) bool {
	la, lb, aa, ab := lat(a), lat(b), acc(a), acc(b)
	return la <= lb && aa >= ab && (la < lb || aa > ab)
}

// byLatency orders points by latency ascending, then accuracy descending, then
// ID ascending. In this order every dominator of a point comes before it.
func byLatency(a, b Point) int {
	if c := cmp.Compare(lat(a), lat(b)); c != 0 {
		return c
	}
	if c := cmp.Compare(acc(b), acc(a)); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// sorted returns a copy of points in byLatency order; points equal in all
// three keys keep their input order.
func sorted(points []Point) []Point {
	type entry struct {
		l, a float64
		i    int
	}
	es := make([]entry, len(points))
	for i, p := range points {
		es[i] = entry{lat(p), acc(p), i}
	}
	slices.SortFunc(es, func(x, y entry) int {
		// No NaN is left, so plain comparisons are a total order.
		switch {
		case x.l < y.l:
			return -1
		case x.l > y.l:
			return 1
		case x.a > y.a:
			return -1
		case x.a < y.a:
			return 1
		}
		if c := cmp.Compare(points[x.i].ID, points[y.i].ID); c != 0 {
			return c
		}
		return cmp.Compare(x.i, y.i)
	})
	out := make([]Point, len(es))
	for k, e := range es {
		out[k] = points[e.i]
	}
	return out
}

// Front returns the first non-dominated front of points (the Pareto front),
// sorted by latency ascending (so accuracy ascending too). Points with equal
// objectives do not dominate each other, so all copies of a front point are
// kept, ordered by ID and then by input order. It runs in O(n log n) and
// returns nil for empty input.
func Front(points []Point) []Point {
	var front []Point
	best := math.Inf(-1) // best accuracy among the points before p
	for i, p := range sorted(points) {
		a := acc(p)
		// Every earlier point has latency <= p's; it dominates p iff its
		// accuracy is >= p's and it is not an exact copy of p. Copies are
		// adjacent in this order and share p's fate, so p survives iff it
		// beats every earlier accuracy or copies the last front point.
		if i == 0 || a > best || same(front[len(front)-1], p) {
			front = append(front, p)
		}
		best = max(best, a)
	}
	return front
}

// Sort performs the non-dominated sorting of NSGA-II: the first front is
// Front(points), the second is the front of what remains, and so on. Every
// input point appears in exactly one front; each front is ordered like Front.
// It runs in O(n log n) (2-D sweep with a binary search over fronts).
func Sort(points []Point) [][]Point {
	var fronts [][]Point
	for _, p := range sorted(points) {
		// A front "blocks" p when its last point dominates p. Since every
		// point of front i+1 is dominated by one of front i, blocking is
		// monotone: a prefix of the fronts blocks p and p joins the first
		// front that does not. Only the last point of a front matters: it
		// has the front's highest accuracy and all earlier points have
		// latency <= p's.
		k := sort.Search(len(fronts), func(i int) bool {
			return !Dominates(fronts[i][len(fronts[i])-1], p)
		})
		if k == len(fronts) {
			fronts = append(fronts, nil)
		}
		fronts[k] = append(fronts[k], p)
	}
	return fronts
}

// Crowding returns the NSGA-II crowding distance of each point of front, in
// the order of front. For each objective, the points with the lowest and the
// highest value get +Inf; the others add the gap between their neighbours
// divided by the objective's range. An objective whose range is zero or not
// finite adds nothing to interior points. Fronts of up to two points are all
// +Inf.
func Crowding(front []Point) []float64 {
	n := len(front)
	d := make([]float64, n)
	if n <= 2 {
		for i := range d {
			d[i] = math.Inf(1)
		}
		return d
	}
	idx := make([]int, n)
	for _, obj := range []func(Point) float64{lat, acc} {
		for i := range idx {
			idx[i] = i
		}
		slices.SortStableFunc(idx, func(i, j int) int { return cmp.Compare(obj(front[i]), obj(front[j])) })
		d[idx[0]], d[idx[n-1]] = math.Inf(1), math.Inf(1)
		span := obj(front[idx[n-1]]) - obj(front[idx[0]])
		if span == 0 || math.IsInf(span, 0) || math.IsNaN(span) {
			continue
		}
		for k := 1; k < n-1; k++ {
			d[idx[k]] += (obj(front[idx[k+1]]) - obj(front[idx[k-1]])) / span
		}
	}
	return d
}

// Hypervolume returns the 2-D hypervolume of points with respect to ref: the
// area of the region dominated by the set and bounded by ref, whose latency is
// an upper bound and whose accuracy is a lower bound. Points that do not
// dominate ref (latency >= ref's or accuracy <= ref's, or NaN) contribute
// nothing; an empty set, or a NaN reference, gives 0. It runs in O(n log n).
// Compare hypervolumes only under the same reference point.
func Hypervolume(points []Point, ref Point) float64 {
	var in []Point
	for _, p := range points {
		if p.Latency < ref.Latency && p.Accuracy > ref.Accuracy {
			in = append(in, p)
		}
	}
	if len(in) == 0 {
		return 0
	}
	slices.SortFunc(in, byLatency)
	// Sweep latency left to right: at latency x the dominated region spans
	// accuracy from ref up to the best accuracy of points with latency <= x.
	area, best := 0.0, ref.Accuracy
	for i, p := range in {
		best = max(best, p.Accuracy)
		next := ref.Latency
		if i+1 < len(in) {
			next = in[i+1].Latency
		}
		if next > p.Latency {
			area += (next - p.Latency) * (best - ref.Accuracy)
		}
	}
	return area
}
