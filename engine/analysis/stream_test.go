package analysis

import (
	"math"
	"runtime"
	"testing"

	"gonum.org/v1/gonum/mat"

	"blockprof/model"
)

// matrixFit is the regression as matrices: the centred n×p design X, its
// Gram matrix XᵀX, Z = XV and the leave-one-out error of every penalty.
// FitAdditive streams the same sums a row at a time without holding X.
func matrixFit(t *testing.T, sp *model.Space, obs []Obs, opt Options) (lambda, q2 float64, beta []float64) {
	t.Helper()
	opt = opt.withDefaults()
	d := newDesign(sp)
	var rows [][]float64
	var y []float64
	for _, o := range obs {
		if o.Fix != nil || math.IsNaN(o.Value) {
			continue
		}
		x, err := d.row(o.Arch)
		if err != nil {
			t.Fatal(err)
		}
		rows, y = append(rows, x), append(y, o.Value)
	}
	n, p := len(rows), d.p
	ybar := mean(y)
	xbar := make([]float64, p)
	for _, r := range rows {
		for j, v := range r {
			xbar[j] += v / float64(n)
		}
	}
	X := mat.NewDense(n, p, nil)
	yc := make([]float64, n)
	for i, r := range rows {
		for j, v := range r {
			X.Set(i, j, v-xbar[j])
		}
		yc[i] = y[i] - ybar
	}
	var gram mat.SymDense
	gram.SymOuterK(1, X.T())
	var eig mat.EigenSym
	if !eig.Factorize(&gram, true) {
		t.Fatal("eigen-decomposition failed")
	}
	vals := eig.Values(nil)
	var V, Z mat.Dense
	eig.VectorsTo(&V)
	Z.Mul(X, &V)
	scale := 0.0
	for _, v := range vals {
		scale += math.Max(v, 0) / float64(p)
	}
	zy := make([]float64, p)
	for j := range p {
		for i := range n {
			zy[j] += Z.At(i, j) * yc[i]
		}
	}
	tss := 0.0
	for _, v := range yc {
		tss += v * v
	}
	bestLoo, bestAlpha := math.Inf(1), []float64(nil)
	for _, rl := range opt.Lambdas {
		lam := rl * scale
		alpha, df := make([]float64, p), 0.0
		for j := range p {
			if den := math.Max(vals[j], 0) + lam; den > 0 {
				alpha[j] = zy[j] / den
				df += math.Max(vals[j], 0) / den
			}
		}
		loo, ok := 0.0, true
		for i := range n {
			pred, h := 0.0, 1/float64(n)
			for j := range p {
				z := Z.At(i, j)
				pred += z * alpha[j]
				if den := math.Max(vals[j], 0) + lam; den > 0 {
					h += z * z / den
				}
			}
			if h >= 1-1e-9 {
				ok = false
				break
			}
			r := yc[i] - pred
			loo += (r / (1 - h)) * (r / (1 - h))
		}
		if ok && float64(n)-df-1 >= math.Max(minResidualDF, float64(n)/10) && loo < bestLoo {
			bestLoo, bestAlpha, lambda = loo, alpha, rl
		}
	}
	beta = make([]float64, p)
	for j := range p {
		for k := range p {
			beta[k] += V.At(k, j) * bestAlpha[j]
		}
	}
	return lambda, 1 - bestLoo/tss, beta
}

// TestFitStreamsLikeMatrices: the fit that never holds the design matrix
// chooses the same penalty and gives the same coefficients and
// leave-one-out R² as the fit over matrices, to the last bit on amd64
// (where neither fuses a multiply-add), in a plain and a bottleneck space,
// with noise and with too few archs for a weak penalty.
func TestFitStreamsLikeMatrices(t *testing.T) {
	for _, c := range []struct {
		space string
		n     int
		noise float64
	}{
		{"ofa-mbv3", 400, 0.05},
		{"ofa-mbv3", 40, 0.3},
		{"ofa-pn-w1.3", 300, 0.1},
		{"ofa-resnet50", 300, 0.1},
	} {
		t.Run(c.space, func(t *testing.T) {
			sp := space(t, c.space)
			p := newPlanted(sp, 7, 1, c.noise)
			obs := p.observe(plan(t, sp, c.n, 0, 1, model.FixPaper), 1)
			fit, err := FitAdditive(sp, obs, Options{})
			if err != nil {
				t.Fatal(err)
			}
			lambda, q2, beta := matrixFit(t, sp, obs, Options{})
			tol := 0.0
			if runtime.GOARCH != "amd64" {
				tol = 1e-9
			}
			same := func(a, b float64) bool { return math.Abs(a-b) <= tol*math.Max(1, math.Abs(b)) }
			if fit.Lambda != lambda || !same(fit.Q2, q2) {
				t.Errorf("streamed: λ %g, Q² %.17g; matrices: λ %g, Q² %.17g", fit.Lambda, fit.Q2, lambda, q2)
			}
			for j := range beta {
				if !same(fit.beta[j], beta[j]) {
					t.Errorf("coefficient %d: streamed %.17g, matrices %.17g", j, fit.beta[j], beta[j])
				}
			}
		})
	}
}

// BenchmarkFitAdditive fits MaxObs-sized series (20,000 uniform archs of
// ofa-mbv3): time and bytes allocated per fit.
func BenchmarkFitAdditive(b *testing.B) {
	sp := space(b, "ofa-mbv3")
	p := newPlanted(sp, 7, 1, 0.05)
	obs := p.observe(plan(b, sp, 20000, 0, 1, model.FixPaper), 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FitAdditive(sp, obs, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
