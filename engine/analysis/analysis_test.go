package analysis

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/engine/predict"
	"blockprof/model"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// centred subtracts each unit's mean over its blocks: Eq. 2 averaged over a
// unit's layers carries the unit's depth shift, common to all its blocks.
func centred(sp *model.Space, v map[model.Fix]float64) map[model.Fix]float64 {
	out := map[model.Fix]float64{}
	for u := range sp.Units {
		m, n := 0.0, 0
		for k, x := range v {
			if k.Unit == u+1 {
				m += x
				n++
			}
		}
		for k, x := range v {
			if k.Unit == u+1 {
				out[k] = x - m/float64(n)
			}
		}
	}
	return out
}

func TestBothEstimatorsRecoverPlantedRanking(t *testing.T) {
	for _, tc := range []struct {
		space   string
		seed    uint64
		uniform int
		perLoc  int
		noise   float64
	}{
		{"ofa-mbv3", 1, 300, 60, 0.5},
		{"ofa-mbv3", 2, 300, 60, 0.5},
		{"ofa-pn-w1.3", 3, 300, 60, 0.5},
	} {
		t.Run(tc.space, func(t *testing.T) {
			sp := space(t, tc.space)
			p := newPlanted(sp, tc.seed, 1, tc.noise)
			obs := p.observe(plan(t, sp, tc.uniform, tc.perLoc, tc.seed, model.FixPaper), tc.seed+100)
			rep, err := Analyze(Series{Space: sp, Metric: "synthetic", Obs: obs}, Options{Boot: 150, Seed: 7, Taus: []float64{0.95}})
			if err != nil {
				t.Fatal(err)
			}
			eq2 := map[model.Fix]float64{}
			var truth, reg, paper []float64
			covered, total := 0, 0
			for i, u := range sp.Units {
				for _, b := range u.Blocks {
					e, ok := rep.Profile().UnitBlock(i+1, b, 0.95)
					if !ok {
						t.Fatalf("no Eq. 2 for unit %d %s", i+1, b)
					}
					eq2[model.Fix{Unit: i + 1, Block: b}] = e.Value
				}
			}
			eq2 = centred(sp, eq2)
			for i, u := range sp.Units {
				for _, b := range u.Blocks {
					tr := p.trueRel(i, b)
					re, ok := rep.BlockEffectOf(i+1, b.Key())
					if !ok {
						t.Fatalf("no regression effect for unit %d %s", i+1, b)
					}
					truth, reg, paper = append(truth, tr), append(reg, re.Value), append(paper, eq2[model.Fix{Unit: i + 1, Block: b}])
					total++
					if re.Lo <= tr && tr <= re.Hi {
						covered++
					}
				}
			}
			sr, sq := Spearman(truth, reg), Spearman(truth, paper)
			t.Logf("%s: Spearman regression %.3f, Eq. 2 %.3f over %d (unit, block); regression 95%% intervals cover %d/%d",
				tc.space, sr, sq, len(truth), covered, total)
			if sr < 0.9 || sq < 0.9 {
				t.Errorf("planted ranking not recovered: Spearman regression %.3f, Eq. 2 %.3f (want ≥ 0.9)", sr, sq)
			}
			if float64(covered) < 0.8*float64(total) {
				t.Errorf("regression intervals cover the truth %d/%d times, want ≥ 80%%", covered, total)
			}
			// Eq. 2 and its regression prediction agree location by location.
			agree := 0
			for _, l := range rep.Locations {
				if l.Predicted == nil {
					t.Fatalf("location %d.%d %s has no prediction", l.Unit, l.Layer, l.Key)
				}
				if math.Abs(l.Rel.Value-l.Predicted.Value) <= 3*math.Hypot(l.Rel.Width()/3.92, l.Predicted.SE) {
					agree++
				}
			}
			if agree < len(rep.Locations)*95/100 {
				t.Errorf("Eq. 2 and its regression prediction agree at %d/%d locations", agree, len(rep.Locations))
			}
		})
	}
}

// TestPredictionsFollowTheSamplers checks the regression's expectations
// (Eq. 2 under both samplers, whole-unit contrasts, reduced-space means)
// against Monte Carlo draws of the model package's samplers on a
// noise-free additive metric, for an MBConv and a bottleneck space.
func TestPredictionsFollowTheSamplers(t *testing.T) {
	for _, name := range []string{"ofa-mbv3", "ofa-resnet50"} {
		t.Run(name, func(t *testing.T) {
			sp := space(t, name)
			p := newPlanted(sp, 11, 1, 0)
			fit, err := FitAdditive(sp, p.observe(plan(t, sp, 400, 0, 5, model.FixPaper), 1), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if fit.Sigma > 1e-3 {
				t.Fatalf("noise-free additive data fitted with residual sd %g", fit.Sigma)
			}
			const draws = 12000
			rng := model.NewRand(99)
			uni := 0.0
			for range draws {
				uni += p.value(sp.Sample(rng, sp.Resolution)) / draws
			}
			last := len(sp.Units)
			blocks := sp.Units[last-1].Blocks
			fixes := []model.Fix{
				{Unit: 1, Layer: 1, Block: sp.Units[0].Blocks[0]},
				{Unit: 2, Layer: 3, Block: sp.Units[1].Blocks[4]},
				{Unit: last, Layer: sp.Units[last-1].MaxDepth(), Block: blocks[len(blocks)-1]},
			}
			for _, mode := range []model.FixMode{model.FixPaper, model.FixBlockProfile} {
				for _, fx := range fixes {
					mc := 0.0
					for range draws {
						a, err := sp.SampleFixed(rng, sp.Resolution, fx, mode)
						if err != nil {
							t.Fatal(err)
						}
						mc += p.value(a) / draws
					}
					e, err := fit.PredictLocation(fx, mode)
					if err != nil {
						t.Fatal(err)
					}
					if !near(e.Value, mc-uni, 0.07) {
						t.Errorf("%s %s: predicted Eq. 2 %.4f, Monte Carlo %.4f", samplerName(mode), fx, e.Value, mc-uni)
					}
				}
			}
			// Whole-unit contrast.
			b := sp.Units[1].Blocks[2]
			mc := 0.0
			for range draws {
				a := sp.Sample(rng, sp.Resolution)
				for j := range a.Units[1] {
					a.Units[1][j] = b
				}
				mc += p.value(a) / draws
			}
			e, err := fit.PredictUnitFix(2, b)
			if err != nil {
				t.Fatal(err)
			}
			if !near(e.Value, mc-uni, 0.07) {
				t.Errorf("whole-unit %s in unit 2: predicted %.4f, Monte Carlo %.4f", b, e.Value, mc-uni)
			}
			// A reduced space: drop the unit-1 block with the largest cost
			// and cap unit 1 at its smallest depth.
			red := sp.Clone()
			u0 := &red.Units[0]
			u0.Blocks = u0.Blocks[:len(u0.Blocks)-1]
			u0.Depths = u0.Depths[:1]
			mc = 0
			for range draws {
				mc += p.value(red.Sample(rng, sp.Resolution)) / draws
			}
			d, err := fit.Delta(red)
			if err != nil {
				t.Fatal(err)
			}
			if !near(d.Value, mc-uni, 0.07) {
				t.Errorf("reduced-space delta: predicted %.4f, Monte Carlo %.4f", d.Value, mc-uni)
			}
		})
	}
}

// TestFitAgreesWithPredict checks that this package's fit and
// engine/predict's additive fit (the search's latency predictor) give the
// same per-(unit, block) effects: they are the same model in two
// parametrisations.
func TestFitAgreesWithPredict(t *testing.T) {
	sp := space(t, "ofa-mbv3")
	p := newPlanted(sp, 21, 1, 0.05)
	obs := p.observe(plan(t, sp, 500, 0, 3, model.FixPaper), 4)
	fit, err := FitAdditive(sp, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	archs := make([]model.Arch, len(obs))
	y := make([]float64, len(obs))
	for i, o := range obs {
		archs[i], y[i] = o.Arch, o.Value
	}
	add, err := predict.FitAdditive(sp, archs, y, predict.AdditiveOptions{Scale: predict.ScaleLinear, Lambda: 1e-4})
	if err != nil {
		t.Fatal(err)
	}
	for _, be := range add.Effects().Blocks {
		e, err := fit.BlockEffect(be.Unit, be.Block)
		if err != nil {
			t.Fatal(err)
		}
		if !near(e.Value, be.Rel, 0.02) || !near(e.Value, p.trueRel(be.Unit-1, be.Block), 0.05) {
			t.Errorf("unit %d %s: analysis %.4f, predict %.4f, planted %.4f", be.Unit, be.Key, e.Value, be.Rel, p.trueRel(be.Unit-1, be.Block))
		}
	}
}

func TestGridLayout(t *testing.T) {
	for _, tc := range []struct {
		space      string
		rows, cols string
	}{
		{"ofa-mbv3", "e=6 e=4 e=3", "k=3 k=5 k=7"},
		{"ofa-resnet50", "c=1 c=0.8 c=0.65", "b=0.2 b=0.25 b=0.35"},
	} {
		g := GridOf(space(t, tc.space))
		var rows, cols []string
		for i := range g.Rows {
			rows = append(rows, g.RowLabel(i))
		}
		for j := range g.Cols {
			cols = append(cols, g.ColLabel(j))
		}
		if strings.Join(rows, " ") != tc.rows || strings.Join(cols, " ") != tc.cols {
			t.Errorf("%s: rows %v cols %v, want %s / %s", tc.space, rows, cols, tc.rows, tc.cols)
		}
		if b := g.Block(0, 2); tc.space == "ofa-mbv3" && b.Key() != "e6k7" || tc.space == "ofa-resnet50" && b.Key() != "c100b35" {
			t.Errorf("%s: top-right block %s", tc.space, b.Key())
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestRenderGolden(t *testing.T) {
	sp := space(t, "ofa-mbv3")
	p := newPlanted(sp, 31, 1, 0.2)
	obs := p.observe(plan(t, sp, 120, 4, 9, model.FixPaper), 10)
	rep, err := Analyze(Series{Space: sp, Device: "synthetic-device", Metric: "latency", Unit: "ms", Label: "simulated", Obs: obs}, Options{Boot: 100, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var txt, csvb bytes.Buffer
	if err := rep.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-text", txt.Bytes())
	if err := rep.WriteCSV(&csvb, true); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(csvb.String()), "\n")
	// 1 header + baseline + 2 quantiles + 9 × (eq1 + eq1_regression + eq1_regression_rel) + 180 × (eq2 + 2 eq3 + predicted)
	// + regression_baseline + 45 block + 15 depth effects + 4 per unit.
	if want := 1 + 1 + 2 + 27 + 180*4 + 1 + 45 + 15 + 5*4; len(lines) != want {
		t.Errorf("CSV has %d lines, want %d", len(lines), want)
	}
	var back Report
	var js bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatalf("JSON does not read back: %v", err)
	}
	if back.Baseline.Value != rep.Baseline.Value || len(back.Matrices) != len(rep.Matrices) {
		t.Errorf("JSON round trip lost data")
	}
}

func TestEstimateJSON(t *testing.T) {
	for _, e := range []Estimate{noCI(1.5, 1), {Value: 2, Lo: 1, Hi: 3, SE: 0.5, N: 9}} {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		var back Estimate
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back.Value != e.Value || back.N != e.N || back.HasCI() != e.HasCI() || (e.HasCI() && (back.Lo != e.Lo || back.Hi != e.Hi)) {
			t.Errorf("%s → %s → %s", e, b, back)
		}
	}
	b, _ := json.Marshal(noCI(1, 1))
	if !strings.Contains(string(b), `"lo":null`) {
		t.Errorf("no interval should be null: %s", b)
	}
}

func TestContrasts(t *testing.T) {
	sp := space(t, "ofa-mbv3")
	p := newPlanted(sp, 41, 1, 0.3)
	obs := p.observe(plan(t, sp, 400, 0, 1, model.FixPaper), 2)
	rng := model.NewRand(3)
	for u := range sp.Units {
		for _, b := range sp.Units[u].Blocks {
			for range 10 {
				a := sp.Sample(rng, sp.Resolution)
				for j := range a.Units[u] {
					a.Units[u][j] = b
				}
				obs = append(obs, Obs{Arch: a, Fix: &model.Fix{Unit: u + 1, Block: b}, Value: p.value(a) + 0.3*rng.NormFloat64()})
			}
		}
	}
	rep, err := Analyze(Series{Space: sp, Metric: "synthetic", Obs: obs}, Options{Boot: 200})
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Contrasts
	if c == nil || len(c.Units) != 45 || c.SpearmanN != 45 {
		t.Fatalf("contrasts: %+v", c)
	}
	if *c.Spearman < 0.8 {
		t.Errorf("observed and predicted whole-unit contrasts rank alike only at %.2f", *c.Spearman)
	}
	if len(c.Groups) != 6 || c.Groups[0].Key != "k=3" || c.Groups[5].Key != "e=6" || c.Groups[0].Rel.N != 150 {
		t.Errorf("groups: %+v", c.Groups)
	}
	if rep.UnitFixed != 450 {
		t.Errorf("UnitFixed = %d", rep.UnitFixed)
	}
}

func TestErrors(t *testing.T) {
	sp := space(t, "ofa-mbv3")
	p := newPlanted(sp, 1, 1, 0.1)
	obs := p.observe(plan(t, sp, 30, 0, 1, model.FixPaper), 1)
	if _, err := FitAdditive(sp, obs[:10], Options{}); !errors.Is(err, ErrTooFew) {
		t.Errorf("10 archs for 50 coefficients: %v", err)
	}
	rep, err := Analyze(Series{Space: sp, Metric: "x", Obs: obs[:10]}, Options{Boot: 50})
	if err != nil || rep.Regression != nil || len(rep.Notes) == 0 {
		t.Errorf("too few archs should skip the regression with a note: %v %+v", err, rep)
	}
	mixed := append([]Obs{}, obs...)
	mixed[0].Arch.Resolution = 192
	if _, err := Analyze(Series{Space: sp, Metric: "x", Obs: mixed}, Options{Boot: 50}); err == nil || !strings.Contains(err.Error(), "one resolution") {
		t.Errorf("mixed resolutions: %v", err)
	}
	fx := model.Fix{Unit: 1, Layer: 1, Block: sp.Units[0].Blocks[0]}
	if _, err := Analyze(Series{Space: sp, Metric: "x", Obs: []Obs{{Arch: obs[0].Arch, Fix: &fx, Value: 1}}}, Options{}); err == nil {
		t.Error("no uniform archs must fail")
	}
	if _, err := Analyze(Series{Space: sp, Metric: "x", Obs: obs}, Options{Taus: []float64{1.5}}); err == nil {
		t.Error("τ outside [0,1] must fail")
	}
}

func TestSpearman(t *testing.T) {
	for _, tc := range []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		{[]float64{1, 2, 2, 3}, []float64{1, 2, 2, 3}, 1},
	} {
		if got := Spearman(tc.x, tc.y); !near(got, tc.want, 1e-12) {
			t.Errorf("Spearman(%v, %v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
	if !math.IsNaN(Spearman([]float64{1, 1, 1}, []float64{1, 2, 3})) {
		t.Error("constant side should give NaN")
	}
}
