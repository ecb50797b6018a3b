package analysis

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sharedData(t testing.TB) string {
	t.Helper()
	for _, d := range []string{"../../../shared/data", "../../../../shared/data"} {
		if _, err := os.Stat(filepath.Join(d, "README.md")); err == nil {
			return d
		}
	}
	t.Skip("shared/data not found beside the repository")
	return ""
}

func TestReadRecordedSharedData(t *testing.T) {
	dir := sharedData(t)
	for _, tc := range []struct {
		file, space string
	}{
		{"h100-ofa-mbv3-w1.0.jsonl", "ofa-mbv3-w1.0"},
		{"h100-ofa-pn-w1.3.jsonl", "ofa-pn-w1.3"},
		{"h100-ofa-resnet50.jsonl", "ofa-resnet50"},
	} {
		sp := space(t, tc.space)
		f, err := os.Open(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		obs, err := ReadRecorded(f, tc.file, sp, RecordedLatency, "gpu-b1-fp32-graph")
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		uni, whole := 0, 0
		for _, o := range obs {
			switch {
			case o.Fix == nil:
				uni++
			case o.Fix.Layer == 0:
				whole++
			default:
				t.Errorf("%s: a per-layer fix from a whole-unit file", tc.file)
			}
			if o.Value <= 0 {
				t.Errorf("%s: latency %v", tc.file, o.Value)
			}
		}
		if uni < 25 || whole < 25 {
			t.Errorf("%s: %d uniform and %d whole-unit records", tc.file, uni, whole)
		}
	}
}

func TestReadRecordedErrors(t *testing.T) {
	sp := space(t, "ofa-mbv3-w1.0")
	arch := `{"ks":[3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0],"e":[3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0,3,3,0,0],"d":[2,2,2,2,2],"r":224}`
	for _, tc := range []struct {
		line, metric, key, err string
	}{
		{`{"arch":` + arch + `,"fixed":null,"latency_ms":{"a":{"median":1}}}`, "latency", "b", `key "b" (keys seen: a)`},
		{`{"arch":` + arch + `,"fixed":[0,7,6],"latency_ms":{"a":{"median":1}}}`, "latency", "a", "layer 1 holds e3k3"},
		{`{"arch":` + arch + `,"fixed":[7,3,3],"latency_ms":{"a":{"median":1}}}`, "latency", "a", "outside 0..4"},
		{`{"arch":` + arch + `,"fixed":[0,3],"latency_ms":{"a":{"median":1}}}`, "latency", "a", "want [unit, k, e]"},
		{`{"space":"ofa-pn-w1.3","arch":` + arch + `}`, "latency", "a", "--space ofa-pn-w1.3"},
		{`{"arch":` + arch + `}`, "top1", "", "no top1 value"},
		{`not json`, "macs", "", "not a JSON record"},
		{`{"arch":` + arch + `}`, "flops", "", "want latency, top1"},
		{``, "macs", "", "no records"},
		{`{"arch":` + arch + `,"fix":"u2.l1=e6k7","latency_ms":{"a":{"median":1}}}`, "latency", "a", "fix u2.l1=e6k7: the arch holds e3k3 there"},
		{`{"arch":` + arch + `,"fix":"u2.l9=e3k3","latency_ms":{"a":{"median":1}}}`, "latency", "a", "layer 9 outside"},
		{`{"arch":` + arch + `,"fix":"u2l1=e3k3","latency_ms":{"a":{"median":1}}}`, "latency", "a", "location is not u<unit>.l<layer>"},
		{`{"arch":` + arch + `,"fix":"u2.l1=e3k3","fixed":[1,3,3],"latency_ms":{"a":{"median":1}}}`, "latency", "a", `both "fixed" and "fix"`},
	} {
		_, err := ReadRecorded(strings.NewReader(tc.line), "f.jsonl", sp, tc.metric, tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want one containing %q", tc.line, err, tc.err)
		}
	}
	obs, err := ReadRecorded(strings.NewReader(`{"arch":`+arch+`,"fixed":[1,3,3]}`), "f", sp, RecordedMACs, "")
	if err != nil || len(obs) != 1 || obs[0].Fix == nil || obs[0].Fix.Unit != 2 || obs[0].Value <= 0 {
		t.Errorf("MACs of a whole-unit record: %+v %v", obs, err)
	}
	// export-data's extensions: a layer fix, and the probe-corrected
	// latency read instead of the median.
	obs, err = ReadRecorded(strings.NewReader(`{"arch":`+arch+`,"fix":"u2.l2=e3k3","latency_ms":{"a":{"median":1,"probe_corrected_ms":0.9}}}`), "f", sp, RecordedLatency, "a")
	if err != nil || len(obs) != 1 || obs[0].Fix == nil || obs[0].Fix.String() != "u2.l2=e3k3" || obs[0].NonUniform || obs[0].Value != 0.9 {
		t.Errorf("layer-fix record: %+v %v", obs, err)
	}
}

func FuzzReadRecorded(f *testing.F) {
	if dir := func() string {
		for _, d := range []string{"../../../shared/data", "../../../../shared/data"} {
			if _, err := os.Stat(filepath.Join(d, "README.md")); err == nil {
				return d
			}
		}
		return ""
	}(); dir != "" {
		for _, name := range []string{"h100-ofa-mbv3-w1.0.jsonl", "h100-ofa-resnet50.jsonl"} {
			fh, err := os.Open(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(fh)
			for i := 0; i < 3 && sc.Scan(); i++ {
				f.Add(sc.Text(), name)
			}
			fh.Close()
		}
	}
	f.Add(`{"arch":{"ks":[3],"e":[3],"d":[1],"r":224},"fixed":[0,3,3]}`, "x")
	ss := spaces(f)
	f.Fuzz(func(t *testing.T, line, which string) {
		name := "ofa-mbv3-w1.0"
		if strings.Contains(which, "resnet") {
			name = "ofa-resnet50"
		}
		sp, _ := ss.Get(name)
		obs, err := ReadRecorded(strings.NewReader(line), "fuzz", sp, RecordedLatency, "gpu-b1-fp32-graph")
		if err != nil {
			return
		}
		for _, o := range obs {
			if err := sp.Check(o.Arch); err != nil {
				t.Fatalf("accepted an arch outside the space: %v", err)
			}
			if o.Fix != nil && o.Fix.Layer != 0 {
				// Only export-data's "fix" gives a per-layer fix, and the
				// arch must hold the block there.
				if err := sp.CheckFix(*o.Fix); err != nil {
					t.Fatalf("accepted a fix outside the space: %v", err)
				}
				if got := o.Arch.Units[o.Fix.Unit-1][o.Fix.Layer-1]; got.K != o.Fix.Block.K || got.E != o.Fix.Block.E {
					t.Fatalf("fix %s on an arch holding %s there", o.Fix, got.Key())
				}
			}
			if o.NonUniform && o.Fix != nil {
				t.Fatalf("a fixed arch marked not uniformly drawn")
			}
		}
	})
}
