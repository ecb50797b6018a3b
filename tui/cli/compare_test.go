package cli

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"blockprof/model"
)

// writeRecorded writes n uniform archs of sp in the shared data format with
// one latency_ms key per entry of keys: plantedLatency times the key's
// scale, plus extra ms when a layer of unit 2 holds e6k7 on keys marked
// odd, and ±1% reproducible noise.
func writeRecorded(t *testing.T, path string, sp *model.Space, n int, keys []string, scale map[string]float64, odd map[string]bool) {
	t.Helper()
	rng := model.NewRand(9)
	var b strings.Builder
	for i := 0; i < n; i++ {
		a := sp.Sample(rng, 224)
		lat := map[string]map[string]float64{}
		for _, k := range keys {
			v := plantedLatency(a) * scale[k]
			if odd[k] {
				for _, blk := range a.Units[1] {
					if blk.Key() == "e6k7" {
						v += 1.5 * scale[k]
					}
				}
			}
			lat[k] = map[string]float64{"median": v * (1 + 0.01*rng.NormFloat64())}
		}
		line, err := json.Marshal(map[string]any{"space": sp.Name, "arch": sp.ToOFA(a), "fixed": nil, "latency_ms": lat})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

func recordedPair(t *testing.T) (dir string) {
	t.Helper()
	env, _, _ := analyzeEnv(t)
	cfg, err := loadConfig(env, "")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := cfg.Spaces.Get("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	keys := []string{"fast", "slow", "odd"}
	writeRecorded(t, filepath.Join(dir, "boarda-ofa.jsonl"), sp, 120, keys, map[string]float64{"fast": 1, "slow": 3, "odd": 1}, map[string]bool{"odd": true})
	writeRecorded(t, filepath.Join(dir, "boardb-ofa.jsonl"), sp, 120, []string{"fast"}, map[string]float64{"fast": 2}, nil)
	return dir
}

func TestCompareGolden(t *testing.T) {
	dir := recordedPair(t)
	a, b := filepath.Join(dir, "boarda-ofa.jsonl"), filepath.Join(dir, "boardb-ofa.jsonl")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"text-keys", []string{"--data", a, "--keys", "fast,slow,odd"}},
		{"json-files", []string{"--data", a + ":fast," + b + ":fast", "--json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, out, _ := analyzeEnv(t)
			if err := Run(env, append([]string{"compare", "--boot", "50"}, tc.args...)); err != nil {
				t.Fatal(err)
			}
			golden.RequireEqual(t, out.String())
		})
	}
}

// TestComparePlanted: the planted e6k7 cost of unit 2 on "odd" is the
// effect flagged, and the scaled copy agrees.
func TestComparePlanted(t *testing.T) {
	dir := recordedPair(t)
	env, out, _ := analyzeEnv(t)
	if err := Run(env, []string{"compare", "--boot", "50", "--csv", "--data", filepath.Join(dir, "boarda-ofa.jsonl"), "--keys", "fast,slow,odd"}); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	differ := map[string]bool{}
	for _, r := range rows[1:] {
		if r[0] == "block" && r[12] == "differ" {
			differ[r[1]+"/"+r[2]] = true
		}
	}
	if !differ["2/e6k7"] {
		t.Errorf("unit 2 e6k7 (planted on odd only) is not flagged: differing cells %v", differ)
	}
	// Block effects are centred within their unit, so the planted cost also
	// moves unit 2's other blocks; outside unit 2 only chance misses of the
	// 95% intervals may differ.
	outside := 0
	for c := range differ {
		if !strings.HasPrefix(c, "2/") {
			outside++
		}
	}
	if outside > 2 {
		t.Errorf("%d block cells outside unit 2 differ: %v", outside, differ)
	}

	// The largest move from fast to odd is the planted one, costlier on odd.
	env, out, _ = analyzeEnv(t)
	if err := Run(env, []string{"compare", "--boot", "50", "--json", "--data", filepath.Join(dir, "boarda-ofa.jsonl"), "--keys", "fast,odd"}); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Pairs []struct {
			Moves []struct {
				Unit   int
				Block  string
				Delta  float64
				Differ bool
			} `json:"largest_moves"`
		}
	}
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Pairs) != 1 || len(res.Pairs[0].Moves) == 0 {
		t.Fatalf("pairs %+v", res.Pairs)
	}
	if m := res.Pairs[0].Moves[0]; m.Unit != 2 || m.Block != "e6k7" || m.Delta <= 0.05 || !m.Differ {
		t.Errorf("largest move %+v, want unit 2 e6k7 costlier on odd by > 5 points, differing", m)
	}
}

func TestCompareErrors(t *testing.T) {
	dir := recordedPair(t)
	a := filepath.Join(dir, "boarda-ofa.jsonl")
	pn := filepath.Join(dir, "pn.jsonl")
	env0, _, _ := analyzeEnv(t)
	cfg, _ := loadConfig(env0, "")
	spn, _ := cfg.Spaces.Get("ofa-pn-w1.3")
	writeRecorded(t, pn, spn, 40, []string{"fast"}, map[string]float64{"fast": 1}, nil)
	few := filepath.Join(dir, "few.jsonl")
	sp, _ := cfg.Spaces.Get("ofa-mbv3-w1.0")
	writeRecorded(t, few, sp, 6, []string{"fast"}, map[string]float64{"fast": 1}, nil)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no source", nil, "give either --store DB"},
		{"both", []string{"--store", "x.db", "--data", a}, "give either --store DB"},
		{"one key", []string{"--data", a, "--keys", "fast"}, `--keys "fast": compare needs two or more`},
		{"unknown key", []string{"--data", a, "--keys", "fast,gpu"}, `no latency value`},
		{"not file:key", []string{"--data", a + ",other.jsonl"}, "is not FILE:KEY"},
		{"spaces", []string{"--data", a + ":fast," + pn + ":fast"}, "devices of different spaces"},
		{"too few", []string{"--data", a + ":fast," + few + ":fast"}, "too few records"},
		{"devices with data", []string{"--data", a, "--keys", "fast,slow", "--devices", "x,y"}, "--devices names store devices"},
		{"store without devices", []string{"--store", filepath.Join(dir, "s.db")}, "--devices"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, _, _ := analyzeEnv(t)
			err := Run(env, append([]string{"compare", "--boot", "20"}, tc.args...))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseDataSpecs(t *testing.T) {
	for _, tc := range []struct {
		data, keys string
		want       []string // name=file:key
		err        string
	}{
		{"f.jsonl", "a,b", []string{"a=f.jsonl:a", "b=f.jsonl:b"}, ""},
		{"d/h100-x.jsonl:k,d/h200-x.jsonl:k", "", []string{"h100:k=d/h100-x.jsonl:k", "h200:k=d/h200-x.jsonl:k"}, ""},
		{"d/h100-x.jsonl:k,e/h100-y.jsonl:k", "", []string{"d/h100-x.jsonl:k=d/h100-x.jsonl:k", "e/h100-y.jsonl:k=e/h100-y.jsonl:k"}, ""},
		{"f.jsonl:a,f.jsonl:b", "", []string{"a=f.jsonl:a", "b=f.jsonl:b"}, ""},
		{"c:/x.jsonl:a,c:/x.jsonl:b", "", []string{"a=c:/x.jsonl:a", "b=c:/x.jsonl:b"}, ""},
		{"f.jsonl", "a", nil, "two or more"},
		{"f.jsonl", "a,a", nil, "named twice"},
		{"f.jsonl:a", "", nil, "two or more"},
		{"f.jsonl:,g:b", "", nil, "not FILE:KEY"},
		{"f,g", "a,b", nil, "with --keys give one file"},
	} {
		got, err := parseDataSpecs(tc.data, tc.keys)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q %q: err %v, want %q", tc.data, tc.keys, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q %q: %v", tc.data, tc.keys, err)
			continue
		}
		var s []string
		for _, g := range got {
			s = append(s, g.Name+"="+g.File+":"+g.Key)
		}
		if strings.Join(s, " ") != strings.Join(tc.want, " ") {
			t.Errorf("%q %q: %v, want %v", tc.data, tc.keys, s, tc.want)
		}
	}
}

func FuzzParseDataSpecs(f *testing.F) {
	f.Add("h100.jsonl:gpu,h200.jsonl:gpu", "")
	f.Add("f.jsonl", "a,b,c")
	f.Add(":,:", "")
	f.Fuzz(func(t *testing.T, data, keys string) {
		specs, err := parseDataSpecs(data, keys)
		if err != nil {
			return
		}
		if len(specs) < 2 {
			t.Fatalf("%d specs accepted", len(specs))
		}
		names := map[string]bool{}
		for _, s := range specs {
			if s.File == "" || s.Key == "" || s.Name == "" {
				t.Fatalf("empty part in %+v", s)
			}
			if names[s.Name] {
				t.Fatalf("name %q twice", s.Name)
			}
			names[s.Name] = true
		}
	})
}
