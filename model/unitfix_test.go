package model

import (
	"strings"
	"testing"
)

// TestUnitFix reads the shared data's "fixed" entries as whole-unit fixes.
func TestUnitFix(t *testing.T) {
	ss := defaultSpaces(t)
	mb := ss.mustGet(t, "ofa-mbv3-w1.0")
	rn := ss.mustGet(t, "ofa-resnet50")
	mbArch := mb.Sample(NewRand(5), 224)
	for j := range mbArch.Units[1] {
		mbArch.Units[1][j] = Block{K: 7, E: 6}
	}
	rnArch := rn.Sample(NewRand(5), 224)
	for j := range rnArch.Units[3] {
		rnArch.Units[3][j].E = 0.25
	}
	tests := []struct {
		name  string
		sp    *Space
		a     Arch
		fixed []float64
		want  string // Fix.String(), "" for nil
		err   string
	}{
		{name: "uniform", sp: mb, a: mbArch, fixed: nil},
		{name: "mbconv unit 2", sp: mb, a: mbArch, fixed: []float64{1, 7, 6}, want: "u2.l0=e6k7"},
		{name: "bottleneck unit 4", sp: rn, a: rnArch, fixed: []float64{3, 0.25}, want: "u4.l0=e0.25k3"},
		{name: "another block", sp: mb, a: mbArch, fixed: []float64{1, 3, 6}, err: "says every layer of unit 2 holds it, but layer 1 holds e6k7"},
		{name: "short", sp: mb, a: mbArch, fixed: []float64{1, 7}, err: "want [unit, k, e]"},
		{name: "unit out of range", sp: mb, a: mbArch, fixed: []float64{5, 7, 6}, err: "unit 5 outside 0..4"},
		{name: "negative unit", sp: mb, a: mbArch, fixed: []float64{-1, 7, 6}, err: "outside 0..4"},
		{name: "fractional unit", sp: mb, a: mbArch, fixed: []float64{0.5, 7, 6}, err: "outside 0..4"},
		{name: "fractional kernel", sp: mb, a: mbArch, fixed: []float64{1, 7.5, 6}, err: "kernel 7.5 is not an integer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := tc.sp.UnitFix(tc.a, tc.fixed)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if f != nil {
				got = f.String()
				if f.Layer != 0 {
					t.Errorf("layer %d, want 0 (whole unit)", f.Layer)
				}
			}
			if got != tc.want {
				t.Errorf("fix %q, want %q", got, tc.want)
			}
		})
	}
}
