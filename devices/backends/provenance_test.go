package backends

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"blockprof/devices"
	"blockprof/devices/ort"
	"blockprof/model/modeltest"
)

// TestEveryKindStatesItsProvenance opens a device of every kind (the
// recorded and table devices on ../shared/data, ort when its library is
// installed, agent and command without starting their process) and checks
// that its Info names the provenance its kind produces: the engine refuses
// a device without one instead of calling its numbers measured.
func TestEveryKindStatesItsProvenance(t *testing.T) {
	data := modeltest.SharedData(t)
	opts := Options{Lock: devices.NewHostLock(), Spaces: modeltest.Spaces(t)}
	configs := map[string]devices.Config{
		"sim":     {Name: "s", Kind: "sim", Sim: devices.SimConfig{Preset: "npu"}},
		"lut":     {Name: "l", Kind: "lut", Path: filepath.Join(data, "lut-note10"), Label: "Note10"},
		"replay":  {Name: "r", Kind: "replay", File: filepath.Join(data, "h100-ofa-mbv3-w1.0.jsonl"), Key: "gpu-b1-fp32-graph"},
		"ort":     {Name: "o", Kind: "ort", Threads: 1},
		"agent":   {Name: "a", Kind: "agent"},
		"command": {Name: "c", Kind: "command", Parser: "trtexec", Argv: []string{"trtexec", "--onnx={model}"}},
	}
	for _, kind := range devices.Kinds() {
		t.Run(kind, func(t *testing.T) {
			cfg, ok := configs[kind]
			if !ok {
				t.Fatalf("kind %s has no configuration in this test: add one", kind)
			}
			if kind == "ort" {
				if _, err := ort.FindLibrary(""); errors.Is(err, ort.ErrNoLibrary) {
					t.Skipf("skipping: needs the ONNX Runtime library (bash scripts/setup-ort.sh): %v", err)
				}
			}
			d, err := Open(context.Background(), cfg, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			info := d.Info()
			want, ok := devices.ProvenanceOfKind(kind)
			if !ok || info.Provenance == "" || info.Provenance != want {
				t.Errorf("%s device: provenance %q, want %q (ProvenanceOfKind ok=%v)", kind, info.Provenance, want, ok)
			}
			if fp := devices.Fingerprint(cfg, info); fp == "" || fp != devices.Fingerprint(cfg, d.Info()) {
				t.Errorf("%s device: fingerprint %q is empty or changes between two Info calls", kind, fp)
			}
		})
	}
}
