package stats

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkRidge fits a 2,000×60 design (the size of a friendliness fit:
// ~20 units × 3 one-hot block columns over 2,000 measured archs) with
// standard errors.
func BenchmarkRidge(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	beta := make([]float64, 60)
	for j := range beta {
		beta[j] = rng.NormFloat64()
	}
	X := randDesign(rng, 2000, 60)
	y := planted(rng, X, 1, beta, 0.5)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Ridge(X, y, 1, RidgeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRidgeCV picks λ from 13 values by 5-fold CV on 2,000×60.
func BenchmarkRidgeCV(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	beta := make([]float64, 60)
	for j := range beta {
		beta[j] = rng.NormFloat64()
	}
	X := randDesign(rng, 2000, 60)
	y := planted(rng, X, 1, beta, 0.5)
	lambdas := LogSpace(1e-3, 1e3, 13)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RidgeCV(X, y, lambdas, 5, rng, RidgeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBootstrap draws 1,000 resamples of 100 values.
func BenchmarkBootstrap(b *testing.B) {
	for _, bc := range []struct {
		name string
		stat func([]float64) float64
	}{{"Mean", Mean}, {"Median", Median}} {
		b.Run(bc.name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			xs := normalSample(rng, 100, 10, 1)
			b.ReportAllocs()
			for b.Loop() {
				Bootstrap(rng, xs, bc.stat, 1000, 0.95)
			}
		})
	}
}

func BenchmarkBootstrapDiff(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	a := normalSample(rng, 100, 10, 1)
	c := normalSample(rng, 100, 11, 1)
	b.ReportAllocs()
	for b.Loop() {
		BootstrapDiff(rng, a, c, Mean, 1000, 0.95)
	}
}

func BenchmarkMedian100(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	xs := normalSample(rng, 100, 10, 1)
	b.ReportAllocs()
	for b.Loop() {
		Median(xs)
	}
}

func BenchmarkSpearman1000(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := normalSample(rng, 1000, 0, 1)
	y := normalSample(rng, 1000, 0, 1)
	b.ReportAllocs()
	for b.Loop() {
		Spearman(x, y)
	}
}
