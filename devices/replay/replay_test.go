package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/model"
	"blockprof/model/modeltest"
)

func testSpaces(t testing.TB) *model.Spaces {
	t.Helper()
	return modeltest.Spaces(t)
}

// sharedData finds ../shared/data beside the repository.
func sharedData(t testing.TB) string {
	t.Helper()
	return modeltest.SharedData(t)
}

func network(t *testing.T, ss *model.Spaces, a model.Arch) *model.Network {
	t.Helper()
	sp, err := ss.Get(a.Space)
	if err != nil {
		t.Fatal(err)
	}
	n, err := sp.Network(a)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReplayShared replays every arch of every shared latency file with
// every key and compares with the stored numbers, read here without the
// package's parser; the H100 MobileNetV3 file also checks the label.
func TestReplayShared(t *testing.T) {
	ss := testSpaces(t)
	dir := sharedData(t)
	files, err := filepath.Glob(filepath.Join(dir, "h[12]00-ofa-*.jsonl"))
	if err != nil || len(files) < 5 {
		t.Fatalf("shared latency files: %v %v", files, err)
	}
	keys := []string{"gpu-b1-fp32-graph", "gpu-b1-fp32-eager", "gpu-b64-fp16-graph", "cpu-b1-fp32"}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { replayFile(t, ss, file, keys) })
	}
	d, err := Open(devices.Config{Name: "h100-graph", Kind: "replay", Key: "gpu-b1-fp32-graph"}, filepath.Join(dir, "h100-ofa-mbv3-w1.0.jsonl"), ss)
	if err != nil {
		t.Fatal(err)
	}
	info := d.Info()
	if info.Label != "replayed (NVIDIA H100 80GB HBM3, recorded)" || info.Provenance != devices.Replayed {
		t.Errorf("label %q provenance %q", info.Label, info.Provenance)
	}
	if info.Batch != 1 || info.Precision != "fp32" || info.Mode != "cuda-graph" || info.Version != "2.11.0+cu130" {
		t.Errorf("info %+v", info)
	}
	// Not in the file: an error naming the arch and the file.
	sp, _ := ss.Get("ofa-mbv3-w1.0")
	n := network(t, ss, sp.MinArch(160))
	_, err = d.Measure(context.Background(), n)
	if err == nil || !strings.Contains(err.Error(), n.Arch) || !strings.Contains(err.Error(), "h100-ofa-mbv3-w1.0.jsonl") {
		t.Errorf("unknown arch: %v", err)
	}
}

func replayFile(t *testing.T, ss *model.Spaces, file string, keys []string) {
	devs := make([]*Device, len(keys))
	listed := make([][]model.Arch, len(keys))
	for i, key := range keys {
		d, err := Open(devices.Config{Name: key, Kind: "replay", Key: key}, file, ss)
		if err != nil {
			t.Fatal(err)
		}
		devs[i], listed[i] = d, d.Archs()
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var raw struct {
			Space     string                        `json:"space"`
			Arch      model.OFA                     `json:"arch"`
			LatencyMs map[string]map[string]float64 `json:"latency_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		sp, err := ss.Get(raw.Space)
		if err != nil {
			t.Fatal(err)
		}
		a, err := sp.FromOFA(raw.Arch)
		if err != nil {
			t.Fatal(err)
		}
		n := network(t, ss, a)
		for i, d := range devs {
			if got := listed[i]; len(got) <= lines || got[lines].String() != a.String() {
				t.Fatalf("line %d: the device does not list %s in file order", lines+1, a)
			}
			m, err := d.Measure(context.Background(), n)
			if err != nil {
				t.Fatalf("line %d: %v", lines+1, err)
			}
			l := raw.LatencyMs[keys[i]]
			if !m.Summary || len(m.SamplesMs) != 3 || m.SamplesMs[0] != l["median"] || m.SamplesMs[1] != l["min"] || m.SamplesMs[2] != l["max"] {
				t.Fatalf("line %d %s: samples %v summary %v, want %v", lines+1, keys[i], m.SamplesMs, m.Summary, l)
			}
		}
		lines++
	}
	for i, d := range devs {
		if got := len(listed[i]); got != lines || lines < 50 {
			t.Fatalf("%s lists %d archs, the file has %d lines", d.Name(), got, lines)
		}
	}
}

// TestPlan lists what a replay device can measure: the recorded archs of
// the space with its key, each with the line's whole-unit fix.
func TestPlan(t *testing.T) {
	ss := testSpaces(t)
	data, err := os.ReadFile("testdata/lab-mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	badFix := slices.Clone(lines)
	badFix[1] = strings.Replace(badFix[1], `"fixed": [0, 3, 3]`, `"fixed": [0, 7, 6]`, 1)
	notList := slices.Clone(lines)
	notList[1] = strings.Replace(notList[1], `"fixed": [0, 3, 3]`, `"fixed": "u1"`, 1)
	tests := []struct {
		name, text, space, key string
		fixes                  []string // per planned arch, "" for uniform
		err                    string
	}{
		{name: "mbv3, graph key", text: string(data), space: "ofa-mbv3-w1.0", key: "gpu-b1-fp32-graph", fixes: []string{"", "u1.l0=e3k3"}},
		{name: "resnet", text: string(data), space: "ofa-resnet50", key: "gpu-b1-fp32-graph", fixes: []string{""}},
		{name: "key only on mbv3", text: string(data), space: "ofa-resnet50", key: "cpu-b1-fp32",
			err: "holds no arch of space ofa-resnet50 with latency_ms.cpu-b1-fp32"},
		{name: "space not recorded", text: string(data), space: "ofa-pn-w1.3", key: "gpu-b1-fp32-graph", err: "holds no arch of space ofa-pn-w1.3"},
		{name: "fix not in the arch", text: strings.Join(badFix, "\n"), space: "ofa-mbv3-w1.0", key: "gpu-b1-fp32-graph",
			err: "lab.jsonl:2: fixed [0 7 6] says every layer of unit 1 holds it, but layer 1 holds e3k3"},
		{name: "fix not a list", text: strings.Join(notList, "\n"), space: "ofa-mbv3-w1.0", key: "gpu-b1-fp32-graph",
			err: `lab.jsonl:2: fixed "u1"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := Read(strings.NewReader(tc.text), "lab.jsonl", ss)
			if err != nil {
				t.Fatal(err)
			}
			d, err := New(devices.Config{Name: "lab", Kind: "replay", Key: tc.key}, rec, nil)
			if err != nil {
				t.Fatal(err)
			}
			sp, err := ss.Get(tc.space)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := d.Plan(sp)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range plan {
				f := ""
				if it.Fix != nil {
					f = it.Fix.String()
				}
				got = append(got, f)
				// What the plan offers, the device measures.
				if _, err := d.Measure(context.Background(), network(t, ss, it.Arch)); err != nil {
					t.Errorf("planned %s but Measure fails: %v", it.Arch, err)
				}
			}
			if !slices.Equal(got, tc.fixes) {
				t.Errorf("fixes %q, want %q", got, tc.fixes)
			}
		})
	}
}

// TestHostileMeta: a recording's meta file whose descriptions carry
// terminal escapes gives an Info that is safe to print.
func TestHostileMeta(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/lab-mixed.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "lab-mixed.jsonl")
	meta := `{"gpu": "GPU \u001b]0;pwned\u0007\u001b[2J\u009b", "torch": "2\n0", "cpu": "CPU \u001b[31m", "cpu_threads": 4}`
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "lab-meta.json"), []byte(meta), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := Open(devices.Config{Name: "lab", Kind: "replay", Key: "gpu-b1-fp32-graph"}, file, testSpaces(t))
	if err != nil {
		t.Fatal(err)
	}
	in := d.Info()
	for _, f := range []string{in.Hardware, in.Version, in.Label} {
		if !safetext.Safe(f) || strings.Contains(f, "\n") {
			t.Errorf("Info keeps %q", f)
		}
	}
	if in.Hardware != `GPU \x1b]0;pwned\x07\x1b[2J\u009b` {
		t.Errorf("hardware %q", in.Hardware)
	}
}
