package session

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/engine/config"
)

const provArch = `{"ks":[3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0],"e":[3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0],"d":[2,2,2,2,2],"r":224}`

func provLine(prov string) string {
	p := ""
	if prov != "" {
		p = `,"provenance":"` + prov + `"`
	}
	return `{"space":"ofa-mbv3-w1.0","arch":` + provArch + `,"fixed":null,"latency_ms":{"dev":{"median":1.5` + p + `}}}`
}

// TestRecordedProvenance: a file written by export-data keeps each
// record's provenance (a measured number read back is replayed, a
// simulated one stays simulated); the shared data, without it, is
// replayed.
func TestRecordedProvenance(t *testing.T) {
	spaces := testConfig(t).Spaces
	for _, tc := range []struct {
		name  string
		provs []string
		want  string
	}{
		{"shared data", []string{"", ""}, "replayed: measured on another machine, read from f.jsonl"},
		{"exported measured", []string{"measured", "measured"}, "replayed: measured on another machine, read from f.jsonl (records measured by blockprof, exported with export-data)"},
		{"exported simulated", []string{"simulated", "simulated"}, "simulated"},
		{"mixed", []string{"measured", "simulated", "simulated"}, "mixed: 2 simulated, 1 replayed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lines []string
			for _, p := range tc.provs {
				lines = append(lines, provLine(p))
			}
			path := filepath.Join(t.TempDir(), "f.jsonl")
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			rec, err := OpenRecorded(path, "dev", "", spaces)
			if err != nil {
				t.Fatal(err)
			}
			ser, err := rec.Series(MetricLatency, 0)
			if err != nil {
				t.Fatal(err)
			}
			if ser.Label != tc.want {
				t.Errorf("label %q, want %q", ser.Label, tc.want)
			}
		})
	}
	// An unknown provenance is an error naming the file, never a default.
	path := filepath.Join(t.TempDir(), "g.jsonl")
	if err := os.WriteFile(path, []byte(provLine("guessed")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rec, err := OpenRecorded(path, "dev", "", spaces)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rec.Series(MetricLatency, 0); err == nil || !strings.Contains(err.Error(), `unknown provenance "guessed"`) {
		t.Errorf("unknown provenance: %v", err)
	}
}

// FuzzRecordedProvenance: any file the reader accepts gets a label from
// its records, never an empty one.
func FuzzRecordedProvenance(f *testing.F) {
	f.Add(provLine("measured") + "\n" + provLine(""))
	f.Add(provLine("simulated"))
	f.Add(provLine("table") + "\n\n" + provLine("predicted"))
	embedded, err := os.ReadFile("../../config.toml")
	if err != nil {
		f.Fatal(err)
	}
	cfg, err := config.Parse(embedded, "config.toml")
	if err != nil {
		f.Fatal(err)
	}
	spaces := cfg.Spaces
	f.Fuzz(func(t *testing.T, data string) {
		path := filepath.Join(t.TempDir(), "f.jsonl")
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		rec, err := OpenRecorded(path, "dev", "ofa-mbv3-w1.0", spaces)
		if err != nil {
			return
		}
		ser, err := rec.Series(MetricLatency, 0)
		if err != nil {
			return
		}
		if ser.Label == "" || ser.Provenance.Total() != len(ser.Obs) {
			t.Fatalf("label %q, %d counted for %d observations", ser.Label, ser.Provenance.Total(), len(ser.Obs))
		}
	})
}
