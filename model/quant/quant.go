// Package quant holds the arithmetic of full-integer post-training
// quantization as TFLite's converter and ONNX Runtime's static quantizer do
// it: int8 weights, symmetric per output channel (zero point 0, values in
// [-127, 127]); int8 activations, asymmetric per tensor, their scale and
// zero point from a calibrated range that is widened to contain 0; int32
// biases with scale input scale × weight scale and zero point 0.
package quant

import (
	"fmt"
	"math"
)

// Int8 bounds.
const (
	QMin = -128
	QMax = 127
	// WMax bounds symmetric weights: [-127, 127], so that the range is
	// symmetric around the zero point 0 (TFLite's and ORT's choice).
	WMax = 127
	// WMaxReduced bounds 7-bit weights ([-64, 64], ONNX Runtime's
	// reduce_range): on x86 CPUs without VNNI, ONNX Runtime's int8 kernels
	// add pairs of u8×s8 products in int16 (vpmaddubsw), which saturates
	// with full-range weights.
	WMaxReduced = 64
)

// Weights are per-channel symmetric int8 weights.
type Weights struct {
	Q      []int8
	Scales []float32 // one per channel (axis 0)
}

// PerChannel quantizes w, whose first axis has channels entries (each a
// contiguous run of len(w)/channels values), symmetrically per channel:
// scale = max|w| / 127 (1 for an all-zero channel), q = round(w/scale)
// clamped to [-127, 127].
func PerChannel(w []float32, channels int) (Weights, error) {
	return PerChannelRange(w, channels, WMax)
}

// PerChannelRange is PerChannel with weights in [-wmax, wmax] (WMax, or
// WMaxReduced for reduce_range).
func PerChannelRange(w []float32, channels, wmax int) (Weights, error) {
	if wmax < 1 || wmax > WMax {
		return Weights{}, fmt.Errorf("quantize weights: bound %d outside 1..%d", wmax, WMax)
	}
	if channels < 1 || len(w)%channels != 0 {
		return Weights{}, fmt.Errorf("quantize weights: %d values do not split into %d channels", len(w), channels)
	}
	per := len(w) / channels
	out := Weights{Q: make([]int8, len(w)), Scales: make([]float32, channels)}
	for c := range channels {
		var m float64
		for _, v := range w[c*per : (c+1)*per] {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return Weights{}, fmt.Errorf("quantize weights: channel %d holds %v", c, v)
			}
			m = max(m, math.Abs(float64(v)))
		}
		s := float32(m / float64(wmax))
		if s == 0 {
			s = 1
		}
		out.Scales[c] = s
		for i, v := range w[c*per : (c+1)*per] {
			out.Q[c*per+i] = int8(clamp(roundEven(float64(v)/float64(s)), -float64(wmax), float64(wmax)))
		}
	}
	return out, nil
}

// Activation returns the scale and zero point of an int8 tensor whose
// values were calibrated to [lo, hi]: the range is widened to contain 0
// (so that 0 is exact, as padding needs), scale = (hi-lo)/255 (1 for an
// empty range) and zero point = round(-128 - lo/scale) clamped to int8.
func Activation(lo, hi float32) (scale float32, zero int8, err error) {
	if math.IsNaN(float64(lo)) || math.IsNaN(float64(hi)) || math.IsInf(float64(lo), 0) || math.IsInf(float64(hi), 0) || lo > hi {
		return 0, 0, fmt.Errorf("activation range [%v, %v]: want finite lo ≤ hi", lo, hi)
	}
	l, h := min(float64(lo), 0), max(float64(hi), 0)
	s := (h - l) / float64(QMax-QMin)
	if s == 0 {
		return 1, 0, nil
	}
	scale = float32(s)
	z := clamp(roundEven(float64(QMin)-l/float64(scale)), QMin, QMax)
	return scale, int8(z), nil
}

// Bias quantizes a bias to int32 with zero point 0 and scale inScale ×
// wScales[c] per channel (a single weight scale applies to every
// channel), as the integer kernels add it to the int32 accumulator.
func Bias(b []float32, inScale float32, wScales []float32) ([]int32, []float32, error) {
	if len(wScales) != len(b) && len(wScales) != 1 {
		return nil, nil, fmt.Errorf("quantize bias: %d values, %d weight scales", len(b), len(wScales))
	}
	q := make([]int32, len(b))
	scales := make([]float32, len(b))
	for i, v := range b {
		s := inScale * wScales[min(i, len(wScales)-1)]
		if !(s > 0) {
			return nil, nil, fmt.Errorf("quantize bias: channel %d has scale %v", i, s)
		}
		scales[i] = s
		q[i] = int32(clamp(roundEven(float64(v)/float64(s)), math.MinInt32, math.MaxInt32))
	}
	return q, scales, nil
}

// Quantize maps v to int8 with scale and zero point (round half to even,
// saturating), as QuantizeLinear does.
func Quantize(v, scale float32, zero int8) int8 {
	return int8(clamp(roundEven(float64(v)/float64(scale))+float64(zero), QMin, QMax))
}

// Dequantize maps q back to float: (q - zero) × scale.
func Dequantize(q int8, scale float32, zero int8) float32 {
	return float32(int32(q)-int32(zero)) * scale
}

func roundEven(x float64) float64 { return math.RoundToEven(x) }

func clamp(x, lo, hi float64) float64 { return math.Min(math.Max(x, lo), hi) }

// Float16 converts f to IEEE 754 half precision bits (round to nearest
// even; overflow to ±Inf; NaN kept).
func Float16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	switch {
	case exp == 0xff: // Inf or NaN
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	case exp-127 > 15:
		return sign | 0x7c00
	case exp-127 >= -14: // normal
		e := uint32(exp-127+15) << 10
		m := man >> 13
		rest := man & 0x1fff
		h := uint32(sign) | e | m
		if rest > 0x1000 || (rest == 0x1000 && m&1 == 1) {
			h++ // may carry into the exponent, which is right
		}
		return uint16(h)
	case exp-127 >= -25: // subnormal
		man |= 0x800000
		shift := uint32(-14-(exp-127)) + 13
		m := man >> shift
		rest := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rest > half || (rest == half && m&1 == 1) {
			m++
		}
		return sign | uint16(m)
	}
	return sign
}

// FromFloat16 converts half precision bits to float32.
func FromFloat16(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	man := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | man<<13)
	case exp == 0:
		if man == 0 {
			return math.Float32frombits(sign)
		}
		f := float32(man) / (1 << 24)
		if sign != 0 {
			return -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}
