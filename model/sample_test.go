package model

import (
	"math"
	"testing"
)

// TestSampleUniform checks depth and block frequencies of 10k uniform
// samples: each frequency within 5 standard errors of uniform.
func TestSampleUniform(t *testing.T) {
	ss := defaultSpaces(t)
	for _, name := range []string{"ofa-mbv3", "ofa-pn-w1.3", "ofa-resnet50"} {
		sp := ss.mustGet(t, name)
		rng := NewRand(42)
		const n = 10000
		depth := make([]map[int]int, len(sp.Units))
		block := make([]map[Block]int, len(sp.Units))
		layers := make([]int, len(sp.Units))
		for i := range depth {
			depth[i], block[i] = map[int]int{}, map[Block]int{}
		}
		for range n {
			a := sp.Sample(rng, sp.Resolution)
			for i, u := range a.Units {
				depth[i][len(u)]++
				for _, b := range u {
					block[i][b]++
					layers[i]++
				}
			}
		}
		within := func(what string, count, total int, p float64) {
			exp := float64(total) * p
			sd := math.Sqrt(float64(total) * p * (1 - p))
			if sd == 0 {
				sd = 1
			}
			if math.Abs(float64(count)-exp) > 5*sd {
				t.Errorf("%s %s: %d of %d, expected %.0f ± %.0f", name, what, count, total, exp, sd)
			}
		}
		for i, u := range sp.Units {
			for _, d := range u.Depths {
				within("depth", depth[i][d], n, 1/float64(len(u.Depths)))
			}
			for _, b := range u.Blocks {
				within("block "+b.Key(), block[i][b], layers[i], 1/float64(len(u.Blocks)))
			}
		}
	}
}

// TestSampleFixed checks that every A_{u,l,b} of the paper's sampler has b
// active at (u,l), that the depth of u is uniform over depths ≥ l, and that
// the BlockProfile sampler leaves the block inactive at times.
func TestSampleFixed(t *testing.T) {
	ss := defaultSpaces(t)
	for _, name := range []string{"ofa-mbv3", "ofa-pn-w1.3", "ofa-resnet50"} {
		sp := ss.mustGet(t, name)
		rng := NewRand(3)
		for _, f := range sp.Locations() {
			for range 20 {
				a, err := sp.SampleFixed(rng, sp.Resolution, f, FixPaper)
				if err != nil {
					t.Fatal(err)
				}
				if !f.Active(a) {
					t.Fatalf("%s %s: fixed block not active in %s", name, f, a)
				}
				if err := sp.Check(a); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sp := ss.mustGet(t, "ofa-mbv3")
	f := Fix{Unit: 3, Layer: 4, Block: Block{K: 7, E: 6}}
	rng := NewRand(5)
	inactive, d4 := 0, 0
	for range 3000 {
		a, _ := sp.SampleFixed(rng, 224, f, FixBlockProfile)
		if !f.Active(a) {
			inactive++
		}
		b, _ := sp.SampleFixed(rng, 224, f, FixPaper)
		if len(b.Units[2]) == 4 {
			d4++
		}
	}
	// BlockProfile: depth from {2,3,4} raised to 3: inactive with p = 2/3.
	if inactive < 1800 || inactive > 2200 {
		t.Errorf("blockprofile sampler: fixed block inactive %d of 3000, expected ≈2000", inactive)
	}
	if d4 != 3000 {
		t.Errorf("paper sampler at layer 4: depth 4 in %d of 3000", d4)
	}
}

func TestPlanDeterministic(t *testing.T) {
	ss := defaultSpaces(t)
	sp := ss.mustGet(t, "ofa-mbv3-w1.0")
	p1, err := sp.Plan(PlanSpec{Uniform: 20, PerLocation: 2, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := sp.Plan(PlanSpec{Uniform: 20, PerLocation: 2, Seed: 9})
	if len(p1) != 20+2*180 {
		t.Fatalf("plan has %d items, want %d", len(p1), 20+2*180)
	}
	for i := range p1 {
		if p1[i].Arch.String() != p2[i].Arch.String() {
			t.Fatalf("plan item %d differs between runs", i)
		}
	}
	// Growing the uniform part keeps the fixed archs.
	p3, _ := sp.Plan(PlanSpec{Uniform: 30, PerLocation: 2, Seed: 9})
	if p3[30].Arch.String() != p1[20].Arch.String() {
		t.Errorf("growing the uniform part changed the fixed archs")
	}
	if _, err := sp.Plan(PlanSpec{Resolution: 225}); err == nil {
		t.Error("plan accepted resolution 225")
	}
}
