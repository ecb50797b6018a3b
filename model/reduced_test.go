package model

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedReducedSpacesRoundTrip(t *testing.T) {
	ss := defaultSpaces(t)
	files, _ := filepath.Glob("../spaces/*.toml")
	derived, _ := filepath.Glob("../spaces/derived/*.toml")
	if len(files) < 8 || len(derived) == 0 {
		t.Fatalf("expected the paper's reduced spaces under spaces/, found %d files", len(files))
	}
	for _, f := range append(files, derived...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := ParseReduction(data, f, ss)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if out := r.Marshal(); !bytes.Equal(out, data) {
			t.Errorf("%s: export → import → export differs:\n%s", f, out)
		}
		parent, _ := ss.Get(r.Parent)
		red, err := r.Apply(parent)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		// Sampled archs of the reduced space lie in it and in the parent.
		rng := NewRand(1)
		for range 200 {
			a := red.Sample(rng, red.Resolution)
			if err := red.Check(a); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if err := parent.Check(a); err != nil {
				t.Fatalf("%s: reduced arch outside the parent: %v", f, err)
			}
		}
	}
}

func TestReductionAppliesToCompatibleSpace(t *testing.T) {
	ss := defaultSpaces(t)
	data, err := os.ReadFile("../spaces/ofa-mbv3-npu.toml")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseReduction(data, "npu.toml", ss)
	if err != nil {
		t.Fatal(err)
	}
	w10, _ := ss.Get("ofa-mbv3-w1.0")
	red, err := r.ApplyTo(w10)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range red.Units {
		for _, b := range u.Blocks {
			if b.K == 7 {
				t.Fatalf("kernel 7 left in %s", b)
			}
		}
	}
	if red.Name != "ofa-mbv3-w1.0" || red.Units[4].MutationProb != 0.5 {
		t.Errorf("applied space: name %s, unit 5 mutation %v", red.Name, red.Units[4].MutationProb)
	}
	pn, _ := ss.Get("ofa-pn-w1.3")
	if _, err := r.ApplyTo(pn); err == nil || !strings.Contains(err.Error(), "5 units, space ofa-pn-w1.3 has 6") {
		t.Errorf("applying a 5-unit reduction to PN: %v", err)
	}
}

func TestReductionErrors(t *testing.T) {
	ss := defaultSpaces(t)
	good, _ := os.ReadFile("../spaces/ofa-mbv3-gpu.toml")
	tests := []struct {
		name, from, to, want string
	}{
		{"unknown parent", `parent = "ofa-mbv3"`, `parent = "ofa-mbv9"`, `reduced.parent: unknown space "ofa-mbv9"`},
		{"block the parent lacks", `blocks = ["e3k5",`, `blocks = ["e5k5", "e3k5",`, "reduced.units[1].blocks: block e5k5 is not a choice of unit 1"},
		{"empty unit", `blocks = ["e3k5", "e4k5", "e4k7", "e6k3", "e6k5", "e6k7"]`, `blocks = []`, "reduced.units[1].blocks: unit 1 of reduced space OFA-GPU allows no block"},
		{"depth outside", "depths = [2, 3, 4]", "depths = [2, 5]", "reduced.units[1].depths: depth 5 outside unit 1's choices"},
		{"unknown key", `name = "OFA-GPU"`, "name = \"OFA-GPU\"\nnmae = 1", "unknown key reduced.nmae"},
		{"mutation_prob NaN", "depths = [2, 3, 4]", "depths = [2, 3, 4]\nmutation_prob = nan", "reduced.units[1].mutation_prob: NaN outside [0, 1]"},
		{"mutation_prob negative", "depths = [2, 3, 4]", "depths = [2, 3, 4]\nmutation_prob = -0.5", "reduced.units[1].mutation_prob: -0.5 outside [0, 1]"},
		{"mutation_prob above 1", "depths = [2, 3, 4]", "depths = [2, 3, 4]\nmutation_prob = 1e308", "reduced.units[1].mutation_prob: 1e+308 outside [0, 1]"},
		{"huge depth", "depths = [2, 3, 4]", "depths = [2, 100000000]", "reduced.units[1].depths: depth 100000000 outside unit 1's choices"},
		{"negative depth", "depths = [2, 3, 4]", "depths = [-2]", "reduced.units[1].depths: depth -2 outside unit 1's choices"},
		{"duplicate depth", "depths = [2, 3, 4]", "depths = [3, 3]", "reduced.units[1].depths: depth 3 listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(string(good), tc.from, tc.to, 1)
			if text == string(good) {
				t.Fatal("edit did not apply")
			}
			_, err := ParseReduction([]byte(text), "gpu.toml", ss)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "gpu.toml:") {
				t.Fatalf("error %v, want gpu.toml:LINE ... %q", err, tc.want)
			}
		})
	}
}

func FuzzParseReduction(f *testing.F) {
	ss := defaultSpaces(f)
	files, _ := filepath.Glob("../spaces/*.toml")
	for _, file := range files {
		data, _ := os.ReadFile(file)
		f.Add(string(data))
	}
	// Hostile numbers (issue 13): the reader must refuse them.
	gpu, _ := os.ReadFile("../spaces/ofa-mbv3-gpu.toml")
	for _, bad := range []string{"depths = [2, 100000000]", "depths = [-2]", "depths = [2, 3, 4]\nmutation_prob = nan", "depths = [2, 3, 4]\nmutation_prob = -1e308"} {
		f.Add(strings.Replace(string(gpu), "depths = [2, 3, 4]", bad, 1))
	}
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseReduction([]byte(text), "fuzz.toml", ss)
		if err != nil {
			return
		}
		// Whatever is accepted must export and re-import to the same bytes.
		out := r.Marshal()
		r2, err := ParseReduction(out, "again.toml", ss)
		if err != nil {
			t.Fatalf("re-import of an accepted reduction fails: %v\n%s", err, out)
		}
		if !bytes.Equal(r2.Marshal(), out) {
			t.Fatalf("export is not stable")
		}
		for i, u := range r.Units {
			if !(u.MutationProb >= 0 && u.MutationProb <= 1) {
				t.Fatalf("accepted unit %d mutation_prob %v", i+1, u.MutationProb)
			}
		}
	})
}
