package cuts

import (
	"slices"
	"strings"
	"testing"

	"blockprof/engine/analysis"
	"blockprof/engine/reduce"
	"blockprof/model"
)

// synthetic is a report of an additive metric on uniform archs: cost per
// (unit, block) and per (unit, depth), plus noise.
func synthetic(t *testing.T, sp *model.Space, metric, unit string, seed uint64, noise float64,
	cost func(u int, b model.Block) float64, depth func(u, d int) float64) *analysis.Report {
	t.Helper()
	items, err := sp.Plan(model.PlanSpec{Uniform: 400, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	rng := model.NewRand(seed + 1)
	var obs []analysis.Obs
	for _, it := range items {
		v := 10.0
		for i, blocks := range it.Arch.Units {
			v += depth(i+1, len(blocks))
			for _, b := range blocks {
				v += cost(i+1, b)
			}
		}
		obs = append(obs, analysis.Obs{Arch: it.Arch, Value: v + noise*rng.NormFloat64()})
	}
	dev := ""
	if metric == "latency" {
		dev = "synthetic-npu"
	}
	rep, err := analysis.Analyze(analysis.Series{Space: sp, Device: dev, Metric: metric, Unit: unit, Label: "simulated", Obs: obs},
		analysis.Options{Boot: 100})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// planted is a suggestion on synthetic data with every kind of cut: k=7
// costs latency at no quality; a 4th layer in units 2 and 4 costs latency
// for no quality; in unit 1 each layer is free in latency and gains
// quality, so its depth is raised to 4 (the explorer used to drop this
// min-depth cut and keep its reason).
func planted(t *testing.T, sp *model.Space) reduce.Reduction {
	t.Helper()
	// The mean latency of one uniform layer: 0.2 + 0.2·E[e] + 0.5·P(k=7).
	layer := 0.2 + 0.2*(3+4+6)/3.0 + 0.5/3
	lat := synthetic(t, sp, "latency", "ms", 1, 0.05, func(u int, b model.Block) float64 {
		c := 0.2 + 0.2*b.E
		if b.K == 7 {
			c += 0.5
		}
		return c
	}, func(u, d int) float64 {
		switch {
		case u == 1:
			return -layer * float64(d)
		case d == 4 && (u == 2 || u == 4):
			return 1
		}
		return 0
	})
	acc := synthetic(t, sp, "accuracy", "%", 2, 0.02, func(u int, b model.Block) float64 {
		a := 0.1 * b.E
		if b.K == 7 {
			a += 0.01
		}
		return a
	}, func(u, d int) float64 {
		switch {
		case u == 1:
			return 0.5 * float64(d)
		case d == 4 && (u == 2 || u == 4):
			return -0.1 * (3 + 4 + 6) / 3 // the 4th layer's blocks: no net gain
		}
		return 0
	})
	red, err := reduce.Suggest(lat, acc, reduce.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return red
}

// TestSuggestionKeepsEveryCut: the cuts of a suggestion are exactly the
// reduction `analyze --suggest` writes (min-depth included: unit 1 keeps
// depths [4]), and each cut carries its own suggestion's reason.
func TestSuggestionKeepsEveryCut(t *testing.T) {
	sp, _ := space(t, "ofa-mbv3")
	red := planted(t, sp)
	var kinds []string
	for _, s := range red.Suggestions {
		kinds = append(kinds, s.Kind)
	}
	for _, k := range []string{"remove-blocks", "max-depth", "min-depth"} {
		if !slices.Contains(kinds, k) {
			t.Fatalf("the planted data gave no %s suggestion (rules: %v)", k, kinds)
		}
	}
	c := must(t)(FromSuggestion(sp, red))
	cli := red.Model() // what `analyze --suggest` writes
	got := c.Reduction(cli.Name)
	for i := range sp.Units {
		if !slices.Equal(got.Units[i].Blocks, cli.Units[i].Blocks) || !slices.Equal(got.Units[i].Depths, cli.Units[i].Depths) {
			t.Errorf("unit %d: cuts keep %v %v, analyze --suggest %v %v", i+1, got.Units[i].Blocks, got.Units[i].Depths, cli.Units[i].Blocks, cli.Units[i].Depths)
		}
	}
	if !slices.Equal(got.Units[0].Depths, []int{4}) {
		t.Errorf("unit 1 depths %v, want [4]", got.Units[0].Depths)
	}
	lo, _ := c.DepthWhy(1)
	if len(lo) != 1 || !strings.HasPrefix(lo[0], "min depth 4: at least 4 layers in unit 1 on synthetic-npu") ||
		!strings.Contains(lo[0], "(rule min-depth 4 in 1; evidence: accuracy (simulated) of depth 3 − depth 2") {
		t.Errorf("unit 1 min depth reason %q", lo)
	}
	// Each reason line is keyed to a cut of its unit: nothing unit-wide.
	for i := range sp.Units {
		if w := c.UnitWhy(i + 1); w != nil {
			t.Errorf("unit %d has reasons of no cut: %q", i+1, w)
		}
	}
	w := c.Why(2, "e6k7")
	if len(w) != 1 || !strings.Contains(w[0], "remove k=7") || !strings.Contains(w[0], "e6k7 dominated by") || strings.Contains(w[0], "e3k7 dominated") {
		t.Errorf("unit 2 e6k7 reason %q", w)
	}
	if c.Origin() != red.Description || !strings.HasPrefix(c.Origin(), "suggested from") {
		t.Errorf("origin %q", c.Origin())
	}
	// Un-pruning a suggested cell drops its reason from the export.
	c2 := must(t)(c.TogglePrune(2, "e6k7", ""))
	if r := strings.Join(c2.Reduction("x").Units[1].Reasons, "\n"); strings.Contains(r, "remove e6k7") {
		t.Errorf("un-pruned e6k7 keeps its reason: %s", r)
	}
}

func TestFromSuggestion(t *testing.T) {
	sp, _ := space(t, "ofa-mbv3-w1.0")
	rules := func(t *testing.T, text string, sugg ...reduce.Suggestion) reduce.Reduction {
		t.Helper()
		rs, err := reduce.ParseRules(text)
		if err != nil {
			t.Fatal(err)
		}
		r, err := reduce.FromRules(sp, "s", "suggested from test", rs)
		if err != nil {
			t.Fatal(err)
		}
		r.Suggestions = sugg
		return r
	}
	rm := reduce.Suggestion{Kind: "remove-blocks", Units: []int{2, 3}, Blocks: []string{"e6k7", "e4k7"}, Rule: "remove e4k7,e6k7 in 2,3", Text: "remove them",
		Evidence: []reduce.Evidence{
			{Statistic: "unit 2: e6k7 dominated by e6k5 (faster): latency e6k5 − e6k7 on npu", Estimate: analysis.Estimate{Value: -0.5, Lo: -0.6, Hi: -0.4}},
			{Statistic: "unit 3: e6k7 dominated by e6k5 (faster): latency e6k5 − e6k7 on npu", Estimate: analysis.Estimate{Value: -0.7, Lo: -0.8, Hi: -0.6}},
		}}
	mx := reduce.Suggestion{Kind: "max-depth", Units: []int{4}, Depth: 3, Rule: "max-depth 3 in 4", Text: "at most 3 layers"}
	mn := reduce.Suggestion{Kind: "min-depth", Units: []int{5}, Depth: 3, Rule: "min-depth 3 in 5", Text: "at least 3 layers"}
	cases := []struct {
		name string
		red  reduce.Reduction
		err  string
		// want checks the cuts.
		want func(t *testing.T, c Cuts)
	}{
		{"every kind", rules(t, "remove e4k7,e6k7 in 2,3\nmax-depth 3 in 4\nmin-depth 3 in 5", rm, mx, mn), "", func(t *testing.T, c Cuts) {
			if b, d := c.Counts(); b != 4 || d != 2 {
				t.Errorf("counts %d %d", b, d)
			}
			if w := c.Why(2, "e6k7"); len(w) != 1 || w[0] != "remove e6k7: remove them (rule remove e4k7,e6k7 in 2,3; evidence: e6k7 dominated by e6k5 (faster): latency e6k5 − e6k7 on npu -0.5 [-0.6, -0.4])" {
				t.Errorf("unit 2 e6k7 %q", w)
			}
			if w := c.Why(2, "e4k7"); len(w) != 1 || w[0] != "remove e4k7: remove them (rule remove e4k7,e6k7 in 2,3)" {
				t.Errorf("unit 2 e4k7 %q", w)
			}
			if lo, hi := c.Depths(5); lo != 3 || hi != 4 {
				t.Errorf("unit 5 %d..%d", lo, hi)
			}
			if _, hi := c.DepthWhy(4); len(hi) != 1 || hi[0] != "max depth 3: at most 3 layers (rule max-depth 3 in 4)" {
				t.Errorf("unit 4 %q", hi)
			}
		}},
		{"no suggestion", rules(t, ""), "", func(t *testing.T, c Cuts) {
			if b, d := c.Counts(); b+d != 0 {
				t.Errorf("counts %d %d", b, d)
			}
		}},
		{"a cut without a suggestion", rules(t, "remove e4k7,e6k7 in 2,3\nmax-depth 3 in 4", rm), "a cut without a suggestion", nil},
		{"unknown kind", rules(t, "", reduce.Suggestion{Kind: "width", Units: []int{1}, Rule: "w"}), `unknown kind "width"`, nil},
		{"unit outside", rules(t, "", reduce.Suggestion{Kind: "max-depth", Units: []int{9}, Depth: 3, Rule: "m"}), "unit 9 outside 1..5", nil},
		{"depth outside", rules(t, "", reduce.Suggestion{Kind: "max-depth", Units: []int{1}, Depth: 7, Rule: "m"}), "depth 7 is not a choice of unit 1", nil},
		{"crossed bounds", rules(t, "", reduce.Suggestion{Kind: "max-depth", Units: []int{1}, Depth: 2, Rule: "a"}, reduce.Suggestion{Kind: "min-depth", Units: []int{1}, Depth: 3, Rule: "b"}),
			"unit 1 would allow no depth", nil},
		{"units of another space", reduce.Reduction{Name: "pn", Units: make([]reduce.UnitRule, 6)}, "has 6 units, space ofa-mbv3-w1.0 has 5", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := FromSuggestion(sp, tc.red)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want(t, c)
		})
	}
}
