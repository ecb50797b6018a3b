package store

import (
	"testing"

	"blockprof/model"
)

func TestParseFix(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *model.Fix
		err  bool
	}{
		{"", nil, false},
		{"u2.l3=e6k7", &model.Fix{Unit: 2, Layer: 3, Block: model.Block{K: 7, E: 6}}, false},
		{"u1.l1=c65b20", &model.Fix{Unit: 1, Layer: 1, Block: model.Block{K: 3, W: 0.65, E: 0.2}}, false},
		{"u3.l0=e4k5", &model.Fix{Unit: 3, Layer: 0, Block: model.Block{K: 5, E: 4}}, false},
		{"u2.l3", nil, true},
		{"2.3=e6k7", nil, true},
		{"u0.l1=e6k7", nil, true},
		{"ux.l1=e6k7", nil, true},
		{"u1.l1=zz", nil, true},
	} {
		got, err := ParseFix(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseFix(%q) error = %v", tc.in, err)
			continue
		}
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("ParseFix(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	// Round trip with model.Fix.String.
	f := model.Fix{Unit: 5, Layer: 4, Block: model.Block{K: 3, E: 4}}
	if got, err := ParseFix(f.String()); err != nil || *got != f {
		t.Errorf("round trip %v: %+v %v", f, got, err)
	}
}

func FuzzParseFix(f *testing.F) {
	for _, s := range []string{"", "u2.l3=e6k7", "u1.l1=c65b20", "u1.l1=B9", "u1.l1=MBConv6-7", "u.l=", "u9999999999999999999.l1=e3k3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		fx, err := ParseFix(s)
		if err != nil {
			return
		}
		if s == "" {
			if fx != nil {
				t.Fatal("non-nil fix for empty text")
			}
			return
		}
		if fx.Unit < 1 || fx.Layer < 0 {
			t.Fatalf("ParseFix(%q) = %+v", s, fx)
		}
		// What it reads, it can write and read back the same.
		again, err := ParseFix(fx.String())
		if err != nil || *again != *fx {
			t.Fatalf("ParseFix(%q) = %+v; its String %q reads back as %+v, %v", s, fx, fx.String(), again, err)
		}
	})
}
