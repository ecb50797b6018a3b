package ort

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/model/onnx"
)

// TestTelemetryOff: loading ONNX Runtime and timing a model leaves nothing
// of its telemetry behind (the 1DS log and session files in $TMPDIR, the
// device ID and event database under ~/.cache/Microsoft), unless the user
// asked for it with ORT_DISABLE_TELEMETRY=0. The library is loaded once
// per process, so each case runs in a child process (TestTelemetryChild).
func TestTelemetryOff(t *testing.T) {
	lib := testRuntime(t).Path() // skips without the library
	for _, tc := range []struct {
		name  string
		env   string // ORT_DISABLE_TELEMETRY, "" for unset
		clean bool
	}{{"default", "", true}, {"user asks for it", "0", false}} {
		t.Run(tc.name, func(t *testing.T) {
			tmp, home := t.TempDir(), t.TempDir()
			cmd := exec.Command(os.Args[0], "-test.run=^TestTelemetryChild$", "-test.v")
			for _, kv := range os.Environ() {
				if k, _, _ := strings.Cut(kv, "="); k != "ORT_DISABLE_TELEMETRY" && k != "TMPDIR" && k != "HOME" {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, "BLOCKPROF_TELEMETRY_CHILD=1", "TMPDIR="+tmp, "HOME="+home,
				"ONNXRUNTIME_LIB="+lib) // found through $HOME otherwise
			if tc.env != "" {
				cmd.Env = append(cmd.Env, "ORT_DISABLE_TELEMETRY="+tc.env)
			}
			if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestTelemetryChild") {
				// (a skipped child would check nothing)
				t.Fatalf("child: %v\n%s", err, out)
			}
			left, _ := os.ReadDir(tmp)
			_, err := os.Stat(filepath.Join(home, ".cache", "Microsoft"))
			cacheLeft := err == nil
			if tc.clean && (len(left) != 0 || cacheLeft) {
				t.Errorf("left by ONNX Runtime: %v in $TMPDIR, ~/.cache/Microsoft: %v", left, cacheLeft)
			}
			if !tc.clean && len(left) == 0 && !cacheLeft {
				t.Log("this library writes no telemetry files even when asked to (not the onnxruntime-node build?)")
			}
		})
	}
}

// TestTelemetryChild loads ONNX Runtime and runs a small model; it is
// skipped unless TestTelemetryOff started it.
func TestTelemetryChild(t *testing.T) {
	if os.Getenv("BLOCKPROF_TELEMETRY_CHILD") == "" {
		t.Skip("the child process of TestTelemetryOff")
	}
	rt := testRuntime(t)
	data, err := onnx.Export(smallNet(t), onnx.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSession(data, cpuOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
