package predict

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"blockprof/engine/stats"
	"blockprof/model"
)

// plantedDevice is a synthetic device whose log latency is additive:
// base + Σ_layers cost(u, b) + depth(u, d).
type plantedDevice struct {
	sp    *model.Space
	base  float64
	cost  [][]float64
	depth []map[int]float64
}

// newSharedDevice plants effects that several devices share.
func newSharedDevice(sp *model.Space, seed uint64) *plantedDevice {
	rng := rand.New(rand.NewPCG(seed, 17))
	d := &plantedDevice{sp: sp, base: -1}
	for _, u := range sp.Units {
		c := make([]float64, len(u.Blocks))
		for i := range c {
			c[i] = 0.01 + 0.06*rng.Float64()
		}
		d.cost = append(d.cost, c)
		dm := map[int]float64{}
		for _, dep := range u.Depths {
			dm[dep] = 0.03 * (rng.Float64() - 0.5)
		}
		d.depth = append(d.depth, dm)
	}
	return d
}

// derive is a device that scales d's effects by s and adds the departures
// extra[u][i] to its block costs.
func (d *plantedDevice) derive(s, base float64, extra map[[2]int]float64) *plantedDevice {
	n := &plantedDevice{sp: d.sp, base: base}
	for u := range d.cost {
		c := make([]float64, len(d.cost[u]))
		for i := range c {
			c[i] = s*d.cost[u][i] + extra[[2]int{u, i}]
		}
		n.cost = append(n.cost, c)
		dm := map[int]float64{}
		for k, v := range d.depth[u] {
			dm[k] = s * v
		}
		n.depth = append(n.depth, dm)
	}
	return n
}

func (d *plantedDevice) logLatency(a model.Arch) float64 {
	v := d.base
	for u, blocks := range a.Units {
		for _, b := range blocks {
			v += d.cost[u][slices.Index(d.sp.Units[u].Blocks, b)]
		}
		v += d.depth[u][len(blocks)]
	}
	return v
}

func (d *plantedDevice) measure(archs []model.Arch, noise float64, rng *rand.Rand) []float64 {
	y := make([]float64, len(archs))
	for i, a := range archs {
		e := 0.0
		if noise > 0 {
			e = noise * rng.NormFloat64()
		}
		y[i] = math.Exp(d.logLatency(a) + e)
	}
	return y
}

func (d *plantedDevice) rel(u, i int) float64 { return d.cost[u][i] - stats.Mean(d.cost[u]) }

// transferSetup plants a prior device, fits its prior from 200 archs, and
// plants a new device = 1.2·prior effects + departures on a few blocks.
func transferSetup(t *testing.T, sp *model.Space, seed uint64, noise float64) (TransferPrior, *plantedDevice, map[[2]int]float64) {
	t.Helper()
	shared := newSharedDevice(sp, seed)
	rng := rand.New(rand.NewPCG(seed, 3))
	archs := sampleArchs(sp, 200, seed+100)
	prior, err := FitTransferPrior(sp, "prior", archs, shared.measure(archs, noise, rng))
	if err != nil {
		t.Fatal(err)
	}
	extra := map[[2]int]float64{}
	for len(extra) < 4 {
		u := rng.IntN(len(sp.Units))
		extra[[2]int{u, rng.IntN(len(sp.Units[u].Blocks))}] = 0.04
	}
	return prior, shared.derive(1.2, -0.5, extra), extra
}

// The transfer recovers a new device planted as 1.2 × a prior device's
// effects plus departures of +0.04 (log units, ≈ 4%) on four blocks: from
// 20 designed measurements the shared effects are found and every planted
// departure moves the estimate toward the truth; from 60 the departures are
// at least half recovered.
func TestTransferRecoversPlantedEffects(t *testing.T) {
	tests := []struct {
		space    string
		n        int
		rho      float64 // Spearman of block effects with the planted ones
		mape     float64 // held-out MAPE
		recovery float64 // fraction of the scaled prior's gap the estimate closes
	}{
		{"ofa-mbv3-w1.0", 20, 0.93, 0.03, 0},
		{"ofa-pn-w1.3", 20, 0.93, 0.035, 0},
		{"ofa-mbv3-w1.0", 60, 0.97, 0.015, 0.5},
		{"ofa-pn-w1.3", 60, 0.97, 0.015, 0.5},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/N=%d", tc.space, tc.n), func(t *testing.T) {
			sp := loadSpace(t, tc.space)
			const noise = 0.005
			prior, dev, extra := transferSetup(t, sp, 1, noise)
			pool := sampleArchs(sp, 600, 7)
			idx, err := ChooseTransferArchs(sp, []TransferPrior{prior}, nil, pool, tc.n, TransferDesignOptions{})
			if err != nil {
				t.Fatal(err)
			}
			archs := pick(pool, idx)
			m, err := FitTransfer(sp, []TransferPrior{prior}, archs, dev.measure(archs, noise, rand.New(rand.NewPCG(9, 9))), TransferOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := m.Scales()[0]
			t.Logf("λ=%g λ_s=%g σ=%.4f scale %.3f ± %.3f", m.Lambda(), m.LambdaS(), m.Sigma(), s.Effect, s.SE)
			e := m.Effects()
			pe := prior.Model.Effects()
			var est, truth []float64
			for bi, be := range e.Blocks {
				i := slices.Index(sp.Units[be.Unit-1].Blocks, be.Block)
				tr := dev.rel(be.Unit-1, i)
				est, truth = append(est, be.Rel), append(truth, tr)
				if _, planted := extra[[2]int{be.Unit - 1, i}]; planted {
					scaled := s.Effect * pe.Blocks[bi].Rel
					gap, left := math.Abs(scaled-tr), math.Abs(be.Rel-tr)
					t.Logf("unit %d %s: departure estimate %.4f, truth %.4f, scaled prior %.4f", be.Unit, be.Key, be.Rel, tr, scaled)
					if left > (1-tc.recovery)*gap || left >= gap {
						t.Errorf("unit %d %s: departure not recovered: estimate %.4f, truth %.4f, scaled prior %.4f (want %.0f%% of the gap closed)", be.Unit, be.Key, be.Rel, tr, scaled, 100*tc.recovery)
					}
				}
			}
			rho := stats.Spearman(est, truth)
			if rho < tc.rho {
				t.Errorf("block effects: Spearman %.3f with the planted ones, want ≥ %.2f", rho, tc.rho)
			}
			test := sampleArchs(sp, 300, 77)
			yt := dev.measure(test, 0, nil)
			pred := make([]float64, len(test))
			for i, a := range test {
				pred[i] = m.Predict(a)
			}
			mape := stats.MAPE(pred, yt)
			t.Logf("block-effect Spearman %.3f, held-out MAPE %.2f%%", rho, 100*mape)
			if mape > tc.mape {
				t.Errorf("held-out MAPE %.2f%% from %d measurements, want ≤ %.1f%%", 100*mape, tc.n, 100*tc.mape)
			}
			if want := fmt.Sprintf("predicted (transfer from prior, %d measured)", tc.n); m.Label() != want {
				t.Errorf("label %q, want %q", m.Label(), want)
			}
		})
	}
}

// transferError is the held-out MAPE of a transfer fitted on pool[idx].
func transferError(t *testing.T, sp *model.Space, prior TransferPrior, dev *plantedDevice, pool []model.Arch, idx []int, test []model.Arch, noise float64, seed uint64) float64 {
	t.Helper()
	archs := pick(pool, idx)
	m, err := FitTransfer(sp, []TransferPrior{prior}, archs, dev.measure(archs, noise, rand.New(rand.NewPCG(seed, 1))), TransferOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pred := make([]float64, len(test))
	for i, a := range test {
		pred[i] = m.Predict(a)
	}
	return stats.MAPE(pred, dev.measure(test, 0, nil))
}

func TestTransferDesignBeatsUniform(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	const noise, seeds = 0.01, 6
	ns := []int{5, 10, 20}
	design, uniform := make([]float64, len(ns)), make([]float64, len(ns))
	for seed := uint64(1); seed <= seeds; seed++ {
		prior, dev, _ := transferSetup(t, sp, seed, noise)
		pool := sampleArchs(sp, 400, seed+50)
		test := sampleArchs(sp, 200, seed+500)
		idx, err := ChooseTransferArchs(sp, []TransferPrior{prior}, nil, pool, ns[len(ns)-1], TransferDesignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		perm := newRand(seed).Perm(len(pool))
		for k, n := range ns {
			// Greedy picks are nested: the first n of the 20 are the design for n.
			design[k] += transferError(t, sp, prior, dev, pool, idx[:n], test, noise, seed) / seeds
			uniform[k] += transferError(t, sp, prior, dev, pool, perm[:n], test, noise, seed) / seeds
		}
	}
	for k, n := range ns {
		t.Logf("N=%d: held-out MAPE designed %.2f%%, uniform %.2f%% (mean of %d seeds)", n, 100*design[k], 100*uniform[k], seeds)
		if design[k] >= uniform[k] {
			t.Errorf("N=%d: designed picks (MAPE %.2f%%) do not beat uniform picks (%.2f%%)", n, 100*design[k], 100*uniform[k])
		}
	}
}

func TestTransferIntervalsCover(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	const noise = 0.02
	in, total := 0, 0
	for seed := uint64(1); seed <= 4; seed++ {
		prior, dev, _ := transferSetup(t, sp, seed, noise)
		pool := sampleArchs(sp, 400, seed+50)
		idx, err := ChooseTransferArchs(sp, []TransferPrior{prior}, nil, pool, 20, TransferDesignOptions{})
		if err != nil {
			t.Fatal(err)
		}
		archs := pick(pool, idx)
		rng := rand.New(rand.NewPCG(seed, 2))
		m, err := FitTransfer(sp, []TransferPrior{prior}, archs, dev.measure(archs, noise, rng), TransferOptions{})
		if err != nil {
			t.Fatal(err)
		}
		test := sampleArchs(sp, 250, seed+900)
		for i, y := range dev.measure(test, noise, rng) {
			lo, hi := m.Interval(test[i], 0.95)
			if !(lo < m.Predict(test[i]) && m.Predict(test[i]) < hi) {
				t.Fatalf("interval [%g, %g] does not hold the prediction %g", lo, hi, m.Predict(test[i]))
			}
			if y >= lo && y <= hi {
				in++
			}
			total++
		}
	}
	c := float64(in) / float64(total)
	t.Logf("95%% predictive intervals cover %d/%d held-out measurements (%.3f)", in, total, c)
	if c < 0.9 {
		t.Errorf("coverage %.3f of 95%% intervals on held-out archs, want ≥ 0.9", c)
	}
}

func TestTransferBadInput(t *testing.T) {
	mb := loadSpace(t, "ofa-mbv3-w1.0")
	pn := loadSpace(t, "ofa-pn-w1.3")
	prior, _, _ := transferSetup(t, mb, 1, 0.01)
	pnPrior, _, _ := transferSetup(t, pn, 1, 0.01)
	archs := sampleArchs(mb, 10, 3)
	y := make([]float64, len(archs))
	for i := range y {
		y[i] = 1 + float64(i)
	}
	linear, err := FitAdditive(mb, sampleArchs(mb, 40, 1), make40(), AdditiveOptions{Scale: ScaleLinear})
	if err != nil {
		t.Fatal(err)
	}
	recs := []Record{{Line: 1, Arch: archs[0], Latency: map[string]LatencySummary{"gpu": {Median: 1}}}}
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"prior of another space", func() error {
			_, err := FitTransfer(mb, []TransferPrior{pnPrior}, archs, y, TransferOptions{})
			return err
		}, "prior device prior was measured in space ofa-pn-w1.3, the new device in ofa-mbv3-w1.0"},
		{"design with a prior of another space", func() error {
			_, err := ChooseTransferArchs(mb, []TransferPrior{prior, pnPrior}, nil, archs, 3, TransferDesignOptions{})
			return err
		}, "space ofa-pn-w1.3"},
		{"no prior", func() error {
			_, err := FitTransfer(mb, nil, archs, y, TransferOptions{})
			return err
		}, "no prior device"},
		{"prior with too few records", func() error {
			_, err := FitTransferPrior(mb, "board7", archs, y)
			return err
		}, "prior device board7: 10 records; a prior needs at least 30"},
		{"linear-scale prior", func() error {
			_, err := FitTransfer(mb, []TransferPrior{{Name: "lin", Model: linear}}, archs, y, TransferOptions{})
			return err
		}, "prior device lin was fitted in linear scale"},
		{"missing key", func() error {
			_, err := PriorFromRecords(mb, "h100.jsonl", recs, "npu")
			return err
		}, `prior h100.jsonl:npu: no record has latency_ms["npu"] (keys in every record of h100.jsonl: gpu)`},
		{"too few records in a file", func() error {
			_, err := PriorFromRecords(mb, "h100.jsonl", recs, "gpu")
			return err
		}, "prior device h100.jsonl:gpu: 1 records"},
		{"too few measurements", func() error {
			_, err := FitTransfer(mb, []TransferPrior{prior}, archs[:2], y[:2], TransferOptions{})
			return err
		}, "2 measurements of the new device; need at least 3"},
		{"non-positive latency", func() error {
			yy := slices.Clone(y)
			yy[4] = 0
			_, err := FitTransfer(mb, []TransferPrior{prior}, archs, yy, TransferOptions{})
			return err
		}, "latency 5"},
		{"more picks than the pool", func() error {
			_, err := ChooseTransferArchs(mb, []TransferPrior{prior}, nil, archs, 11, TransferDesignOptions{})
			return err
		}, "11 archs asked from a pool of 10"},
		{"shots out of range", func() error {
			_, err := EvaluateShots(mb, recs, recs, "gpu", "transfer", 5, []TransferPrior{prior}, 1)
			return err
		}, "--shots 5: want 3..1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func make40() []float64 {
	y := make([]float64, 40)
	for i := range y {
		y[i] = 1 + 0.1*float64(i%7)
	}
	return y
}

// The design is deterministic and never picks an arch twice.
func TestTransferDesignDeterministic(t *testing.T) {
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	prior, _, _ := transferSetup(t, sp, 2, 0.01)
	pool := sampleArchs(sp, 100, 5)
	a, err := ChooseTransferArchs(sp, []TransferPrior{prior}, nil, pool, 30, TransferDesignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ChooseTransferArchs(sp, []TransferPrior{prior}, nil, pool, 30, TransferDesignOptions{})
	if !slices.Equal(a, b) {
		t.Errorf("two runs picked %v and %v", a, b)
	}
	seen := map[int]bool{}
	for _, i := range a {
		if seen[i] {
			t.Errorf("arch %d picked twice in %v", i, a)
		}
		seen[i] = true
	}
	// Continuing from the first 10 picks gives the same next picks.
	c, err := ChooseTransferArchs(sp, []TransferPrior{prior}, pick(pool, a[:10]), pool, 5, TransferDesignOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(c, a[10:15]) {
		t.Errorf("continuing after 10 picks chose %v, the full run %v", c, a[10:15])
	}
}
