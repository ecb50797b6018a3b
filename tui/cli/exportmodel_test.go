package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExportModel writes one arch and a JSON-lines file of archs, and names
// the flag of every bad input.
func TestExportModel(t *testing.T) {
	dir := t.TempDir()
	const arch = "ofa-mbv3-w1.0:160:e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3"
	tests := []struct {
		name  string
		args  []string
		stdin string
		files int
		magic string // the file identifier at bytes 4–8 (flatbuffers)
		err   string
	}{
		{name: "one arch", args: []string{"--arch", arch, "-o", filepath.Join(dir, "a.onnx")}, files: 1},
		{name: "int8 from stdin into a directory", args: []string{"--in", "-", "--precision", "int8", "-o", filepath.Join(dir, "many")},
			stdin: `{"arch": "` + arch + `"}` + "\n" + `{"arch": "` + arch + `"}`, files: 2},
		{name: "unknown format", args: []string{"--arch", arch, "--format", "pb", "-o", filepath.Join(dir, "b")}, err: `--format "pb"`},
		{name: "tflite int8", args: []string{"--arch", arch, "--format", "tflite", "--precision", "int8", "-o", filepath.Join(dir, "a.tflite")}, files: 1, magic: "TFL3"},
		{name: "tflite cannot hold int4", args: []string{"--arch", arch, "--format", "tflite", "--precision", "int4", "-o", filepath.Join(dir, "b")}, err: `--precision "int4"`},
		{name: "bad precision", args: []string{"--arch", arch, "--precision", "int4", "-o", filepath.Join(dir, "b")}, err: `--precision "int4"`},
		{name: "calibration without int8", args: []string{"--arch", arch, "--calib", "x.npy", "-o", filepath.Join(dir, "b")}, err: "--calib x.npy"},
		{name: "arch outside the space", args: []string{"--arch", strings.Replace(arch, "e3k3", "e9k3", 1), "-o", filepath.Join(dir, "b")}, err: "--arch"},
		{name: "bad line", args: []string{"--in", "-", "-o", filepath.Join(dir, "c")}, stdin: "{}\n", err: `--in: stdin:1: no "arch" field`},
		{name: "no output", args: []string{"--arch", arch}, err: "-o is required"},
		{name: "both inputs", args: []string{"--arch", arch, "--in", "-", "-o", filepath.Join(dir, "b")}, err: "one of --arch or --in"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, out, _ := analyzeEnv(t)
			env.Stdin = strings.NewReader(tc.stdin)
			err := Run(env, append([]string{"export-model", "--space", "ofa-mbv3-w1.0"}, tc.args...))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				if _, serr := os.Stat(filepath.Join(dir, "b")); serr == nil {
					t.Fatal("a file was left at -o")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != tc.files {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), tc.files, out)
			}
			for _, l := range lines {
				var w struct {
					File  string
					Arch  string
					Bytes int
				}
				if err := json.Unmarshal([]byte(l), &w); err != nil {
					t.Fatal(err)
				}
				st, err := os.Stat(w.File)
				if err != nil || st.Size() != int64(w.Bytes) || w.Arch != arch {
					t.Errorf("%+v: %v %v", w, st, err)
				}
				if tc.magic != "" {
					b, err := os.ReadFile(w.File)
					if err != nil || len(b) < 8 || string(b[4:8]) != tc.magic {
						t.Errorf("%s: not a %s file (%v)", w.File, tc.magic, err)
					}
				}
			}
		})
	}
}
