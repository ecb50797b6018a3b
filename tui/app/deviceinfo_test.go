package app

import (
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/engine/store"
)

// TestDeviceDetailSaysPrecisionOnce: the devices view's detail line names
// the precision once, whether the device's mode repeats it (ort) or not
// (the agent).
func TestDeviceDetailSaysPrecisionOnce(t *testing.T) {
	for _, tc := range []struct {
		name string
		info devices.Info
		want string
	}{
		{"ort", devices.Info{Kind: "ort", Runtime: "onnxruntime", Precision: "fp32", Mode: "ort-cpu, fp32, optimization all, 1 thread"}, "fp32"},
		{"ort int8", devices.Info{Kind: "ort", Precision: "int8", Mode: "ort-cpu, int8 QDQ, optimization all"}, "int8"},
		{"agent", devices.Info{Kind: "agent", Precision: "fp16", Mode: "cuda-graph"}, "fp16"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := deviceInfo("dev", store.Device{Info: tc.info})
			if n := strings.Count(d.Detail, tc.want); n != 1 {
				t.Errorf("detail %q names %s %d times, want once", d.Detail, tc.want, n)
			}
		})
	}
}
