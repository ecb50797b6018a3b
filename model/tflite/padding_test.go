package tflite

import (
	"slices"
	"strings"
	"testing"

	fb "blockprof/model/tflite/tflitefb"
)

// TestPadding checks the ONNX-pads → TFLite padding mapping: SAME only
// where TFLite's SAME pads exactly as ONNX does, an explicit PAD otherwise.
func TestPadding(t *testing.T) {
	tests := []struct {
		name    string
		h, k, s int32
		pads    []int64
		ceil    bool
		want    fb.Padding
		explict [][2]int32
		err     string
	}{
		{name: "3×3 stride 1", h: 56, k: 3, s: 1, pads: []int64{1, 1, 1, 1}, want: fb.PaddingSAME},
		{name: "1×1", h: 56, k: 1, s: 1, pads: []int64{0, 0, 0, 0}, want: fb.PaddingSAME},
		{name: "7×7 stride 1", h: 7, k: 7, s: 1, pads: []int64{3, 3, 3, 3}, want: fb.PaddingSAME},
		// SAME pads (0, 1) on even inputs at stride 2; ONNX pads (1, 1).
		{name: "3×3 stride 2 even", h: 224, k: 3, s: 2, pads: []int64{1, 1, 1, 1}, want: fb.PaddingVALID, explict: [][2]int32{{0, 0}, {1, 1}, {1, 1}, {0, 0}}},
		{name: "3×3 stride 2 odd", h: 7, k: 3, s: 2, pads: []int64{1, 1, 1, 1}, want: fb.PaddingSAME},
		{name: "5×5 stride 2 even", h: 28, k: 5, s: 2, pads: []int64{2, 2, 2, 2}, want: fb.PaddingVALID, explict: [][2]int32{{0, 0}, {2, 2}, {2, 2}, {0, 0}}},
		{name: "no pads stride 2", h: 8, k: 2, s: 2, pads: nil, want: fb.PaddingSAME},
		{name: "valid", h: 9, k: 3, s: 2, pads: nil, want: fb.PaddingVALID},
		{name: "ceil pool odd", h: 7, k: 2, s: 2, ceil: true, want: fb.PaddingSAME},
		{name: "ceil pool even", h: 28, k: 2, s: 2, ceil: true, want: fb.PaddingSAME},
		{name: "ceil pool k3", h: 7, k: 3, s: 3, ceil: true, err: "ceil_mode"},
		{name: "pad ≥ kernel", h: 8, k: 3, s: 1, pads: []int64{3, 3, 3, 3}, err: "want 0 ≤ pad < kernel"},
		{name: "three pads", h: 8, k: 3, s: 1, pads: []int64{1, 1, 1}, err: "want 4 values"},
		{name: "kernel too large", h: 2, k: 5, s: 1, pads: []int64{1, 1, 1, 1}, err: "larger than the padded input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, pads, err := padding(tc.h, tc.h, tc.k, tc.s, tc.pads, tc.ceil)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || !slices.Equal(pads, tc.explict) {
				t.Errorf("padding %s %v, want %s %v", fb.EnumNamesPadding[got], pads, fb.EnumNamesPadding[tc.want], tc.explict)
			}
			// The output size agrees with ONNX's either way.
			var p [2]int32
			if len(tc.pads) == 4 {
				p = [2]int32{int32(tc.pads[0]), int32(tc.pads[2])}
			}
			want := outSize(tc.h, tc.k, tc.s, p[0], p[1], tc.ceil)
			var have int32
			switch {
			case pads != nil:
				have = outSize(tc.h+pads[1][0]+pads[1][1], tc.k, tc.s, 0, 0, false)
			case got == fb.PaddingSAME:
				have = (tc.h + tc.s - 1) / tc.s
			default:
				have = outSize(tc.h, tc.k, tc.s, 0, 0, false)
			}
			if have != want {
				t.Errorf("output %d, ONNX gives %d", have, want)
			}
		})
	}
}
