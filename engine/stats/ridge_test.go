package stats

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestRidgeHandComputed checks a one-column fit against closed forms. With
// x = (1,2,3), y = (1,2,4): x̄ = 2, ȳ = 7/3, centred Sxx = 2, Sxy = 3.
//
// λ = 0 (OLS): β = 3/2, b = 7/3 − 3 = −2/3; residuals (1/6, −1/3, 1/6) so
// RSS = 1/6 and σ² = RSS/(3−1−1) = 1/6; SE(β) = √(σ²/Sxx) = √(1/12);
// SE(b) = √(σ²(1/n + x̄²/Sxx)) = √(7/18); df = 1.
//
// λ = 1: β = Sxy/(Sxx+λ) = 1, b = 1/3; residuals (−1/3, −1/3, 2/3) so
// RSS = 2/3; df = Sxx/(Sxx+λ) = 2/3; σ² = (2/3)/(3 − 1 − 2/3) = 1/2;
// Var(β) = σ²·Sxx/(Sxx+λ)² = 1/9 → SE 1/3;
// Var(b) = σ²/n + x̄²·Var(β) = 1/6 + 4/9 = 11/18.
func TestRidgeHandComputed(t *testing.T) {
	X := [][]float64{{1}, {2}, {3}}
	y := []float64{1, 2, 4}
	tests := []struct {
		lambda                        float64
		coef, icept, se, iSE, df, rss float64
	}{
		{0, 1.5, -2.0 / 3, math.Sqrt(1.0 / 12), math.Sqrt(7.0 / 18), 1, 1.0 / 6},
		{1, 1, 1.0 / 3, 1.0 / 3, math.Sqrt(11.0 / 18), 2.0 / 3, 2.0 / 3},
	}
	for _, tc := range tests {
		f, err := Ridge(X, y, tc.lambda, RidgeOptions{})
		if err != nil {
			t.Fatalf("λ=%g: %v", tc.lambda, err)
		}
		got := []float64{f.Coef[0], f.Intercept, f.SE[0], f.InterceptSE, f.DF, f.RSS}
		want := []float64{tc.coef, tc.icept, tc.se, tc.iSE, tc.df, tc.rss}
		names := []string{"coef", "intercept", "SE", "intercept SE", "DF", "RSS"}
		for i := range got {
			if !near(got[i], want[i], 1e-10) {
				t.Errorf("λ=%g: %s = %.15g, want %.15g", tc.lambda, names[i], got[i], want[i])
			}
		}
		if p := f.Predict([]float64{2}); !near(p, 7.0/3, 1e-10) {
			t.Errorf("λ=%g: Predict(x̄) = %g, want ȳ = 7/3", tc.lambda, p)
		}
	}
	// OLS: SE of the fitted mean at x = 4 is √(σ²(1/n + (x−x̄)²/Sxx)) = √(7/18),
	// and a 95% interval for β uses t(0.975, 1 df) = 12.706204736.
	f, _ := Ridge(X, y, 0, RidgeOptions{})
	if se := f.PredictSE([]float64{4}); !near(se, math.Sqrt(7.0/18), 1e-10) {
		t.Errorf("PredictSE(4) = %g, want √(7/18)", se)
	}
	lo, hi := f.CoefCI(0, 0.95)
	if h := 12.706204736 * math.Sqrt(1.0/12); !near(lo, 1.5-h, 1e-8) || !near(hi, 1.5+h, 1e-8) {
		t.Errorf("CoefCI = (%g, %g), want 1.5 ± %g", lo, hi, h)
	}
}

func randDesign(rng *rand.Rand, n, p int) [][]float64 {
	X := make([][]float64, n)
	for i := range X {
		X[i] = make([]float64, p)
		for j := range X[i] {
			X[i][j] = rng.NormFloat64()
		}
	}
	return X
}

// planted returns y = b0 + Xβ + σ·ε.
func planted(rng *rand.Rand, X [][]float64, b0 float64, beta []float64, sigma float64) []float64 {
	y := make([]float64, len(X))
	for i, row := range X {
		y[i] = b0 + dot(row, beta) + sigma*rng.NormFloat64()
	}
	return y
}

func TestRidgeRecoversPlanted(t *testing.T) {
	rng := rand.New(rand.NewPCG(42, 1))
	beta := []float64{1, -2, 0.5, 0, 3, -0.25, 0.1, 2, -1, 0.75}
	X := randDesign(rng, 2000, len(beta))
	y := planted(rng, X, 3, beta, 0.1)
	X0 := slices.Clone(X[0])
	y0 := slices.Clone(y)
	f, err := Ridge(X, y, 1e-3, RidgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// σ/√n ≈ 0.0022 per coefficient; 0.012 is over 5 SE.
	for j, b := range beta {
		if math.Abs(f.Coef[j]-b) > 0.012 {
			t.Errorf("coef %d = %g, planted %g (SE %g)", j, f.Coef[j], b, f.SE[j])
		}
		if f.SE[j] < 0.0015 || f.SE[j] > 0.003 {
			t.Errorf("SE %d = %g, want ≈ σ/√n = 0.0022", j, f.SE[j])
		}
	}
	if math.Abs(f.Intercept-3) > 0.012 || math.Abs(f.Sigma-0.1) > 0.01 || math.Abs(f.DF-10) > 0.01 {
		t.Errorf("intercept %g (want 3), σ %g (want 0.1), df %g (want ≈10)", f.Intercept, f.Sigma, f.DF)
	}
	if !slices.Equal(X[0], X0) || !slices.Equal(y, y0) {
		t.Error("Ridge modified its inputs")
	}
}

// oneHotDesign builds the friendliness design: units with k block choices
// each, one column per (unit, block), exactly one 1 per unit in every row —
// so each unit's columns sum to the intercept column (rank deficient). It
// returns the rows and each row's block choices.
func oneHotDesign(rng *rand.Rand, n, units, k int) ([][]float64, [][]int) {
	X := make([][]float64, n)
	choice := make([][]int, n)
	for i := range X {
		X[i] = make([]float64, units*k)
		choice[i] = make([]int, units)
		for u := range units {
			c := rng.IntN(k)
			choice[i][u] = c
			X[i][u*k+c] = 1
		}
	}
	return X, choice
}

func TestRidgeRankDeficient(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	const units, k = 3, 4
	// Planted per-(unit, block) latency costs in ms.
	cost := [][]float64{{1, 2, 4, 8}, {0.5, 0.5, 3, 1}, {2, 1, 0, 5}}
	X, choice := oneHotDesign(rng, 400, units, k)
	y := make([]float64, len(X))
	for i := range y {
		y[i] = 10 + 0.05*rng.NormFloat64()
		for u, c := range choice[i] {
			y[i] += cost[u][c]
		}
	}
	// Also duplicate a column: another exact collinearity.
	Xdup := make([][]float64, len(X))
	for i := range X {
		Xdup[i] = append(slices.Clone(X[i]), X[i][0])
	}

	for _, design := range []struct {
		name string
		X    [][]float64
	}{{"one-hot", X}, {"one-hot + duplicate", Xdup}} {
		t.Run(design.name, func(t *testing.T) {
			if _, err := Ridge(design.X, y, 0, RidgeOptions{}); err == nil || !strings.Contains(err.Error(), "rank deficient") {
				t.Errorf("λ=0 on a rank-deficient design: err = %v, want one saying it is rank deficient", err)
			}
			f, err := Ridge(design.X, y, 1e-2, RidgeOptions{})
			if err != nil {
				t.Fatalf("λ=0.01: %v", err)
			}
			// Identified quantities: block differences within a unit, with
			// their standard errors, and predictions.
			p := len(design.X[0])
			for u := range units {
				for c := 1; c < k; c++ {
					w := make([]float64, p)
					w[u*k+c], w[u*k] = 1, -1
					if u == 0 && p > units*k {
						w[p-1] = -1 // the duplicate shares column 0's effect
					}
					est, lo, hi := f.ContrastCI(w, 0.999)
					want := cost[u][c] - cost[u][0]
					if math.Abs(est-want) > 0.02 || lo > want || hi < want || !(hi-lo < 0.1) {
						t.Errorf("unit %d block %d − block 0 = %g [%g, %g], planted %g", u, c, est, lo, hi, want)
					}
				}
			}
			if r := RMSE(predictAll(f, design.X), y); r > 0.06 {
				t.Errorf("in-sample RMSE %g, want ≈ noise 0.05", r)
			}
		})
	}
}

func predictAll(f *RidgeFit, X [][]float64) []float64 {
	out := make([]float64, len(X))
	for i, row := range X {
		out[i] = f.Predict(row)
	}
	return out
}

// TestRidgeCICoverage simulates many data sets (σ = 1) from one fixed design
// and checks that (a) the sandwich factor SE/σ̂, times the true σ, matches
// the spread of the estimates across simulations, for a small and a large λ;
// (b) with λ small against XᵀX the mean SE matches that spread too and the
// 95% intervals cover the planted coefficients and intercept at about the
// nominal rate; (c) with strong shrinkage σ̂ absorbs the bias, so SE is
// conservative while coverage collapses, as RidgeFit's doc warns. 400
// simulations × 4 intervals: the binomial SE of the coverage is ~0.55 points
// (a 5,000-simulation run of this test gave 0.949–0.951 over three seeds),
// so the band is [0.93, 0.97]. The empirical sd over 400 simulations has a
// Monte Carlo error of ~3.5%, so ratios must be within 10%. Seeds are fixed.
func TestRidgeCICoverage(t *testing.T) {
	rng := rand.New(rand.NewPCG(99, 3))
	beta := []float64{1, -0.5, 2}
	const b0, sigma, sims = 4.0, 1.0, 400
	X := randDesign(rng, 60, len(beta))
	for _, lambda := range []float64{0.01, 30} {
		covered, total := 0, 0
		est := make([][]float64, len(beta))
		meanSE := make([]float64, len(beta))
		factor := make([]float64, len(beta)) // SE/σ̂, fixed by the design and λ
		for range sims {
			y := planted(rng, X, b0, beta, sigma)
			f, err := Ridge(X, y, lambda, RidgeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for j, b := range beta {
				est[j] = append(est[j], f.Coef[j])
				meanSE[j] += f.SE[j] / sims
				factor[j] = f.SE[j] / f.Sigma
				if lo, hi := f.CoefCI(j, 0.95); lo <= b && b <= hi {
					covered++
				}
				total++
			}
			if h := f.InterceptSE * 2.0032; f.Intercept-h <= b0 && b0 <= f.Intercept+h { // t(0.975, 56) ≈ 2.0032
				covered++
			}
			total++
		}
		for j := range beta {
			emp := Std(est[j])
			if r := factor[j] * sigma / emp; r < 0.9 || r > 1.1 {
				t.Errorf("λ=%g coef %d: sandwich sd %g vs empirical sd %g (ratio %.3f)", lambda, j, factor[j]*sigma, emp, r)
			}
			r := meanSE[j] / emp
			if lambda == 0.01 && (r < 0.9 || r > 1.1) {
				t.Errorf("λ=%g coef %d: mean SE %g vs empirical sd %g (ratio %.3f)", lambda, j, meanSE[j], emp, r)
			}
			if lambda == 30 && r < 1 {
				t.Errorf("λ=%g coef %d: mean SE %g below empirical sd %g; σ̂ should absorb the shrinkage bias", lambda, j, meanSE[j], emp)
			}
		}
		cov := float64(covered) / float64(total)
		t.Logf("λ=%g: 95%% CI coverage %.3f", lambda, cov)
		switch {
		case lambda == 0.01 && (cov < 0.93 || cov > 0.97):
			t.Errorf("λ=%g: 95%% intervals covered the planted values %.3f of the time, want ≈ 0.95", lambda, cov)
		case lambda == 30 && cov > 0.9:
			t.Errorf("λ=%g: coverage %.3f; strong shrinkage should make it clearly below nominal", lambda, cov)
		}
	}
}

func TestRidgeOptions(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	X := randDesign(rng, 200, 2)
	y := planted(rng, X, 0, []float64{2, -1}, 0.01)

	// Through the origin on data without an intercept.
	f, err := Ridge(X, y, 0, RidgeOptions{NoIntercept: true})
	if err != nil {
		t.Fatal(err)
	}
	if f.Intercept != 0 || !math.IsNaN(f.InterceptSE) || math.Abs(f.Coef[0]-2) > 0.01 || math.Abs(f.Coef[1]+1) > 0.01 {
		t.Errorf("NoIntercept: intercept %g (SE %g), coef %v", f.Intercept, f.InterceptSE, f.Coef)
	}

	// A huge penalty on column 1 only drives it to 0 and leaves column 0 at
	// its one-column least-squares value.
	big, err := Ridge(X, y, 1e9, RidgeOptions{Penalty: []float64{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	X0 := make([][]float64, len(X))
	for i := range X {
		X0[i] = X[i][:1]
	}
	ols, err := Ridge(X0, y, 0, RidgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(big.Coef[1]) > 1e-5 || math.Abs(big.Coef[0]-ols.Coef[0]) > 1e-5 || math.Abs(big.Intercept-ols.Intercept) > 1e-5 {
		t.Errorf("penalty (0,1) at λ=1e9: coef %v intercept %g; want (%g, 0) and %g", big.Coef, big.Intercept, ols.Coef[0], ols.Intercept)
	}

	// No columns: the intercept is the mean.
	empty := make([][]float64, 4)
	for i := range empty {
		empty[i] = []float64{}
	}
	f0, err := Ridge(empty, []float64{1, 2, 3, 6}, 1, RidgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// mean 3, deviations (−2,−1,0,3) → RSS 14, σ² = 14/3, SE = √(14/3/4).
	if f0.Intercept != 3 || !near(f0.InterceptSE, math.Sqrt(14.0/12), 1e-12) || !near(f0.PredictSE(nil), math.Sqrt(14.0/12), 1e-12) {
		t.Errorf("no columns: intercept %g SE %g PredictSE %g", f0.Intercept, f0.InterceptSE, f0.PredictSE(nil))
	}
}

func TestRidgeErrors(t *testing.T) {
	ok := [][]float64{{1, 2}, {3, 4}, {5, 7}}
	y := []float64{1, 2, 3}
	tests := []struct {
		name   string
		X      [][]float64
		y      []float64
		lambda float64
		opts   RidgeOptions
		want   string
	}{
		{"no rows", nil, nil, 1, RidgeOptions{}, "no rows"},
		{"row count", ok, y[:2], 1, RidgeOptions{}, "3 rows but y has 2"},
		{"ragged", [][]float64{{1, 2}, {3}, {5, 6}}, y, 1, RidgeOptions{}, "row 1 of X has 1 columns"},
		{"NaN in X", [][]float64{{1, 2}, {3, math.NaN()}, {5, 6}}, y, 1, RidgeOptions{}, "X[1][1]"},
		{"Inf in y", ok, []float64{1, math.Inf(1), 3}, 1, RidgeOptions{}, "y[1]"},
		{"negative λ", ok, y, -1, RidgeOptions{}, "λ = -1"},
		{"NaN λ", ok, y, math.NaN(), RidgeOptions{}, "λ = NaN"},
		{"penalty length", ok, y, 1, RidgeOptions{Penalty: []float64{1}}, "1 penalty factors for 2 columns"},
		{"negative penalty", ok, y, 1, RidgeOptions{Penalty: []float64{1, -2}}, "penalty factor 1"},
		{"constant column λ=0", [][]float64{{1, 2}, {1, 4}, {1, 7}}, y, 0, RidgeOptions{}, "rank deficient"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Ridge(tc.X, tc.y, tc.lambda, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestRidgeCVMatchesBruteForce recomputes the CV curve fold by fold with
// Ridge itself (with a nil rng row i is in fold i mod k) and checks RidgeCV's
// bookkeeping against it, then checks the choice of λ.
func TestRidgeCVMatchesBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	beta := make([]float64, 30)
	for j := range 3 {
		beta[j] = 1
	}
	X := randDesign(rng, 50, len(beta))
	y := planted(rng, X, 2, beta, 1)
	lambdas := LogSpace(1e-2, 1e3, 11)
	const k = 5
	res, err := RidgeCV(X, y, lambdas, k, nil, RidgeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for l, lambda := range lambdas {
		var sse float64
		for f := range k {
			var trX, teX [][]float64
			var trY, teY []float64
			for i := range X {
				if i%k == f {
					teX, teY = append(teX, X[i]), append(teY, y[i])
				} else {
					trX, trY = append(trX, X[i]), append(trY, y[i])
				}
			}
			fit, err := Ridge(trX, trY, lambda, RidgeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for i := range teX {
				d := fit.Predict(teX[i]) - teY[i]
				sse += d * d
			}
		}
		if want := sse / float64(len(y)); !near(res.MSE[l], want, 1e-9*want) {
			t.Errorf("λ=%g: CV MSE %g, brute force %g", lambda, res.MSE[l], want)
		}
	}
	best := 0
	for l := range lambdas {
		if res.MSE[l] < res.MSE[best] {
			best = l
		}
	}
	if res.Lambda != lambdas[best] || res.Fit.Lambda != res.Lambda || res.Lambda1SE < res.Lambda {
		t.Errorf("Lambda %g (fit %g, 1SE %g), want argmin %g", res.Lambda, res.Fit.Lambda, res.Lambda1SE, lambdas[best])
	}
	// 30 columns, 50 rows, 3 real effects: near-OLS overfits, so CV must
	// prefer real shrinkage.
	if res.Lambda <= lambdas[0] {
		t.Errorf("CV chose the smallest λ %g on an over-parameterised noisy problem; MSE %v", res.Lambda, res.MSE)
	}

	// A shuffled split gives a valid, reproducible answer too.
	r1, err1 := RidgeCV(X, y, lambdas, k, rand.New(rand.NewPCG(1, 2)), RidgeOptions{})
	r2, err2 := RidgeCV(X, y, lambdas, k, rand.New(rand.NewPCG(1, 2)), RidgeOptions{})
	if err1 != nil || err2 != nil || !slices.Equal(r1.MSE, r2.MSE) || r1.Lambda != r2.Lambda {
		t.Errorf("shuffled CV not reproducible: %v %v", err1, err2)
	}
}

func TestRidgeCVErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	X, _ := oneHotDesign(rng, 20, 2, 3)
	y := make([]float64, len(X))
	for i := range y {
		y[i] = rng.NormFloat64()
	}
	tests := []struct {
		name    string
		lambdas []float64
		folds   int
		want    string
	}{
		{"empty grid", nil, 5, "no λ"},
		{"negative λ", []float64{1, -1}, 5, "λ = -1"},
		{"one fold", []float64{1}, 1, "1 folds"},
		{"too many folds", []float64{1}, 21, "21 folds for 20 rows"},
		{"only λ=0 on rank deficient", []float64{0}, 5, "include some λ > 0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RidgeCV(X, y, tc.lambdas, tc.folds, rng, RidgeOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
	// λ = 0 next to a λ > 0: the unsolvable one is +Inf, the other is used.
	res, err := RidgeCV(X, y, []float64{0, 1}, 4, rng, RidgeOptions{})
	if err != nil || !math.IsInf(res.MSE[0], 1) || res.Lambda != 1 {
		t.Errorf("grid {0, 1} on a rank-deficient design: err %v, result %+v", err, res)
	}
}

func TestLogSpace(t *testing.T) {
	got := LogSpace(1e-3, 1e3, 7)
	want := []float64{1e-3, 1e-2, 1e-1, 1, 10, 100, 1000}
	for i := range want {
		if !near(got[i], want[i], 1e-12*want[i]) {
			t.Errorf("LogSpace(1e-3, 1e3, 7)[%d] = %g, want %g", i, got[i], want[i])
		}
	}
	if LogSpace(0, 1, 3) != nil || LogSpace(1, 2, 0) != nil || !slices.Equal(LogSpace(2, 5, 1), []float64{2}) {
		t.Error("LogSpace edge cases")
	}
}
