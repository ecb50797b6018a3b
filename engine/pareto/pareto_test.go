package pareto

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestDominates(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		a, b Point
		want bool
	}{
		{"faster and more accurate", Point{Latency: 1, Accuracy: 0.9}, Point{Latency: 2, Accuracy: 0.8}, true},
		{"faster, same accuracy", Point{Latency: 1, Accuracy: 0.8}, Point{Latency: 2, Accuracy: 0.8}, true},
		{"same latency, more accurate", Point{Latency: 2, Accuracy: 0.9}, Point{Latency: 2, Accuracy: 0.8}, true},
		{"equal points", Point{Latency: 2, Accuracy: 0.8, ID: 1}, Point{Latency: 2, Accuracy: 0.8, ID: 2}, false},
		{"trade-off", Point{Latency: 1, Accuracy: 0.7}, Point{Latency: 2, Accuracy: 0.8}, false},
		{"dominated", Point{Latency: 2, Accuracy: 0.8}, Point{Latency: 1, Accuracy: 0.9}, false},
		{"NaN latency is worst", Point{Latency: 5, Accuracy: 0.8}, Point{Latency: nan, Accuracy: 0.8}, true},
		{"NaN accuracy is worst", Point{Latency: 5, Accuracy: 0.1}, Point{Latency: 5, Accuracy: nan}, true},
		{"NaN point never dominates", Point{Latency: nan, Accuracy: nan}, Point{Latency: 5, Accuracy: 0.1}, false},
		{"two NaN points are equal", Point{Latency: nan, Accuracy: nan}, Point{Latency: nan, Accuracy: nan}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Dominates(tt.a, tt.b); got != tt.want {
				t.Errorf("Dominates(%+v, %+v) = %v, want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestFrontExamples(t *testing.T) {
	tests := []struct {
		name   string
		points []Point
		want   []int // IDs in order
	}{
		{"empty", nil, nil},
		{"single", []Point{{Latency: 3, Accuracy: 0.5, ID: 7}}, []int{7}},
		{"chain", []Point{
			{Latency: 3, Accuracy: 0.7, ID: 0},
			{Latency: 1, Accuracy: 0.5, ID: 1},
			{Latency: 2, Accuracy: 0.4, ID: 2}, // dominated by 1
			{Latency: 2, Accuracy: 0.6, ID: 3},
			{Latency: 4, Accuracy: 0.7, ID: 4}, // dominated by 0
		}, []int{1, 3, 0}},
		{"duplicates kept in ID order", []Point{
			{Latency: 2, Accuracy: 0.6, ID: 5},
			{Latency: 1, Accuracy: 0.5, ID: 9},
			{Latency: 2, Accuracy: 0.6, ID: 3},
			{Latency: 1, Accuracy: 0.5, ID: 1},
		}, []int{1, 9, 3, 5}},
		{"same latency keeps the most accurate", []Point{
			{Latency: 1, Accuracy: 0.5, ID: 0},
			{Latency: 1, Accuracy: 0.6, ID: 1},
		}, []int{1}},
		{"NaN point is dominated", []Point{
			{Latency: math.NaN(), Accuracy: 0.9, ID: 0},
			{Latency: 1, Accuracy: 0.9, ID: 1},
		}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ids(Front(tt.points))
			if !slices.Equal(got, tt.want) {
				t.Errorf("Front IDs = %v, want %v", got, tt.want)
			}
		})
	}
}

func ids(ps []Point) []int {
	var out []int
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// randomPoints draws n points. With grid > 0 the coordinates are small
// integers so that ties and exact duplicates are frequent.
func randomPoints(rng *rand.Rand, n, grid int) []Point {
	ps := make([]Point, n)
	for i := range ps {
		if grid > 0 {
			ps[i] = Point{Latency: float64(rng.IntN(grid)), Accuracy: float64(rng.IntN(grid)), ID: i}
		} else {
			ps[i] = Point{Latency: 10 + 90*rng.Float64(), Accuracy: 0.6 + 0.2*rng.Float64(), ID: i}
		}
	}
	return ps
}

// bruteFront is the O(n²) definition of the first front, as a set of IDs.
func bruteFront(ps []Point) map[int]bool {
	in := map[int]bool{}
	for _, p := range ps {
		dominated := false
		for _, q := range ps {
			if Dominates(q, p) {
				dominated = true
				break
			}
		}
		if !dominated {
			in[p.ID] = true
		}
	}
	return in
}

func checkOrdered(t *testing.T, front []Point) {
	t.Helper()
	for i := 1; i < len(front); i++ {
		a, b := front[i-1], front[i]
		if lat(a) > lat(b) || (lat(a) == lat(b) && a.ID > b.ID) {
			t.Fatalf("front not sorted by latency then ID at %d: %+v then %+v", i, a, b)
		}
	}
}

func TestFrontProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 300 {
		n := rng.IntN(60)
		grid := []int{0, 4, 10}[trial%3]
		ps := randomPoints(rng, n, grid)
		front := Front(ps)
		checkOrdered(t, front)
		for _, p := range front {
			for _, q := range front {
				if Dominates(q, p) {
					t.Fatalf("trial %d: front point %+v dominated by front point %+v", trial, p, q)
				}
			}
		}
		in := map[int]bool{}
		for _, p := range front {
			in[p.ID] = true
		}
		for _, p := range ps {
			if in[p.ID] {
				continue
			}
			if !slices.ContainsFunc(front, func(q Point) bool { return Dominates(q, p) }) {
				t.Fatalf("trial %d: excluded point %+v is dominated by no front point", trial, p)
			}
		}
		want := bruteFront(ps)
		if len(want) != len(front) {
			t.Fatalf("trial %d: front has %d points, brute force %d", trial, len(front), len(want))
		}
	}
}

func TestFrontDoesNotModifyInput(t *testing.T) {
	ps := randomPoints(rand.New(rand.NewPCG(3, 4)), 50, 0)
	orig := slices.Clone(ps)
	Front(ps)
	Sort(ps)
	Crowding(ps)
	Hypervolume(ps, Point{Latency: 100, Accuracy: 0.6})
	if !slices.Equal(ps, orig) {
		t.Fatal("input slice was modified")
	}
}

func TestSortProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := range 300 {
		n := rng.IntN(80)
		grid := []int{0, 5, 12}[trial%3]
		ps := randomPoints(rng, n, grid)
		fronts := Sort(ps)

		// Partition: every input point exactly once, no empty front.
		seen := map[int]int{}
		for _, f := range fronts {
			if len(f) == 0 {
				t.Fatalf("trial %d: empty front", trial)
			}
			for _, p := range f {
				seen[p.ID]++
			}
		}
		if len(seen) != n {
			t.Fatalf("trial %d: fronts hold %d distinct points, input %d", trial, len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Fatalf("trial %d: point %d appears %d times", trial, id, c)
			}
		}

		// Reference: peel fronts off with the brute-force definition.
		rest := slices.Clone(ps)
		for k, f := range fronts {
			checkOrdered(t, f)
			want := bruteFront(rest)
			if len(want) != len(f) {
				t.Fatalf("trial %d front %d: %d points, brute force %d", trial, k, len(f), len(want))
			}
			for _, p := range f {
				if !want[p.ID] {
					t.Fatalf("trial %d front %d: point %+v is not in the brute-force front", trial, k, p)
				}
			}
			rest = slices.DeleteFunc(rest, func(p Point) bool { return want[p.ID] })
		}
		if len(rest) != 0 {
			t.Fatalf("trial %d: %d points left after all fronts", trial, len(rest))
		}
		if n > 0 && !slices.Equal(ids(fronts[0]), ids(Front(ps))) {
			t.Fatalf("trial %d: Sort()[0] = %v, Front = %v", trial, ids(fronts[0]), ids(Front(ps)))
		}
	}
}

func TestCrowding(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		name  string
		front []Point
		want  []float64
	}{
		{"empty", nil, []float64{}},
		{"one", []Point{{Latency: 1, Accuracy: 1}}, []float64{inf}},
		{"two", []Point{{Latency: 1, Accuracy: 1}, {Latency: 2, Accuracy: 2}}, []float64{inf, inf}},
		{"four, unsorted input", []Point{
			{Latency: 4, Accuracy: 0.8},
			{Latency: 0, Accuracy: 0.0},
			{Latency: 3, Accuracy: 0.6},
			{Latency: 1, Accuracy: 0.2},
		}, []float64{inf, inf, (4.0-1)/4 + (0.8-0.2)/0.8, (3.0-0)/4 + (0.6-0)/0.8}},
		{"zero range objective", []Point{
			{Latency: 1, Accuracy: 0.5}, {Latency: 2, Accuracy: 0.5}, {Latency: 4, Accuracy: 0.5},
		}, []float64{inf, 3.0 / 3, inf}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Crowding(tt.front)
			if len(got) != len(tt.want) {
				t.Fatalf("len = %d, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] && math.Abs(got[i]-tt.want[i]) > 1e-12 {
					t.Errorf("distance[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestCrowdingNeverNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		ps := randomPoints(rng, rng.IntN(20), 3)
		if len(ps) > 0 && rng.IntN(2) == 0 {
			ps[0].Latency = math.Inf(1)
		}
		for i, d := range Crowding(ps) {
			if math.IsNaN(d) || d < 0 {
				t.Fatalf("distance[%d] = %v for %+v", i, d, ps)
			}
		}
	}
}

func TestHypervolumeExamples(t *testing.T) {
	ref := Point{Latency: 10, Accuracy: 0}
	tests := []struct {
		name   string
		points []Point
		ref    Point
		want   float64
	}{
		{"empty", nil, ref, 0},
		{"one point", []Point{{Latency: 4, Accuracy: 2}}, ref, 6 * 2},
		{"two steps", []Point{{Latency: 2, Accuracy: 1}, {Latency: 6, Accuracy: 3}}, ref, 8*1 + 4*2},
		{"dominated point adds nothing", []Point{{Latency: 2, Accuracy: 1}, {Latency: 6, Accuracy: 3}, {Latency: 7, Accuracy: 2}}, ref, 8*1 + 4*2},
		{"point on the reference latency", []Point{{Latency: 10, Accuracy: 5}}, ref, 0},
		{"point beyond the reference", []Point{{Latency: 12, Accuracy: 5}, {Latency: 5, Accuracy: -1}}, ref, 0},
		{"NaN point", []Point{{Latency: math.NaN(), Accuracy: 5}, {Latency: 5, Accuracy: 1}}, ref, 5},
		{"NaN reference", []Point{{Latency: 5, Accuracy: 1}}, Point{Latency: math.NaN(), Accuracy: 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Hypervolume(tt.points, tt.ref); got != tt.want {
				t.Errorf("Hypervolume = %v, want %v", got, tt.want)
			}
		})
	}
}

// gridVolume counts the unit cells of [0, ref.Latency) x [ref.Accuracy, top)
// covered by a point's dominated box; exact for integer coordinates.
func gridVolume(ps []Point, ref Point, top int) float64 {
	count := 0
	for x := 0; x < int(ref.Latency); x++ {
		for y := int(ref.Accuracy); y < top; y++ {
			for _, p := range ps {
				// Cell [x, x+1) x [y, y+1) lies in [p.L, ref.L] x [ref.A, p.A].
				if p.Latency <= float64(x) && float64(y+1) <= p.Accuracy {
					count++
					break
				}
			}
		}
	}
	return float64(count)
}

// inclusionExclusion sums the signed areas of the intersections of every
// non-empty subset of the points' dominated boxes.
func inclusionExclusion(ps []Point, ref Point) float64 {
	total := 0.0
	for mask := 1; mask < 1<<len(ps); mask++ {
		l, a, bits := math.Inf(-1), math.Inf(1), 0
		for i, p := range ps {
			if mask&(1<<i) != 0 {
				l, a, bits = max(l, p.Latency), min(a, p.Accuracy), bits+1
			}
		}
		area := max(0, ref.Latency-l) * max(0, a-ref.Accuracy)
		if bits%2 == 1 {
			total += area
		} else {
			total -= area
		}
	}
	return total
}

func TestHypervolumeBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	t.Run("grid", func(t *testing.T) {
		for trial := range 200 {
			ps := randomPoints(rng, rng.IntN(40), 20) // integers in [0, 20)
			ref := Point{Latency: float64(5 + rng.IntN(16)), Accuracy: float64(rng.IntN(8))}
			got, want := Hypervolume(ps, ref), gridVolume(ps, ref, 20)
			if got != want {
				t.Fatalf("trial %d: Hypervolume = %v, grid count = %v (ref %+v, points %+v)", trial, got, want, ref, ps)
			}
		}
	})
	t.Run("inclusion-exclusion", func(t *testing.T) {
		for trial := range 200 {
			ps := randomPoints(rng, rng.IntN(11), 0)
			ref := Point{Latency: 60 + 40*rng.Float64(), Accuracy: 0.6 + 0.05*rng.Float64()}
			got, want := Hypervolume(ps, ref), inclusionExclusion(ps, ref)
			if math.Abs(got-want) > 1e-9*max(1, math.Abs(want)) {
				t.Fatalf("trial %d: Hypervolume = %v, inclusion-exclusion = %v", trial, got, want)
			}
		}
	})
	t.Run("front only", func(t *testing.T) {
		for trial := range 100 {
			ps := randomPoints(rng, 1+rng.IntN(200), 0)
			ref := Point{Latency: 100, Accuracy: 0.6}
			// Summation order differs, so allow rounding.
			if a, b := Hypervolume(ps, ref), Hypervolume(Front(ps), ref); math.Abs(a-b) > 1e-12*a {
				t.Fatalf("trial %d: hypervolume of set %v != of its front %v", trial, a, b)
			}
		}
	})
}

func BenchmarkFrontHypervolume(b *testing.B) {
	ps := randomPoints(rand.New(rand.NewPCG(11, 12)), 2300, 0)
	ref := Point{Latency: 100, Accuracy: 0.6}
	b.ReportAllocs()
	for b.Loop() {
		f := Front(ps)
		if Hypervolume(f, ref) <= 0 {
			b.Fatal("zero hypervolume")
		}
	}
}

func BenchmarkSort(b *testing.B) {
	ps := randomPoints(rand.New(rand.NewPCG(13, 14)), 2300, 0)
	b.ReportAllocs()
	for b.Loop() {
		Sort(ps)
	}
}
