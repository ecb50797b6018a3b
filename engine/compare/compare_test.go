package compare

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"blockprof/engine/analysis"
	"blockprof/engine/cuts"
	"blockprof/model"
	"blockprof/model/modeltest"
)

// device is a synthetic additive device: per-(unit, block) costs, a
// per-(unit, depth) term, a scale and Gaussian noise.
type device struct {
	sp    *model.Space
	base  float64
	scale float64
	cost  []map[model.Block]float64
	depth []map[int]float64
	noise float64
}

func newDevice(sp *model.Space, seed uint64) *device {
	rng := model.NewRand(seed)
	d := &device{sp: sp, base: 10, scale: 1, noise: 0.01}
	for _, u := range sp.Units {
		c, dd := map[model.Block]float64{}, map[int]float64{}
		for _, b := range u.Blocks {
			c[b] = rng.Float64()
		}
		for _, x := range u.Depths {
			dd[x] = rng.Float64()
		}
		d.cost, d.depth = append(d.cost, c), append(d.depth, dd)
	}
	return d
}

// clone copies d with another scale (the same device, slower or faster
// everywhere).
func (d *device) clone(scale float64) *device {
	out := *d
	out.scale = scale
	out.cost = make([]map[model.Block]float64, len(d.cost))
	for i, c := range d.cost {
		out.cost[i] = map[model.Block]float64{}
		for b, v := range c {
			out.cost[i][b] = v
		}
	}
	return &out
}

func (d *device) value(a model.Arch) float64 {
	v := d.base
	for i, blocks := range a.Units {
		v += d.depth[i][len(blocks)]
		for _, b := range blocks {
			v += d.cost[i][b]
		}
	}
	return d.scale * v
}

func (d *device) analyse(t *testing.T, name string, archs []model.Arch, seed uint64) Device {
	t.Helper()
	rng := model.NewRand(seed)
	s := analysis.Series{Space: d.sp, Device: name, Metric: "latency", Unit: "ms"}
	for _, a := range archs {
		s.Obs = append(s.Obs, analysis.Obs{Arch: a, Value: d.value(a) * (1 + d.noise*rng.NormFloat64())})
	}
	rep, err := analysis.Analyze(s, analysis.Options{Boot: 20, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	return Device{Name: name, Label: "simulated", Records: len(s.Obs), Report: rep, Obs: s.Obs}
}

func uniform(sp *model.Space, n int, seed uint64) []model.Arch {
	rng := model.NewRand(seed)
	out := make([]model.Arch, n)
	for i := range out {
		out[i] = sp.Sample(rng, 224)
	}
	return out
}

func find(cs []Cell, unit int, block string) *Cell {
	for i := range cs {
		if cs[i].Unit == unit && cs[i].Block == block {
			return &cs[i]
		}
	}
	return nil
}

func TestCompareScaledDevicesAgree(t *testing.T) {
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	a := newDevice(sp, 1)
	b := a.clone(3) // three times slower, same relative costs
	archs := uniform(sp, 300, 7)
	r, err := Compare([]Device{a.analyse(t, "a", archs, 11), b.analyse(t, "b", archs, 12)})
	if err != nil {
		t.Fatal(err)
	}
	agree, differ, unknown := Counts(r.Blocks)
	if unknown != 0 || agree == 0 {
		t.Fatalf("block cells: %d agree, %d differ, %d without interval", agree, differ, unknown)
	}
	// 95% intervals: a few of the ~45 block cells may miss by chance, most
	// must overlap.
	if differ > len(r.Blocks)/10 {
		t.Errorf("%d of %d block cells differ between a device and itself ×3", differ, len(r.Blocks))
	}
	p := r.Pairs[0]
	if p.Archs != 300 || p.Latency < 0.95 || p.BlockEffect < 0.95 {
		t.Errorf("pair %+v: want 300 shared archs and Spearman ≥ 0.95 for latencies and effects", p)
	}
	if len(r.Points) != 300 {
		t.Fatalf("%d shared archs in the points, want 300", len(r.Points))
	}
	for _, pt := range r.Points {
		if math.Abs(pt.Relative[0]-pt.Relative[1]) > 0.1 {
			t.Fatalf("arch %s: relative latencies %v differ on two proportional devices", pt.Arch, pt.Relative)
		}
		if pt.Worst != max(pt.Relative[0], pt.Relative[1]) {
			t.Fatalf("arch %s: worst %v of %v", pt.Arch, pt.Worst, pt.Relative)
		}
	}
}

func TestCompareFindsPlantedDifference(t *testing.T) {
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	a := newDevice(sp, 1)
	b := a.clone(1)
	big := sp.Units[1].Blocks[0]
	b.cost[1][big] += 2 // unit 2's first block is much slower on b only
	archs := uniform(sp, 300, 7)
	da, db := a.analyse(t, "a", archs, 11), b.analyse(t, "b", archs, 12)
	r, err := Compare([]Device{da, db})
	if err != nil {
		t.Fatal(err)
	}
	c := find(r.Blocks, 2, big.Key())
	if c == nil {
		t.Fatalf("no cell for unit 2 block %s", big.Key())
	}
	if c.Verdict != Differ || len(c.Pairs) != 1 || c.Pairs[0] != "a/b" {
		t.Errorf("planted cell: verdict %q pairs %v, want differ a/b (sides %+v)", c.Verdict, c.Pairs, c.Sides)
	}
	if !(c.Sides[1].Rel > c.Sides[0].Rel) {
		t.Errorf("planted cell: b's relative effect %.3f should exceed a's %.3f", c.Sides[1].Rel, c.Sides[0].Rel)
	}
	// A cell of another unit keeps agreeing.
	if o := find(r.Blocks, 4, sp.Units[3].Blocks[0].Key()); o == nil || o.Verdict != Agree {
		t.Errorf("unit 4 cell: %+v, want agree", o)
	}
	if r.Pairs[0].Differ < 1 {
		t.Errorf("pair differ count %d, want ≥ 1", r.Pairs[0].Differ)
	}
	// JSON: finite numbers, no NaN.
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"latency_spearman":`) || !strings.Contains(string(data), `"relative_lo":`) {
		t.Errorf("JSON lacks the correlations or the normalised intervals: %.300s", data)
	}
}

func TestCompareErrors(t *testing.T) {
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	other := modeltest.Space(t, "ofa-pn-w1.3")
	a := newDevice(sp, 1).analyse(t, "a", uniform(sp, 120, 3), 1)
	b := newDevice(sp, 2).analyse(t, "b", uniform(sp, 120, 4), 2)
	c := newDevice(other, 3).analyse(t, "c", uniform(other, 120, 5), 3)
	few := newDevice(sp, 4)
	fewDev := few.analyse(t, "few", uniform(sp, 8, 6), 4)
	for _, tc := range []struct {
		name string
		devs []Device
		want string
	}{
		{"one device", []Device{a}, "at least two devices"},
		{"twice", []Device{a, a}, `"a" is named twice`},
		{"spaces", []Device{a, c}, "different spaces: a measured ofa-mbv3-w1.0, c measured ofa-pn-w1.3"},
		{"too few", []Device{a, fewDev}, "device few: too few records"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Compare(tc.devs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want it to say %q", err, tc.want)
			}
		})
	}
	if _, err := Compare([]Device{a, b}); err != nil {
		t.Fatalf("two devices of one space: %v", err)
	}
}

func TestCommonCuts(t *testing.T) {
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	b0, b1 := sp.Units[0].Blocks[0].Key(), sp.Units[0].Blocks[1].Key()
	must := func(c cuts.Cuts, err error) cuts.Cuts {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	u := sp.Units[2]
	x := must(cuts.New(sp).TogglePrune(1, b0, "x"))
	x = must(x.TogglePrune(1, b1, "x"))
	x = must(x.SetDepths(3, u.Depths[1], u.MaxDepth(), "x"))
	y := must(cuts.New(sp).TogglePrune(1, b0, "y"))
	y = must(y.SetDepths(3, u.Depths[2], u.MaxDepth(), "y"))
	got, err := CommonCuts([]cuts.Cuts{x, y}, []string{"x", "y"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		block string
		want  bool
	}{{b0, true}, {b1, false}} {
		if got.Pruned(1, tc.block) != tc.want {
			t.Errorf("unit 1 block %s pruned = %v, want %v", tc.block, !tc.want, tc.want)
		}
	}
	if lo, hi := got.Depths(3); lo != u.Depths[1] || hi != u.MaxDepth() {
		t.Errorf("unit 3 depths %d..%d, want %d..%d (the wider range)", lo, hi, u.Depths[1], u.MaxDepth())
	}
	if blocks, _ := got.Counts(); blocks != 1 {
		t.Errorf("%d pruned cells, want 1", blocks)
	}
	if d := strings.Join(got.Describe(), "\n"); !strings.Contains(d, "every device compared (x, y)") {
		t.Errorf("reasons do not name the devices: %s", d)
	}
	if _, err := CommonCuts([]cuts.Cuts{x, cuts.New(modeltest.Space(t, "ofa-pn-w1.3"))}, []string{"x", "p"}); err == nil {
		t.Error("cuts of two spaces: no error")
	}
}
