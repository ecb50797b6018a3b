package quant

import (
	"math"
	"slices"
	"testing"
)

func TestPerChannel(t *testing.T) {
	w := []float32{
		0.5, -1, 0.25, 1, // channel 0: max |w| 1
		0, 0, 0, 0, // channel 1: all zero
		0.011, -0.02, 0.0, 0.005, // channel 2: small
	}
	q, err := PerChannel(w, 3)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1.0 / 127, 1, 0.02 / 127}; !close32(q.Scales, want, 1e-6) {
		t.Errorf("scales %v, want %v", q.Scales, want)
	}
	if want := []int8{64, -127, 32, 127, 0, 0, 0, 0, 70, -127, 0, 32}; !slices.Equal(q.Q, want) {
		t.Errorf("q %v, want %v", q.Q, want)
	}
	// Dequantized weights are within half a step.
	for i, v := range w {
		c := i / 4
		if d := math.Abs(float64(Dequantize(q.Q[i], q.Scales[c], 0) - v)); d > float64(q.Scales[c])/2+1e-9 {
			t.Errorf("w[%d]: error %g above half a step", i, d)
		}
	}
	// reduce_range: 7-bit weights in [-64, 64].
	r, err := PerChannelRange(w, 3, WMaxReduced)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int8{32, -64, 16, 64, 0, 0, 0, 0, 35, -64, 0, 16}; !slices.Equal(r.Q, want) || r.Scales[0] != 1.0/64 {
		t.Errorf("reduced q %v scales %v, want %v and 1/64", r.Q, r.Scales, want)
	}
	if _, err := PerChannelRange(w, 3, 200); err == nil {
		t.Error("a bound above 127 accepted")
	}
	if _, err := PerChannel(w, 5); err == nil {
		t.Error("12 values in 5 channels")
	}
	if _, err := PerChannel([]float32{float32(math.Inf(1))}, 1); err == nil {
		t.Error("an infinite weight quantized")
	}
}

func TestActivation(t *testing.T) {
	tests := []struct {
		lo, hi float32
		scale  float32
		zero   int8
		bad    bool
	}{
		{0, 6, 6.0 / 255, -128, false},       // relu6: 0 exact at -128
		{-1, 3, 4.0 / 255, -64, false},       // round(-128 + 63.75)
		{0.5, 2, 2.0 / 255, -128, false},     // widened to contain 0
		{-3, -1, 3.0 / 255, 127, false},      // all negative
		{0, 0, 1, 0, false},                  // empty range
		{1, 0, 0, 0, true},                   // lo > hi
		{float32(math.NaN()), 1, 0, 0, true}, // NaN
	}
	for _, tc := range tests {
		s, z, err := Activation(tc.lo, tc.hi)
		if tc.bad {
			if err == nil {
				t.Errorf("[%v, %v]: no error", tc.lo, tc.hi)
			}
			continue
		}
		if err != nil || math.Abs(float64(s-tc.scale)) > 1e-7 || z != tc.zero {
			t.Errorf("[%v, %v]: scale %v zero %d (%v), want %v %d", tc.lo, tc.hi, s, z, err, tc.scale, tc.zero)
		}
		// 0 is represented exactly, and the range's ends round-trip within a step.
		if Dequantize(Quantize(0, s, z), s, z) != 0 {
			t.Errorf("[%v, %v]: 0 is not exact", tc.lo, tc.hi)
		}
		for _, v := range []float32{tc.lo, tc.hi} {
			if d := math.Abs(float64(Dequantize(Quantize(v, s, z), s, z) - v)); d > float64(s) {
				t.Errorf("[%v, %v]: %v round-trips with error %g", tc.lo, tc.hi, v, d)
			}
		}
	}
}

func TestBias(t *testing.T) {
	q, s, err := Bias([]float32{0.5, -0.25, 1e9}, 0.1, []float32{0.01, 0.02, 1e-9})
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{500, -125, math.MaxInt32}; !slices.Equal(q, want) {
		t.Errorf("q %v, want %v (saturating)", q, want)
	}
	if !close32(s, []float32{0.001, 0.002, 1e-10}, 1e-6) {
		t.Errorf("scales %v", s)
	}
	if _, _, err := Bias([]float32{1, 2}, 0.1, []float32{1, 2, 3}); err == nil {
		t.Error("mismatched scales accepted")
	}
	if _, _, err := Bias([]float32{1}, 0, []float32{1}); err == nil {
		t.Error("zero scale accepted")
	}
}

func TestFloat16(t *testing.T) {
	tests := []struct {
		f float32
		h uint16
	}{
		{0, 0}, {1, 0x3c00}, {-2, 0xc000}, {65504, 0x7bff}, {65520, 0x7c00}, // rounds to Inf
		{float32(math.Inf(-1)), 0xfc00}, {6.103515625e-05, 0x0400}, // smallest normal
		{5.960464477539063e-08, 0x0001},                                                   // smallest subnormal
		{1e-9, 0}, {0.333333343, 0x3555}, {1.0009765625, 0x3c01}, {1.00048828125, 0x3c00}, // tie to even
	}
	for _, tc := range tests {
		if got := Float16(tc.f); got != tc.h {
			t.Errorf("Float16(%v) = %#04x, want %#04x", tc.f, got, tc.h)
		}
	}
	if h := Float16(float32(math.NaN())); h&0x7c00 != 0x7c00 || h&0x3ff == 0 {
		t.Errorf("NaN → %#04x", h)
	}
	// Every finite half round-trips through float32 exactly.
	for h := range 1 << 16 {
		f := FromFloat16(uint16(h))
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := Float16(f); back != uint16(h) {
			t.Fatalf("%#04x → %v → %#04x", h, f, back)
		}
	}
}

func close32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol*math.Max(1, math.Abs(float64(b[i]))) {
			return false
		}
	}
	return true
}
