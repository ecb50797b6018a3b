package infer

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// Range is the smallest and largest value a tensor took during calibration.
type Range struct{ Min, Max float32 }

// Ranges are calibrated ranges by ONNX tensor name.
type Ranges map[string]Range

// Method names the calibration method Calibrate implements, for the
// quantization recipe recorded in model metadata.
const Method = "minmax"

// DefaultSamples is the number of random calibration inputs used when the
// user gives none.
const DefaultSamples = 2

// MaxSamples bounds the number of calibration inputs (each is one forward
// pass of the reference interpreter).
const MaxSamples = 64

// Calibrate runs m on every input and returns the min/max of every tensor
// it computes (the graph input and output included), by ONNX tensor name:
// the "MinMax" calibration of ONNX Runtime's quantizer and TFLite's
// converter.
func Calibrate(ctx context.Context, m *Model, inputs []*Tensor) (Ranges, error) {
	if len(inputs) == 0 {
		return nil, fmt.Errorf("calibrate: no inputs")
	}
	r := Ranges{}
	visit := func(name string, t *Tensor) {
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range t.Data {
			lo, hi = min(lo, v), max(hi, v)
		}
		if old, ok := r[name]; ok {
			lo, hi = min(lo, old.Min), max(hi, old.Max)
		}
		r[name] = Range{lo, hi}
	}
	for i, x := range inputs {
		if _, err := m.Run(ctx, x, visit); err != nil {
			return nil, fmt.Errorf("calibrate: input %d: %w", i+1, err)
		}
	}
	for name, v := range r {
		if math.IsNaN(float64(v.Min)) || math.IsNaN(float64(v.Max)) || math.IsInf(float64(v.Min), 0) || math.IsInf(float64(v.Max), 0) {
			return nil, fmt.Errorf("calibrate: tensor %q has range [%v, %v]: not finite", name, v.Min, v.Max)
		}
	}
	return r, nil
}

// RandomInputs returns n deterministic pseudo-random inputs of the given
// shape, uniform in [-1, 1) like the inputs the ort device times with,
// drawn from PCG(seed, n).
func RandomInputs(shape []int, n int, seed uint64) []*Tensor {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	out := make([]*Tensor, n)
	for i := range out {
		t := NewTensor(shape...)
		for j := range t.Data {
			t.Data[j] = float32(rng.Float64()*2 - 1)
		}
		out[i] = t
	}
	return out
}
