package predict

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"blockprof/engine/stats"
	"blockprof/model"
)

// slotPlanted is a synthetic top-1 with per-slot block effects and a
// capacity-like term, the structure the accuracy predictor assumes.
func slotPlanted(sp *model.Space, seed uint64) func(model.Arch) float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	eff := make([][][]float64, len(sp.Units)) // [unit][slot][block]
	for u, unit := range sp.Units {
		for range unit.Slots {
			e := make([]float64, len(unit.Blocks))
			for i := range e {
				e[i] = 0.3 * rng.NormFloat64()
			}
			eff[u] = append(eff[u], e)
		}
	}
	return func(a model.Arch) float64 {
		v := 75.0
		for u, blocks := range a.Units {
			for j, b := range blocks {
				v += 0.2 + eff[u][j][slices.Index(sp.Units[u].Blocks, b)]
			}
		}
		return v
	}
}

func TestTop1RecoversPlantedSlots(t *testing.T) {
	for _, tc := range []struct {
		name string
		sets []string
	}{
		{"ofa-mbv3-w1.0", []string{FeatSlots, FeatSlotsCapacityPairs}},
		{"ofa-resnet50", []string{FeatSlotsDepth, FeatSlotsCapacity}},
	} {
		name := tc.name
		t.Run(name, func(t *testing.T) {
			if raceOn && name != "ofa-mbv3-w1.0" {
				t.Skip("one space is enough under -race")
			}
			sp := loadSpace(t, name)
			f := slotPlanted(sp, 5)
			archs := sampleArchs(sp, 200, 21)
			rng := rand.New(rand.NewPCG(9, 9))
			y := make([]float64, len(archs))
			for i, a := range archs {
				y[i] = f(a) + 0.05*rng.NormFloat64()
			}
			m, err := FitTop1(sp, archs, y, Top1Options{Features: tc.sets})
			if err != nil {
				t.Fatal(err)
			}
			test := sampleArchs(sp, 200, 77)
			pred, tru := make([]float64, len(test)), make([]float64, len(test))
			for i, a := range test {
				pred[i], tru[i] = m.Predict(a), f(a)
			}
			rho, mae := stats.Spearman(pred, tru), stats.MAE(pred, tru)
			t.Logf("%s: features %s, k=%d, held-out Spearman %.4f MAE %.3f", name, m.Features(), m.Neighbours(), rho, mae)
			if rho < 0.95 || mae > 0.15 {
				t.Errorf("held-out Spearman %.4f (want ≥ 0.95), MAE %.3f (want ≤ 0.15)", rho, mae)
			}
			cv := m.CV()
			if cv.Chosen.Features == "" || len(cv.Tried) < max(len(tc.sets), 2) || cv.Criterion != "rmse" {
				t.Errorf("CV report %+v", cv)
			}
			if m.Name() != "top1-ridge" || m.Provenance() != "predicted" {
				t.Errorf("name %q provenance %q", m.Name(), m.Provenance())
			}
		})
	}
}

func TestTop1Options(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	archs := sampleArchs(sp, 60, 1)
	f := slotPlanted(sp, 1)
	y := make([]float64, len(archs))
	for i, a := range archs {
		y[i] = f(a)
	}
	m, err := FitTop1(sp, archs, y, Top1Options{Features: []string{FeatSlots}, NoNeighbours: true, Lambda: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if m.Features() != FeatSlots || m.Neighbours() != 0 || m.CV().Chosen.Lambda != 0.1 || len(m.CV().Tried) != 1 {
		t.Errorf("features %s k %d CV %+v", m.Features(), m.Neighbours(), m.CV())
	}
	for _, tc := range []struct {
		name  string
		archs []model.Arch
		y     []float64
		opts  Top1Options
		want  string
	}{
		{"unknown features", archs, y, Top1Options{Features: []string{"slots+magic"}}, `"slots+magic"`},
		{"length mismatch", archs, y[:5], Top1Options{}, "60 archs but 5 values"},
		{"too few", archs[:3], y[:3], Top1Options{}, "need at least 5"},
		{"infinite", archs, append(slices.Clone(y[:59]), math.Inf(1)), Top1Options{}, "not finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := FitTop1(sp, tc.archs, tc.y, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCorrection(t *testing.T) {
	codes := [][]int16{{0, 0, 0}, {0, 0, 1}, {0, 1, 1}, {1, 1, 1}}
	res := []float64{1, 2, 3, 4}
	tests := []struct {
		name string
		code []int16
		k    int
		self int
		want float64
	}{
		{"off", []int16{0, 0, 0}, 0, -1, 0},
		{"exact match only", []int16{0, 0, 0}, 1, -1, 1},
		{"self excluded", []int16{0, 0, 0}, 1, 0, 2},
		// distances 0,1,2: weights 1, 1/2, 1/3.
		{"three nearest weighted", []int16{0, 0, 0}, 3, -1, (1*1 + 2*0.5 + 3.0/3) / (1 + 0.5 + 1.0/3)},
		{"k beyond n uses all", []int16{1, 1, 1}, 10, -1, (1*0.25 + 2.0/3 + 3*0.5 + 4*1) / (0.25 + 1.0/3 + 0.5 + 1)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := correction(codes, res, tc.code, tc.k, tc.self); math.Abs(got-tc.want) > 1e-12 {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// The target: trained on the DyNAS-T training split only, the
// accuracy predictor reaches Spearman ≥ 0.98 and MAE ≤ 0.15 points on the
// test split.
func TestTop1OnSharedImageNet(t *testing.T) {
	if testing.Short() || raceOn {
		t.Skip("fits 1,442 archs (runs without -short and -race)")
	}
	dir := sharedData(t)
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	atr, ytr, err := Top1s(readFile(t, sp, dir+"/ofa-mbv3-w1.0-imagenet-top1.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	ate, yte, err := Top1s(readFile(t, sp, dir+"/ofa-mbv3-w1.0-imagenet-top1-test.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := FitTop1(sp, atr, ytr, Top1Options{})
	if err != nil {
		t.Fatal(err)
	}
	pred := make([]float64, len(ate))
	for i, a := range ate {
		pred[i] = m.Predict(a)
	}
	rho, mae := stats.Spearman(pred, yte), stats.MAE(pred, yte)
	t.Logf("chosen %+v: test Spearman %.4f MAE %.4f RMSE %.4f", m.CV().Chosen, rho, mae, stats.RMSE(pred, yte))
	if rho < 0.98 || mae > 0.15 {
		t.Errorf("test Spearman %.4f (want ≥ 0.98), MAE %.4f (want ≤ 0.15)", rho, mae)
	}
}
