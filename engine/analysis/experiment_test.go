package analysis

import (
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"blockprof/model"
)

var experiment = flag.String("experiment", "", "run the full CI-width experiment and write its markdown table to this file (- for stdout)")

// widthResult is one line of the CI-width experiment.
type widthResult struct {
	estimator    string
	measurements int
	medianWidth  float64 // median 95% interval width of Eq. 2 over the locations
	rmse         float64 // RMSE of the Eq. 2 estimates against the planted truth
	spearman     float64 // per-(unit, block) ranking against the planted costs
	coverage     float64 // share of locations whose interval holds the planted Eq. 2
	lambda       float64 // the regression's ridge penalty
}

// eq2Widths runs the paper estimator with perLoc samples per location.
func eq2Widths(t testing.TB, sp *model.Space, p *planted, truth map[model.Fix]float64, uniform, perLoc int, seed uint64) widthResult {
	obs := p.observe(plan(t, sp, uniform, perLoc, seed, model.FixPaper), seed+1)
	prof, err := ProfileOf(sp, obs, Options{Boot: 400, Seed: seed, Taus: []float64{0.5}})
	if err != nil {
		t.Fatal(err)
	}
	var w []float64
	se, cov := 0.0, 0.0
	for _, l := range prof.Locations {
		w = append(w, l.Rel.Width())
		tr := truth[model.Fix{Unit: l.Unit, Layer: l.Layer, Block: l.Block}]
		d := l.Rel.Value - tr
		se += d * d
		if l.Rel.Lo <= tr && tr <= l.Rel.Hi {
			cov++
		}
	}
	ub := map[model.Fix]float64{}
	for i, u := range sp.Units {
		for _, b := range u.Blocks {
			e, _ := prof.UnitBlock(i+1, b, 0.95)
			ub[model.Fix{Unit: i + 1, Block: b}] = e.Value
		}
	}
	return widthResult{"Eq. 2 (paper)", len(obs), median(w), math.Sqrt(se / float64(len(w))), rankVsTruth(sp, p, centred(sp, ub)), cov / float64(len(w)), math.NaN()}
}

func regWidths(t testing.TB, sp *model.Space, p *planted, truth map[model.Fix]float64, n int, seed uint64) widthResult {
	obs := p.observe(plan(t, sp, n, 0, seed, model.FixPaper), seed+1)
	fit, err := FitAdditive(sp, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var w []float64
	se, cov := 0.0, 0.0
	for _, fx := range sp.Locations() {
		e, err := fit.PredictLocation(fx, model.FixPaper)
		if err != nil {
			t.Fatal(err)
		}
		w = append(w, e.Width())
		d := e.Value - truth[fx]
		se += d * d
		if e.Lo <= truth[fx] && truth[fx] <= e.Hi {
			cov++
		}
	}
	ub := map[model.Fix]float64{}
	for i, u := range sp.Units {
		for _, b := range u.Blocks {
			e, _ := fit.BlockEffect(i+1, b)
			ub[model.Fix{Unit: i + 1, Block: b}] = e.Value
		}
	}
	return widthResult{"regression", n, median(w), math.Sqrt(se / float64(len(w))), rankVsTruth(sp, p, ub), cov / float64(len(w)), fit.Lambda}
}

func rankVsTruth(sp *model.Space, p *planted, est map[model.Fix]float64) float64 {
	var a, b []float64
	for i, u := range sp.Units {
		for _, bl := range u.Blocks {
			a = append(a, p.trueRel(i, bl))
			b = append(b, est[model.Fix{Unit: i + 1, Block: bl}])
		}
	}
	return Spearman(a, b)
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return quantileSorted(s, 0.5)
}

// exactEq2 is the planted model's Eq. 2 at every location: the prediction
// of a fit to noise-free data (exact, since the planted metric is additive).
func exactEq2(t testing.TB, sp *model.Space, p *planted) map[model.Fix]float64 {
	clean := *p
	clean.noise = 0
	fit, err := FitAdditive(sp, clean.observe(plan(t, sp, 400, 0, 77, model.FixPaper), 1), Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[model.Fix]float64{}
	for _, fx := range sp.Locations() {
		e, err := fit.PredictLocation(fx, model.FixPaper)
		if err != nil {
			t.Fatal(err)
		}
		out[fx] = e.Value
	}
	return out
}

// TestRegressionNeedsATenthOfTheMeasurements: the regression estimator
// reaches Eq. 2's interval width with at most a tenth of its measurements
// (a small version of the experiment; -experiment runs the full one).
func TestRegressionNeedsATenthOfTheMeasurements(t *testing.T) {
	sp := space(t, "ofa-mbv3")
	p := newPlanted(sp, 1, 1, 0.5)
	truth := exactEq2(t, sp, p)
	eq := eq2Widths(t, sp, p, truth, 30, 30, 5)
	budget := eq.measurements / 10
	reg := regWidths(t, sp, p, truth, budget, 6)
	t.Logf("Eq. 2: %d measurements, median width %.3f; regression: %d measurements, median width %.3f",
		eq.measurements, eq.medianWidth, reg.measurements, reg.medianWidth)
	if reg.medianWidth > eq.medianWidth {
		t.Errorf("regression with %d measurements: median width %.3f > Eq. 2's %.3f with %d", reg.measurements, reg.medianWidth, eq.medianWidth, eq.measurements)
	}
	if reg.coverage < 0.85 {
		t.Errorf("regression intervals hold the planted Eq. 2 at only %.0f%% of locations", 100*reg.coverage)
	}
	if reg.rmse > eq.rmse {
		t.Errorf("regression RMSE %.3f > Eq. 2's %.3f", reg.rmse, eq.rmse)
	}
}

// TestExperimentCIWidth is the full experiment behind the "Friendliness
// estimators" table of docs/benchmarks.md:
//
//	go test ./engine/analysis -run TestExperimentCIWidth -experiment=-
func TestExperimentCIWidth(t *testing.T) {
	if *experiment == "" {
		t.Skip("pass -experiment=FILE (or -) to run it")
	}
	var sb strings.Builder
	sb.WriteString("| space | noise sd | estimator | measurements | median 95% CI width of Eq. 2 | coverage of planted Eq. 2 | RMSE vs planted Eq. 2 | Spearman (unit, block) vs planted | ridge λ |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, tc := range []struct {
		space string
		noise float64
	}{{"ofa-mbv3", 0.5}, {"ofa-mbv3", 2}, {"ofa-pn-w1.3", 0.5}} {
		sp := space(t, tc.space)
		p := newPlanted(sp, 1, 1, tc.noise)
		truth := exactEq2(t, sp, p)
		var rows []widthResult
		eq := eq2Widths(t, sp, p, truth, 100, 100, 5)
		rows = append(rows, eq)
		rows = append(rows, eq2Widths(t, sp, p, truth, 100, 10, 5))
		var firstOK *widthResult
		for _, n := range []int{60, 100, 150, 200, 300, 500, 1000, eq.measurements / 10} {
			r := regWidths(t, sp, p, truth, n, 6)
			rows = append(rows, r)
			if firstOK == nil && r.medianWidth <= eq.medianWidth && r.coverage >= 0.9 && r.rmse <= eq.rmse {
				rr := r
				firstOK = &rr
			}
		}
		for _, r := range rows {
			fmt.Fprintf(&sb, "| %s | %g | %s | %d | %.3f | %.2f | %.3f | %.3f | %.3g |\n", tc.space, tc.noise, r.estimator, r.measurements, r.medianWidth, r.coverage, r.rmse, r.spearman, r.lambda)
		}
		if firstOK != nil {
			fmt.Fprintf(&sb, "| %s | %g | **smallest regression with width, coverage ≥ 0.90 and RMSE no worse than Eq. 2 at N=100/location** | **%d of %d (%.1f%%)** | %.3f ≤ %.3f | %.2f | %.3f ≤ %.3f | | |\n",
				tc.space, tc.noise, firstOK.measurements, eq.measurements, 100*float64(firstOK.measurements)/float64(eq.measurements), firstOK.medianWidth, eq.medianWidth, firstOK.coverage, firstOK.rmse, eq.rmse)
		}
	}
	out := sb.String()
	if *experiment == "-" {
		fmt.Print(out)
		return
	}
	if err := os.WriteFile(*experiment, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
