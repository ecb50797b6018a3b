package cuts

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"blockprof/model"
	"blockprof/model/modeltest"
)

func space(t testing.TB, name string) (*model.Space, *model.Spaces) {
	t.Helper()
	ss := modeltest.Spaces(t)
	sp, err := ss.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return sp, ss
}

// must is the cuts of an edit that must succeed: must(t)(c.TogglePrune(...)).
func must(t testing.TB) func(Cuts, error) Cuts {
	return func(c Cuts, err error) Cuts {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
}

func reasons(r model.Reduction, u int) string { return strings.Join(r.Units[u-1].Reasons, "\n") }

// TestShippedSpacesRoundTrip: every spaces/*.toml and spaces/derived/*.toml
// file read as cuts of its parent writes the same bytes, and its stored
// form reads back to the same cuts.
func TestShippedSpacesRoundTrip(t *testing.T) {
	ss := modeltest.Spaces(t)
	root := modeltest.Root(t)
	files, _ := filepath.Glob(filepath.Join(root, "spaces", "*.toml"))
	derived, _ := filepath.Glob(filepath.Join(root, "spaces", "derived", "*.toml"))
	if len(files) < 8 || len(derived) == 0 {
		t.Fatalf("expected the shipped reduced spaces, found %d and %d files", len(files), len(derived))
	}
	for _, f := range append(files, derived...) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			r, err := model.ParseReduction(data, f, ss)
			if err != nil {
				t.Fatal(err)
			}
			parent, _ := ss.Get(r.Parent)
			c := must(t)(FromReduction(parent, r))
			if out := c.Reduction(r.Name).Marshal(); !bytes.Equal(out, data) {
				t.Errorf("FromReduction → Reduction changes the file:\n%s", out)
			}
			stored := c.Marshal()
			back := must(t)(Unmarshal(parent, stored))
			if !back.Equal(c) {
				t.Errorf("stored form does not read back:\n%s", stored)
			}
			if b, d := c.Counts(); b+d == 0 {
				t.Errorf("no cut read from %s", f)
			}
		})
	}
}

// TestDerivedReasonsAreKeyed: the derived H100 space's reasons name its
// cuts, so each goes with its cut.
func TestDerivedReasonsAreKeyed(t *testing.T) {
	sp, ss := space(t, "ofa-mbv3-w1.0")
	data, err := os.ReadFile(filepath.Join(modeltest.Root(t), "spaces", "derived", "ofa-mbv3-w1.0-h100-graph.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c := must(t)(Parse(sp, ss, data, "h100.toml"))
	if w := c.Why(1, "e6k7"); len(w) != 1 || !strings.HasPrefix(w[0], "remove e6k7: +0.015 ms") {
		t.Errorf("unit 1 e6k7: %q", w)
	}
	if _, hi := c.DepthWhy(5); len(hi) != 1 || !strings.HasPrefix(hi[0], "max depth 3: d4-d2") {
		t.Errorf("unit 5 max depth: %q", hi)
	}
	// Widening unit 5 back to depth 4 removes the cap's reason and leaves
	// no reason in that unit.
	c = must(t)(c.SetDepths(5, 2, 4, ""))
	if got := c.Reduction("x").Units[4].Reasons; len(got) != 0 {
		t.Errorf("unit 5 keeps %q", got)
	}
}

// TestExportLoadExport: cuts made here, exported with a Created stamp and
// loaded again export the same bytes but for Created.
func TestExportLoadExport(t *testing.T) {
	sp, ss := space(t, "ofa-mbv3-w1.0")
	c := New(sp)
	c = must(t)(c.TogglePrune(2, "e6k7", "regression +0.3 ms"))
	c = must(t)(c.TogglePrune(2, "e3k3", "")) // no reason
	c = must(t)(c.SetDepths(3, 3, 4, "quality gain"))
	c = must(t)(c.SetDepths(4, 2, 3, "regression depth effect depth 4 +0.2 ms"))
	c = c.WithOrigin("by hand")
	r := c.Reduction("mine")
	r.Created = "2026-01-01T00:00:00Z"
	first := r.Marshal()
	back := must(t)(Parse(sp, ss, first, "mine.toml"))
	r2 := back.Reduction("mine")
	r2.Created = "2027-02-02T00:00:00Z"
	second := r2.Marshal()
	strip := func(b []byte) string {
		var keep []string
		for _, l := range strings.Split(string(b), "\n") {
			if !strings.HasPrefix(l, "created = ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if strip(first) != strip(second) || bytes.Equal(first, second) {
		t.Errorf("export → load → export differs beyond created:\n%s\n---\n%s", first, second)
	}
	want := []string{"remove e6k7: regression +0.3 ms"}
	if got := r.Units[1].Reasons; !slices.Equal(got, want) {
		t.Errorf("unit 2 reasons %q, want %q", got, want)
	}
	if got := reasons(r, 3); got != "min depth 3: quality gain" {
		t.Errorf("unit 3 reasons %q", got)
	}
	if back.Origin() != "by hand" || !back.Pruned(2, "e3k3") {
		t.Errorf("origin %q, e3k3 pruned %v", back.Origin(), back.Pruned(2, "e3k3"))
	}
}

func TestTogglePrune(t *testing.T) {
	sp, _ := space(t, "ofa-mbv3-w1.0")
	allBut := func(u int, keep string) Cuts {
		c := New(sp)
		for _, b := range sp.Units[u-1].Blocks {
			if b.Key() != keep {
				c = must(t)(c.TogglePrune(u, b.Key(), "x"))
			}
		}
		return c
	}
	cases := []struct {
		name        string
		start       Cuts
		unit        int
		block, why  string
		pruned      bool
		err         string
		wantReasons []string
	}{
		{"prune with reason", New(sp), 2, "e6k7", "slow", true, "", []string{"remove e6k7: slow"}},
		{"reason already keyed", New(sp), 2, "e6k7", "remove e6k7: slow", true, "", []string{"remove e6k7: slow"}},
		{"paper label", New(sp), 1, "MBConv6-7", "slow", true, "", []string{"remove e6k7: slow"}},
		{"no reason", New(sp), 2, "e6k7", "", true, "", nil},
		{"un-prune drops the reason", must(t)(New(sp).TogglePrune(2, "e6k7", "slow")), 2, "e6k7", "", false, "", nil},
		{"last block", allBut(3, "e4k5"), 3, "e4k5", "x", false, "unit 3 needs at least one block: e4k5 is its last", nil},
		{"not a choice", New(sp), 1, "e5k5", "x", false, "e5k5 is not a choice of unit 1", nil},
		{"bad block", New(sp), 1, "zz", "x", false, `block "zz"`, nil},
		{"unit 0", New(sp), 0, "e6k7", "x", false, "unit 0 outside 1..5", nil},
		{"unit 6", New(sp), 6, "e6k7", "x", false, "unit 6 outside 1..5", nil},
		{"zero value", Cuts{}, 1, "e6k7", "x", false, "no search space", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.start.Marshal()
			got, err := tc.start.TogglePrune(tc.unit, tc.block, tc.why)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tc.start.Marshal(), before) {
				t.Error("the receiver changed")
			}
			b, _ := model.ParseBlock(tc.block)
			if got.Pruned(tc.unit, b.Key()) != tc.pruned {
				t.Errorf("pruned %v, want %v", !tc.pruned, tc.pruned)
			}
			if r := got.Reduction("x").Units[tc.unit-1].Reasons; !slices.Equal(r, tc.wantReasons) {
				t.Errorf("reasons %q, want %q", r, tc.wantReasons)
			}
			if _, err := got.Reduction("x").ApplyTo(sp); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestSetDepths(t *testing.T) {
	sp, _ := space(t, "ofa-mbv3-w1.0") // depths 2, 3, 4 in every unit
	capped := must(t)(New(sp).SetDepths(1, 2, 3, "slow"))
	cases := []struct {
		name          string
		start         Cuts
		lo, hi        int
		why           string
		wantLo, wantH int
		wantDepths    []int
		wantReasons   []string
		err           string
	}{
		{"raise min", New(sp), 3, 4, "gains", 3, 4, []int{3, 4}, []string{"min depth 3: gains"}, ""},
		{"only depth 4", New(sp), 4, 4, "gains", 4, 4, []int{4}, []string{"min depth 4: gains"}, ""},
		{"lower max", New(sp), 2, 3, "slow", 2, 3, []int{2, 3}, []string{"max depth 3: slow"}, ""},
		{"min at both ends", capped, 3, 3, "gains", 3, 3, []int{3}, []string{"min depth 3: gains", "max depth 3: slow"}, ""},
		{"max back to the space's", capped, 2, 4, "", 2, 4, []int{2, 3, 4}, nil, ""},
		{"unchanged keeps the reason", capped, 2, 3, "other", 2, 3, []int{2, 3}, []string{"max depth 3: slow"}, ""},
		{"depth not a choice", New(sp), 1, 4, "", 0, 0, nil, nil, "depth 1 is not a choice of unit 1"},
		{"crossed", New(sp), 4, 3, "", 0, 0, nil, nil, "min depth 4 above max depth 3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.start.SetDepths(1, tc.lo, tc.hi, tc.why)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := got.Depths(1); lo != tc.wantLo || hi != tc.wantH {
				t.Errorf("depths %d..%d, want %d..%d", lo, hi, tc.wantLo, tc.wantH)
			}
			r := got.Reduction("x")
			if !slices.Equal(r.Units[0].Depths, tc.wantDepths) || !slices.Equal(r.Units[0].Reasons, tc.wantReasons) {
				t.Errorf("unit 1 depths %v reasons %q, want %v %q", r.Units[0].Depths, r.Units[0].Reasons, tc.wantDepths, tc.wantReasons)
			}
			_, nd := got.Counts()
			if want := map[bool]int{true: 1, false: 0}[tc.wantLo != 2 || tc.wantH != 4]; nd != want {
				t.Errorf("%d depth cuts, want %d", nd, want)
			}
		})
	}
}

// TestUnitWideReasons: reasons that name no cut stay while the unit has a
// cut and go with its last one; keyed lines that name a cut the file does
// not make are unit-wide.
func TestUnitWideReasons(t *testing.T) {
	sp, ss := space(t, "ofa-mbv3-w1.0")
	r := New(sp).Reduction("f")
	r.Units[0].Blocks = slices.DeleteFunc(r.Units[0].Blocks, func(k string) bool { return k == "e6k7" || k == "e3k3" })
	r.Units[0].Reasons = []string{"paper §5.1", "remove e6k7: slow", "remove e4k5: kept after all", "max depth 3: no cap here"}
	r.Units[1].Reasons = []string{"nothing cut here"}
	c := must(t)(Parse(sp, ss, r.Marshal(), "f.toml"))
	if got := c.UnitWhy(1); !slices.Equal(got, []string{"paper §5.1", "remove e4k5: kept after all", "max depth 3: no cap here"}) {
		t.Errorf("unit-wide %q", got)
	}
	if got := c.Why(1, "e6k7"); !slices.Equal(got, []string{"remove e6k7: slow"}) {
		t.Errorf("e6k7 %q", got)
	}
	if got := c.UnitWhy(2); got != nil {
		t.Errorf("an uncut unit keeps %q", got)
	}
	c = must(t)(c.TogglePrune(1, "e6k7", ""))
	if len(c.UnitWhy(1)) != 3 {
		t.Errorf("unit-wide reasons lost while e3k3 is still pruned: %q", c.UnitWhy(1))
	}
	c = must(t)(c.TogglePrune(1, "e3k3", ""))
	if got := c.Reduction("f").Units[0].Reasons; got != nil {
		t.Errorf("a unit without cuts keeps %q", got)
	}
}

func TestFromReductionErrors(t *testing.T) {
	sp, ss := space(t, "ofa-mbv3-w1.0")
	pn, _ := ss.Get("ofa-pn-w1.3")
	gap := New(sp).Reduction("gap")
	gap.Units[2].Depths = []int{2, 4}
	data := gap.Marshal()
	_, err := Parse(sp, ss, data, "gap.toml")
	if err == nil || !strings.Contains(err.Error(), "gap.toml:") || !strings.Contains(err.Error(), "reduced.units[3].depths") ||
		!strings.Contains(err.Error(), "list every depth from 2 to 4") {
		t.Errorf("gap: %v", err)
	}
	if line := model.LineOf(data, []string{"reduced", "units", "3", "depths"}); !strings.Contains(err.Error(), ":"+strconv.Itoa(line)+":") {
		t.Errorf("gap error does not name line %d: %v", line, err)
	}
	if _, err := FromReduction(pn, New(sp).Reduction("x")); err == nil || !strings.Contains(err.Error(), "does not fit space ofa-pn-w1.3") {
		t.Errorf("other space: %v", err)
	}
	if _, err := Unmarshal(pn, New(sp).Marshal()); err == nil || !strings.Contains(err.Error(), "stored cuts of ofa-pn-w1.3") {
		t.Errorf("stored cuts of another space: %v", err)
	}
	if _, err := FromReduction(nil, model.Reduction{}); err == nil {
		t.Error("nil space accepted")
	}
}

// TestLoadCompatibleSpace: the paper's OFA-NPU (parent ofa-mbv3) loads as
// cuts of ofa-mbv3-w1.0, mutation probabilities included.
func TestLoadCompatibleSpace(t *testing.T) {
	sp, ss := space(t, "ofa-mbv3-w1.0")
	data, err := os.ReadFile(filepath.Join(modeltest.Root(t), "spaces", "ofa-mbv3-npu.toml"))
	if err != nil {
		t.Fatal(err)
	}
	c := must(t)(Parse(sp, ss, data, "spaces/ofa-mbv3-npu.toml"))
	if b, d := c.Counts(); b != 15 || d != 0 {
		t.Errorf("counts %d %d, want 15 0", b, d)
	}
	r := c.Reduction("")
	if r.Parent != sp.Name || r.Name != "OFA-NPU" || r.Units[4].MutationProb != 0.5 || !strings.HasPrefix(r.Description, "paper §5.1") {
		t.Errorf("reduction %+v", r)
	}
	if !slices.ContainsFunc(c.Describe(), func(l string) bool { return l == "unit 4: mutation probability 0.5" }) {
		t.Errorf("describe %q", c.Describe())
	}
}

// TestMergeNeverReplaces: merging a suggestion keeps every manual cut and
// its reason, adds the new ones and says what held and what was skipped.
func TestMergeNeverReplaces(t *testing.T) {
	sp, _ := space(t, "ofa-mbv3-w1.0")
	manual := New(sp)
	manual = must(t)(manual.TogglePrune(1, "e6k5", "by hand"))
	manual = must(t)(manual.TogglePrune(2, "e6k7", "by hand"))
	manual = must(t)(manual.SetDepths(3, 2, 3, "by hand"))
	manual = must(t)(manual.SetDepths(4, 2, 2, "by hand"))
	// Unit 5: every block but e3k3 pruned by hand.
	for _, b := range sp.Units[4].Blocks {
		if b.Key() != "e3k3" {
			manual = must(t)(manual.TogglePrune(5, b.Key(), "by hand"))
		}
	}
	sugg := New(sp).WithOrigin("suggested from npu latency")
	sugg = must(t)(sugg.TogglePrune(2, "e6k7", "dominated")) // held
	sugg = must(t)(sugg.TogglePrune(2, "e4k7", "dominated")) // added
	sugg = must(t)(sugg.TogglePrune(5, "e3k3", "dominated")) // would empty unit 5
	sugg = must(t)(sugg.SetDepths(1, 3, 4, "gains quality")) // added (min)
	sugg = must(t)(sugg.SetDepths(3, 2, 2, "slow"))          // tightens the manual max 3
	sugg = must(t)(sugg.SetDepths(4, 3, 4, "gains quality")) // above the manual max 2
	merged, rep := manual.Merge(sugg)

	// Every manual cut holds with its reason.
	for _, chk := range []struct {
		unit  int
		block string
	}{{1, "e6k5"}, {2, "e6k7"}} {
		if !merged.Pruned(chk.unit, chk.block) || !slices.Contains(merged.Why(chk.unit, chk.block), BlockKey(chk.block)+": by hand") {
			t.Errorf("manual cut unit %d %s lost: %q", chk.unit, chk.block, merged.Why(chk.unit, chk.block))
		}
	}
	for _, b := range sp.Units[4].Blocks {
		if b.Key() != "e3k3" && !merged.Pruned(5, b.Key()) {
			t.Errorf("manual cut unit 5 %s lost", b.Key())
		}
	}
	if lo, hi := merged.Depths(4); lo != 2 || hi != 2 {
		t.Errorf("unit 4 depths %d..%d, want the manual 2..2", lo, hi)
	}
	if lo, hi := merged.Depths(3); lo != 2 || hi != 2 {
		t.Errorf("unit 3 depths %d..%d, want 2..2", lo, hi)
	}
	if _, hi := merged.DepthWhy(3); !slices.Equal(hi, []string{"max depth 2: slow", "max depth 2: by hand"}) {
		t.Errorf("unit 3 max reasons %q", hi)
	}
	if got := merged.Why(2, "e6k7"); !slices.Equal(got, []string{"remove e6k7: by hand", "remove e6k7: dominated"}) {
		t.Errorf("held cut's reasons %q", got)
	}
	wantAdded := []string{"unit 1: min depth 3 (was 2)", "unit 2: remove e4k7", "unit 3: max depth 2 (was 3)"}
	wantHeld := []string{"unit 2: remove e6k7"}
	wantSkipped := []string{"unit 4: min depth 3 is above the unit's max depth 2", "unit 5: remove e3k3 would leave the unit without a block"}
	if !slices.Equal(rep.Added, wantAdded) || !slices.Equal(rep.Held, wantHeld) || !slices.Equal(rep.Skipped, wantSkipped) {
		t.Errorf("report\n added %q\n held %q\n skipped %q", rep.Added, rep.Held, rep.Skipped)
	}
	if !strings.HasPrefix(rep.String(), "added 3 cuts, 1 already held, 2 skipped (") {
		t.Errorf("report %q", rep.String())
	}
	if merged.Origin() != "suggested from npu latency" {
		t.Errorf("origin %q", merged.Origin())
	}
	if _, err := merged.Reduction("m").ApplyTo(sp); err != nil {
		t.Fatal(err)
	}
	// Merging again adds nothing and changes nothing.
	again, rep2 := merged.Merge(sugg)
	if len(rep2.Added) != 0 || !again.Equal(merged) {
		t.Errorf("second merge added %q", rep2.Added)
	}
	// The manual cuts themselves did not change.
	if b, d := manual.Counts(); b != 10 || d != 2 {
		t.Errorf("the receiver changed: %d %d", b, d)
	}
	// Cuts of another space do not merge.
	pn, _ := space(t, "ofa-pn-w1.3")
	same, rep3 := manual.Merge(New(pn))
	if !same.Equal(manual) || len(rep3.Skipped) != 1 {
		t.Errorf("merge across spaces: %+v", rep3)
	}
}

func TestDescribe(t *testing.T) {
	sp, _ := space(t, "ofa-mbv3-w1.0")
	c := must(t)(New(sp).TogglePrune(2, "e6k7", "slow"))
	c = must(t)(c.TogglePrune(2, "e3k3", ""))
	c = must(t)(c.SetDepths(4, 3, 3, "both"))
	want := []string{
		"unit 2: remove e3k3 (no reason given)",
		"unit 2: remove e6k7: slow",
		"unit 4: min depth 3 (of 2): both",
		"unit 4: max depth 3 (of 4): both",
	}
	if got := c.Describe(); !slices.Equal(got, want) {
		t.Errorf("describe\n%q\nwant\n%q", got, want)
	}
	if New(sp).Describe() != nil || (Cuts{}).Describe() != nil {
		t.Error("no cuts describe something")
	}
}

func TestZeroValue(t *testing.T) {
	var c Cuts
	if c.Marshal() != nil || c.Units() != 0 || c.Pruned(1, "e6k7") || c.Parent() != "" {
		t.Error("zero value has content")
	}
	if lo, hi := c.Depths(1); lo != 0 || hi != 0 {
		t.Errorf("depths %d %d", lo, hi)
	}
	if _, err := c.SetDepths(1, 2, 3, ""); err == nil {
		t.Error("zero value accepts an edit")
	}
	if _, err := Unmarshal(nil, nil); err == nil {
		t.Error("Unmarshal without a space")
	}
}

// FuzzParse feeds hostile TOML to Parse (FromReduction) and Unmarshal: no
// panic, and whatever is accepted applies to the space, stores and reads
// back to the same bytes.
func FuzzParse(f *testing.F) {
	ss := modeltest.Spaces(f)
	root := modeltest.Root(f)
	files, _ := filepath.Glob(filepath.Join(root, "spaces", "*.toml"))
	derived, _ := filepath.Glob(filepath.Join(root, "spaces", "derived", "*.toml"))
	for _, file := range append(files, derived...) {
		data, _ := os.ReadFile(file)
		f.Add(string(data))
	}
	targets := []string{"ofa-mbv3", "ofa-mbv3-w1.0", "ofa-pn-w1.3", "ofa-resnet50"}
	f.Fuzz(func(t *testing.T, text string) {
		for _, name := range targets {
			sp, err := ss.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Parse(sp, ss, []byte(text), "fuzz.toml")
			if err != nil {
				if _, err := Unmarshal(sp, []byte(text)); err == nil {
					t.Fatalf("Unmarshal accepts what Parse refuses (%v)", err)
				}
				continue
			}
			if _, err := c.Reduction("").ApplyTo(sp); err != nil {
				t.Fatalf("accepted cuts do not apply: %v", err)
			}
			stored := c.Marshal()
			back, err := Unmarshal(sp, stored)
			if err != nil {
				t.Fatalf("stored cuts do not read back: %v\n%s", err, stored)
			}
			if !bytes.Equal(back.Marshal(), stored) {
				t.Fatalf("stored form is not stable:\n%s\n---\n%s", stored, back.Marshal())
			}
			b, d := c.Counts()
			if wb, wd := cutsOf(sp, c.Reduction("")); b != wb || d != wd {
				t.Fatalf("counts %d %d, the reduction cuts %d %d", b, d, wb, wd)
			}
		}
	})
}

// cutsOf counts the pruned cells and narrowed units of r against sp.
func cutsOf(sp *model.Space, r model.Reduction) (blocks, depths int) {
	for i, u := range sp.Units {
		blocks += len(u.Blocks) - len(r.Units[i].Blocks)
		if !slices.Equal(u.Depths, r.Units[i].Depths) {
			depths++
		}
	}
	return blocks, depths
}
