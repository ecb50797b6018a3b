//go:build cgo

// Package orttest loads ONNX Runtime for tests of the packages that check
// their models against it (model/onnx, its interpreter and quantizer,
// model/tflite).
package orttest

import (
	"errors"
	"os"
	"testing"

	"blockprof/devices/ort"
)

// Runtime loads the ONNX Runtime library blockprof finds
// (bash scripts/setup-ort.sh fetches it). Without one the test is skipped,
// or fails where CI is set: .ci/run installs the library, so there a
// missing one is an error, not a reason to skip.
func Runtime(tb testing.TB) *ort.Runtime {
	tb.Helper()
	path, err := ort.FindLibrary("")
	if errors.Is(err, ort.ErrNoLibrary) {
		if os.Getenv("CI") != "" {
			tb.Fatalf("CI: needs the ONNX Runtime library (bash scripts/setup-ort.sh): %v", err)
		}
		tb.Skipf("skipping: needs the ONNX Runtime library (bash scripts/setup-ort.sh): %v", err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	rt, err := ort.Load(path)
	if err != nil {
		tb.Fatal(err)
	}
	return rt
}
