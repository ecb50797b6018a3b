package model

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func defaultSpaces(t testing.TB) *Spaces {
	t.Helper()
	data, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := ParseSpaces(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// sharedData finds ../shared/data relative to the repository root.
func sharedData(t testing.TB) string {
	t.Helper()
	for _, d := range []string{"../../shared/data", "../../../shared/data"} {
		if _, err := os.Stat(filepath.Join(d, "README.md")); err == nil {
			return d
		}
	}
	t.Skip("shared/data not found beside the repository")
	return ""
}

// TestCountMatchesSharedData checks MACs and params of every record of every
// shared latency and accuracy file.
func TestCountMatchesSharedData(t *testing.T) {
	ss := defaultSpaces(t)
	dir := sharedData(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no jsonl files in shared data")
	}
	total := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		line := 0
		for sc.Scan() {
			line++
			var rec struct {
				Space  string `json:"space"`
				Arch   OFA    `json:"arch"`
				MACs   int64  `json:"macs"`
				Params int64  `json:"params"`
			}
			if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
				t.Fatalf("%s:%d: %v", f, line, err)
			}
			sp, err := ss.Get(rec.Space)
			if err != nil {
				t.Fatalf("%s:%d: %v", f, line, err)
			}
			a, err := sp.FromOFA(rec.Arch)
			if err != nil {
				t.Fatalf("%s:%d: %v", f, line, err)
			}
			n, err := sp.Network(a)
			if err != nil {
				t.Fatal(err)
			}
			if n.MACs() != rec.MACs || n.Params() != rec.Params {
				t.Errorf("%s:%d %s: macs %d params %d, data says %d %d", filepath.Base(f), line, a, n.MACs(), n.Params(), rec.MACs, rec.Params)
			}
			total++
		}
		fh.Close()
	}
	t.Logf("checked %d records", total)
}
