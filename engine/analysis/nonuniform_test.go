package analysis

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"blockprof/model"
)

// TestReadRecordedRoles: "fixed": null is a uniform arch, a list a
// whole-unit fix, and a line without "fixed" (the accuracy table's search
// archs) an arch not drawn uniformly.
func TestReadRecordedRoles(t *testing.T) {
	sp := space(t, "ofa-mbv3-w1.0")
	arch := `{"ks":[3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0],"e":[3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0],"d":[2,2,2,2,2],"r":224}`
	tests := []struct {
		name, line string
		uniform    bool // Fix nil and not NonUniform
		nonUniform bool
		unitFix    string
		err        string
	}{
		{name: "fixed null", line: `{"arch":` + arch + `,"fixed":null,"top1":75}`, uniform: true},
		{name: "no fixed", line: `{"arch":` + arch + `,"top1":75,"source":"mbnv3w10_evoga_acc.csv"}`, nonUniform: true},
		{name: "whole unit", line: `{"arch":` + arch + `,"fixed":[2,3,3],"top1":75}`, unitFix: "u3.l0=e3k3"},
		{name: "fixed not a list", line: `{"arch":` + arch + `,"fixed":"u1","top1":75}`, err: `f.jsonl:1: fixed "u1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obs, err := ReadRecorded(strings.NewReader(tc.line), "f.jsonl", sp, RecordedTop1, "")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil || len(obs) != 1 {
				t.Fatalf("%v %+v", err, obs)
			}
			o := obs[0]
			fix := ""
			if o.Fix != nil {
				fix = o.Fix.String()
			}
			if (o.Fix == nil && !o.NonUniform) != tc.uniform || o.NonUniform != tc.nonUniform || fix != tc.unitFix {
				t.Errorf("fix %q non-uniform %v; want uniform %v, non-uniform %v, fix %q", fix, o.NonUniform, tc.uniform, tc.nonUniform, tc.unitFix)
			}
		})
	}
}

// TestSearchArchsOfTheAccuracyTable analyses the shared ImageNet table,
// whose archs come from search runs: none is called uniform, and the
// baseline M_b is compared with is the regression's own E[M(A)], so the
// blocks are not all worse than average (as they were against the mean of
// the search's good archs).
func TestSearchArchsOfTheAccuracyTable(t *testing.T) {
	const file = "ofa-mbv3-w1.0-imagenet-top1.jsonl"
	sp := space(t, "ofa-mbv3-w1.0")
	f, err := os.Open(filepath.Join(sharedData(t), file))
	if err != nil {
		t.Fatal(err)
	}
	obs, err := ReadRecorded(f, file, sp, RecordedTop1, "")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(obs, func(o Obs) bool { return !o.NonUniform || o.Fix != nil }); i >= 0 {
		t.Fatalf("record %d read as uniform or fixed: the table holds search archs", i+1)
	}
	rep, err := Analyze(Series{Space: sp, Metric: "accuracy", Unit: "%", Obs: obs}, Options{Boot: 50, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Uniform != 0 || rep.NonUniform != len(obs) || rep.Fixed != 0 || rep.UnitFixed != 0 {
		t.Errorf("roles: %d uniform, %d fixed, %d whole-unit, %d non-uniform of %d", rep.Uniform, rep.Fixed, rep.UnitFixed, rep.NonUniform, len(obs))
	}
	if rep.Regression == nil || rep.BaselineSource != BaselineRegression || rep.Baseline != rep.Regression.Baseline {
		t.Fatalf("baseline %v from %q, want the regression's %+v", rep.Baseline, rep.BaselineSource, rep.Regression)
	}
	sample := 0.0
	for _, o := range obs {
		sample += o.Value / float64(len(obs))
	}
	above := 0
	for _, b := range rep.Blocks {
		if b.Regression == nil || b.RegressionRel == nil || b.Eq1 != nil {
			t.Fatalf("block %s: regression %v, relative %v, Eq. 1 %v", b.Key, b.Regression, b.RegressionRel, b.Eq1)
		}
		if d := b.Regression.Value - rep.Regression.Baseline.Value; math.Abs(d-b.RegressionRel.Value) > 1e-9 {
			t.Errorf("block %s: M_b − E[M(A)] is %v, the relative value %v", b.Key, d, b.RegressionRel.Value)
		}
		if b.Regression.Value > rep.Baseline.Value {
			above++
		}
	}
	if above == 0 {
		t.Errorf("every block's M_b is below the baseline %v (the search archs' mean is %v)", rep.Baseline, sample)
	}
	var txt strings.Builder
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"0 uniform, 0 fixed, 0 whole-unit archs, 1442 not drawn uniformly", "the regression's over uniform draws", "note: no uniform archs"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, txt.String())
		}
	}
}

// TestNonUniformEntersOnlyTheRegression plants an additive metric and adds
// archs chosen for a low value (a search's, selected on the arch): the
// sample baseline keeps to the uniform archs, the regression uses all of
// them, and without uniform archs its E[M(A)] stays near the truth while
// the selected archs' mean does not.
func TestNonUniformEntersOnlyTheRegression(t *testing.T) {
	sp := space(t, "ofa-mbv3-w1.0")
	p := newPlanted(sp, 5, 1, 0.1)
	rng := model.NewRand(17)
	truth := 0.0
	const pool = 20000
	var cands []model.Arch
	for range pool {
		a := sp.Sample(rng, 224)
		truth += p.value(a) / pool
		if len(cands) < 3000 {
			cands = append(cands, a)
		}
	}
	slices.SortFunc(cands, func(x, y model.Arch) int { return int(math.Copysign(1, p.value(x)-p.value(y))) })
	var searched []Obs
	for i, a := range cands[:400] {
		searched = append(searched, Obs{Arch: a, NonUniform: true, Value: p.value(a) + p.noise*model.NewRand(uint64(i)).NormFloat64()})
	}
	uniform := p.observe(plan(t, sp, 150, 0, 9, model.FixPaper), 10)
	uniMean, searchedMean := 0.0, 0.0
	for _, o := range uniform {
		uniMean += o.Value / float64(len(uniform))
	}
	for _, o := range searched {
		searchedMean += o.Value / float64(len(searched))
	}
	tests := []struct {
		name   string
		obs    []Obs
		source string
		want   float64 // the baseline
		tol    float64
	}{
		{name: "uniform and searched", obs: append(slices.Clone(uniform), searched...), source: BaselineUniform, want: uniMean, tol: 1e-9},
		{name: "searched only", obs: searched, source: BaselineRegression, want: truth, tol: 0.1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := Analyze(Series{Space: sp, Metric: "latency", Obs: tc.obs}, Options{Boot: 50, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("baseline %v (%s); truth %.3f, uniform mean %.3f, searched mean %.3f", rep.Baseline, rep.BaselineSource, truth, uniMean, searchedMean)
			if rep.BaselineSource != tc.source || !near(rep.Baseline.Value, tc.want, tc.tol) {
				t.Errorf("baseline %v (%s), want %v ± %v (%s); the searched archs' mean is %v", rep.Baseline, rep.BaselineSource, tc.want, tc.tol, tc.source, searchedMean)
			}
			if rep.Regression == nil || rep.Regression.N != len(tc.obs) || rep.NonUniform != len(searched) {
				t.Fatalf("regression %+v on %d observations, %d non-uniform", rep.Regression, len(tc.obs), rep.NonUniform)
			}
			for u := range sp.Units {
				for _, b := range sp.Units[u].Blocks {
					e, ok := rep.BlockEffectOf(u+1, b.Key())
					if !ok || !near(e.Value, p.trueRel(u, b), 0.1) {
						t.Errorf("unit %d %s: effect %v, planted %.3f", u+1, b.Key(), e, p.trueRel(u, b))
					}
				}
			}
		})
	}
	if near(searchedMean, truth, 0.5) {
		t.Fatalf("the selected archs' mean %v is near the truth %v: the test selects nothing", searchedMean, truth)
	}
}
