package lut

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/model"
)

// sharedLUT finds ../shared/data/lut-note10 beside the repository ("" when
// it is not there).
func sharedLUT() string {
	for _, d := range []string{"../../../shared/data/lut-note10", "../../../../shared/data/lut-note10"} {
		if _, err := os.Stat(filepath.Join(d, "224_lookup_table.yaml")); err == nil {
			return d
		}
	}
	return ""
}

// uniformArch puts block b at every layer of every unit, at maximum depth.
func uniformArch(sp *model.Space, r int, b model.Block) model.Arch {
	a := model.Arch{Space: sp.Name, Resolution: r}
	for _, u := range sp.Units {
		layers := make([]model.Block, u.MaxDepth())
		for i := range layers {
			layers[i] = b
		}
		a.Units = append(a.Units, layers)
	}
	return a
}

// TestKeysCoverTables: the keys every ofa-mbv3 arch can produce are exactly
// the tables' keys, at every resolution (so the grammar matches the tables
// entry for entry, and no arch can miss).
func TestKeysCoverTables(t *testing.T) {
	sp := testSpace(t, "ofa-mbv3")
	dirs := []string{"testdata"}
	if d := sharedLUT(); d != "" {
		dirs = append(dirs, d) // all five resolutions
	} else {
		t.Log("shared/data/lut-note10 not found: checking the testdata tables (160, 224) only")
	}
	for _, dir := range dirs {
		ts, err := LoadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range ts.Resolutions() {
			table, file, err := ts.Table(r)
			if err != nil {
				t.Fatal(err)
			}
			reach := map[string]bool{}
			for _, b := range sp.BlockChoices() {
				net, err := sp.Network(uniformArch(sp, r, b))
				if err != nil {
					t.Fatal(err)
				}
				terms, err := Keys(net)
				if err != nil {
					t.Fatal(err)
				}
				for _, tm := range terms {
					reach[tm.Key] = true
				}
			}
			for k := range reach {
				if _, ok := table[k]; !ok {
					t.Errorf("%s: reachable key %s missing", file, k)
				}
			}
			for k := range table {
				if !reach[k] {
					t.Errorf("%s: table key %s is never produced", file, k)
				}
			}
		}
	}
}

func TestBreakdownErrors(t *testing.T) {
	sp := testSpace(t, "ofa-mbv3")
	ts, err := LoadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	d := New(devices.Config{Name: "n"}, ts)
	w10 := testSpace(t, "ofa-mbv3-w1.0")
	rn := testSpace(t, "ofa-resnet50")
	netOf := func(s *model.Space, a model.Arch) *model.Network {
		n, err := s.Network(a)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	tests := []struct {
		name    string
		net     *model.Network
		wantErr string
	}{
		{"no table for resolution", netOf(sp, sp.MinArch(192)), "no table for resolution 192 in testdata (have 160,224)"},
		{"width 1.0 has other shapes", netOf(w10, w10.MinArch(224)), "has no entry Conv-input:224x224x3-output:112x112x16 (layer stem"},
		{"resnet", netOf(rn, rn.MinArch(224)), "stem.pool of ofa-resnet50:224:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := d.Measure(context.Background(), tt.net)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err %v, want %q", err, tt.wantErr)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Measure(ctx, netOf(sp, sp.MinArch(224))); err == nil {
		t.Error("cancelled context: no error")
	}
}

func TestParseYAML(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Table
		wantErr string
	}{
		{"entries", "a-b:1x1:\n  count: 3\n  mean: 0.5\n  std: 0.01\nc:\n  mean: 2\n",
			Table{"a-b:1x1": {3, 0.5, 0.01}, "c": {0, 2, 0}}, ""},
		{"comments, CRLF, marker", "---\r\n# note\r\nk:\r\n  mean: 1.5  \r\n\r\n", Table{"k": {0, 1.5, 0}}, ""},
		{"missing mean", "k:\n  count: 3\nj:\n  mean: 1\n", nil, "x.yaml:1: entry k has no mean"},
		{"missing mean at end", "k:\n  mean: 1\nj:\n", nil, "x.yaml:3: entry j has no mean"},
		{"duplicate key", "k:\n  mean: 1\nk:\n  mean: 2\n", nil, "x.yaml:3: key k already defined at line 1"},
		{"duplicate field", "k:\n  mean: 1\n  mean: 2\n", nil, "x.yaml:3: mean given twice"},
		{"field first", "  mean: 1\n", nil, "x.yaml:1: \"mean: 1\": an indented field before any table key"},
		{"unknown field", "k:\n  median: 1\n", nil, "x.yaml:2: unknown field \"median\""},
		{"bad count", "k:\n  count: 1.5\n  mean: 1\n", nil, "x.yaml:2: count \"1.5\""},
		{"negative mean", "k:\n  mean: -1\n", nil, "x.yaml:2: mean \"-1\""},
		{"nan", "k:\n  mean: NaN\n", nil, "x.yaml:2: mean \"NaN\""},
		{"mapping value", "k: 3\n", nil, "x.yaml:1: \"k: 3\": want a table key ending with ':'"},
		{"no colon", "k\n", nil, "x.yaml:1: \"k\""},
		{"tab", "k:\n\tmean: 1\n", nil, "x.yaml:2: tab in indentation"},
		{"empty value", "k:\n  mean:\n", nil, "x.yaml:2: \"mean:\": want"},
		{"empty", "# nothing\n", nil, "x.yaml: no table entries"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseYAML([]byte(tt.text), "x.yaml")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for k, e := range tt.want {
				if got[k] != e {
					t.Errorf("%s: %+v, want %+v", k, got[k], e)
				}
			}
		})
	}
}

func TestParseJSON(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    Table
		wantErr string
	}{
		{"entries", `{"a": {"count": 2, "mean": 0.5, "std": 0.1}, "b": {"mean": 1}}`, Table{"a": {2, 0.5, 0.1}, "b": {0, 1, 0}}, ""},
		{"no mean", `{"a": {"count": 2}}`, nil, "entry \"a\" has no mean"},
		{"unknown field", `{"a": {"mean": 1, "median": 2}}`, nil, "unknown field"},
		{"negative", `{"a": {"mean": 1, "std": -1}}`, nil, "must be ≥ 0"},
		{"trailing", `{"a": {"mean": 1}} {}`, nil, "data after"},
		{"empty", `{}`, nil, "no table entries"},
		{"not an object", `[1]`, nil, "x.json:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseJSON([]byte(tt.text), "x.json")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for k, e := range tt.want {
				if got[k] != e {
					t.Errorf("%s: %+v, want %+v", k, got[k], e)
				}
			}
		})
	}
}

// TestJSONTablesMatchYAML: a folder of JSON tables with the same keys gives
// the same latency as the YAML folder.
func TestJSONTablesMatchYAML(t *testing.T) {
	sp := testSpace(t, "ofa-mbv3")
	ys, err := LoadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, r := range ys.Resolutions() {
		tb, _, _ := ys.Table(r)
		data, err := json.Marshal(tb)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(strings.TrimSuffix(ys.files[r], ".yaml"))+".json"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js, err := LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(js.Resolutions(), ys.Resolutions()) {
		t.Fatalf("resolutions %v vs %v", js.Resolutions(), ys.Resolutions())
	}
	rng := model.NewRand(3)
	for i := 0; i < 20; i++ {
		r := ys.Resolutions()[i%2]
		net, err := sp.Network(sp.Sample(rng, r))
		if err != nil {
			t.Fatal(err)
		}
		a, err1 := ys.Latency(net)
		b, err2 := js.Latency(net)
		if err1 != nil || err2 != nil || a != b || a <= 0 {
			t.Fatalf("%s: yaml %v (%v) json %v (%v)", net.Arch, a, err1, b, err2)
		}
	}
}

func TestLoadDir(t *testing.T) {
	write := func(dir, name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	empty := t.TempDir()
	write(empty, "notes.txt", "x")
	dup := t.TempDir()
	write(dup, "224_lookup_table.yaml", "k:\n  mean: 1\n")
	write(dup, "224_lookup_table.json", `{"k": {"mean": 1}}`)
	bad := t.TempDir()
	write(bad, "160_lookup_table.yaml", "k:\n  mean: x\n")
	tests := []struct{ dir, wantErr string }{
		{empty, "has no {R}_lookup_table.yaml"},
		{dup, "two tables for resolution 224"},
		{bad, "160_lookup_table.yaml:2: mean \"x\""},
		{filepath.Join(empty, "absent"), "path should be a folder"},
	}
	for _, tt := range tests {
		if _, err := LoadDir(tt.dir); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: err %v, want %q", tt.dir, err, tt.wantErr)
		}
	}
	if _, err := Open(devices.Config{Name: "x"}, ""); err == nil || !strings.Contains(err.Error(), "needs path") {
		t.Errorf("no path: %v", err)
	}
}

func TestLabel(t *testing.T) {
	for in, want := range map[string]string{"": "table", "Note10": "table (Note10)", "table (Note10)": "table (Note10)", "measured": "table (measured)"} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzParseYAML: the reader never panics, and what it accepts has finite,
// non-negative entries that survive a JSON round trip through ParseJSON.
func FuzzParseYAML(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "160_lookup_table.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data[:400]))
	f.Add("k:\n  count: 3\n  mean: 0.5\n  std: 0.01\n")
	f.Add("---\nk:\r\n  mean: 1e-3\n# c\n")
	f.Add("k:\n\tmean: 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		tb, err := ParseYAML([]byte(text), "fuzz.yaml")
		if err != nil {
			return
		}
		for k, e := range tb {
			if k == "" || e.Count < 0 || e.Mean < 0 || e.Std < 0 {
				t.Fatalf("accepted %q = %+v", k, e)
			}
		}
		js, err := json.Marshal(tb)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseJSON(js, "fuzz.json")
		if err != nil || len(back) != len(tb) {
			t.Fatalf("JSON round trip: %v", err)
		}
		for k, e := range tb {
			if back[k] != e {
				t.Fatalf("%q: %+v became %+v", k, e, back[k])
			}
		}
	})
}

// FuzzParseJSON: the JSON reader never panics and accepts only complete,
// non-negative entries.
func FuzzParseJSON(f *testing.F) {
	f.Add(`{"a": {"count": 2, "mean": 0.5, "std": 0.1}}`)
	f.Add(`{"a": {"count": 2}}`)
	f.Fuzz(func(t *testing.T, text string) {
		tb, err := ParseJSON([]byte(text), "fuzz.json")
		if err != nil {
			return
		}
		for k, e := range tb {
			if e.Count < 0 || e.Mean < 0 || e.Std < 0 {
				t.Fatalf("accepted %q = %+v", k, e)
			}
		}
	})
}
