package tflite

import (
	"encoding/binary"
	"fmt"
	"math"
	"sort"
	"strings"

	fb "blockprof/model/tflite/tflitefb"
)

// Range is the calibrated [Min, Max] of one activation tensor.
type Range struct{ Min, Max float32 }

// Calibration holds the activation ranges of a network's fp32 ONNX export,
// keyed by ONNX tensor name (node output names), observed on Inputs inputs
// described by Data. int8 export quantizes each activation to the range of
// the ONNX tensor it equals.
type Calibration struct {
	Ranges map[string]Range
	// Inputs is the number of calibration inputs.
	Inputs int
	// Data describes them ("uniform random in [-1, 1], seed 7", a file).
	Data string
}

// Recipe is the quantization recipe written into int8 models' metadata.
func (c *Calibration) Recipe() string {
	return fmt.Sprintf("full-integer post-training quantization: int8 per-channel symmetric conv weights, "+
		"per-tensor symmetric fully-connected weights, int32 biases (scale = input scale × weight scale), "+
		"int8 asymmetric activations from min/max over %d calibration inputs (%s), float input and output "+
		"(QUANTIZE/DEQUANTIZE)", c.Inputs, c.Data)
}

// range8 returns the scale and zero point of the int8 range [lo, hi]
// (widened to hold 0).
func range8(lo, hi float32) (float32, int64) {
	lo, hi = min(lo, 0), max(hi, 0)
	scale := (hi - lo) / 255
	if !(scale > 0) || math.IsInf(float64(scale), 0) {
		scale = 1e-8
	}
	zp := int64(math.Round(float64(-128 - lo/scale)))
	return scale, max(-128, min(127, zp))
}

// setRange gives y (equal to an ONNX tensor) its calibrated range in int8
// mode.
func (c *converter) setRange(y *tensor) error {
	if c.opts.Precision != INT8 {
		return nil
	}
	r, ok := c.opts.Calib.Ranges[y.onnx]
	if !ok {
		return fmt.Errorf("no calibration range for tensor %s: calibrate the same network", y.onnx)
	}
	if math.IsNaN(float64(r.Min)) || math.IsNaN(float64(r.Max)) || r.Min > r.Max {
		return fmt.Errorf("calibration range of tensor %s is [%v, %v]: want min ≤ max", y.onnx, r.Min, r.Max)
	}
	y.lo, y.hi = r.Min, r.Max
	c.setQuant(y)
	return nil
}

// setQuant makes y an int8 tensor of range [y.lo, y.hi] in int8 mode.
func (c *converter) setQuant(y *tensor) {
	if c.opts.Precision != INT8 {
		return
	}
	scale, zp := range8(y.lo, y.hi)
	t := c.tensors[y.idx]
	t.Type = fb.TensorTypeINT8
	t.Quantization = &fb.QuantizationParametersT{Scale: []float32{scale}, ZeroPoint: []int64{zp}}
}

func (c *converter) scaleOf(x *tensor) float32 {
	if q := c.tensors[x.idx].Quantization; q != nil && len(q.Scale) == 1 {
		return q.Scale[0]
	}
	return 1
}

// quantizeInput adds the int8 copy of the float input x (QUANTIZE).
func (c *converter) quantizeInput(x *tensor) *tensor {
	c.tensors = append(c.tensors, &fb.TensorT{Shape: x.shape, Type: fb.TensorTypeFLOAT32, Name: InputName + "_int8"})
	q := &tensor{idx: int32(len(c.tensors) - 1), shape: x.shape, onnx: x.onnx, lo: x.lo, hi: x.hi}
	c.setQuant(q)
	// The float input keeps no quantization parameters.
	c.tensors[x.idx].Type, c.tensors[x.idx].Quantization = fb.TensorTypeFLOAT32, nil
	c.op(fb.BuiltinOperatorQUANTIZE, []int32{x.idx}, q, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsQuantizeOptions, Value: &fb.QuantizeOptionsT{}})
	return q
}

// dequantizeOutput adds the float copy of the int8 output y (DEQUANTIZE).
func (c *converter) dequantizeOutput(y *tensor) *tensor {
	c.tensors[y.idx].Name = OutputName + "_int8"
	c.tensors = append(c.tensors, &fb.TensorT{Shape: y.shape, Type: fb.TensorTypeFLOAT32, Name: OutputName})
	d := &tensor{idx: int32(len(c.tensors) - 1), shape: y.shape}
	c.op(fb.BuiltinOperatorDEQUANTIZE, []int32{y.idx}, d, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsDequantizeOptions, Value: &fb.DequantizeOptionsT{}})
	return d
}

// constScalar adds a one-value constant operand (int8 in int8 mode, with
// the range [0, v] so that it is exact).
func (c *converter) constScalar(name string, v float32) int32 {
	if c.opts.Precision != INT8 {
		b := make([]byte, 4)
		binary.LittleEndian.PutUint32(b, math.Float32bits(v))
		return c.constant(name, fb.TensorTypeFLOAT32, []int32{1}, b, nil)
	}
	scale, zp := range8(0, v)
	q := int64(math.Round(float64(v/scale))) + zp
	return c.constant(name, fb.TensorTypeINT8, []int32{1}, []byte{byte(int8(max(-128, min(127, q))))},
		&fb.QuantizationParametersT{Scale: []float32{scale}, ZeroPoint: []int64{zp}})
}

// weights adds a weight tensor w of the given shape and its bias: float32,
// float16 (+DEQUANTIZE) or int8 with scales per channel along qdim
// (perChannel) or one scale, and an int32 bias with scale input scale ×
// weight scale.
func (c *converter) weights(name string, w []float32, shape []int32, qdim int32, perChannel bool, bias []float32, x *tensor) (int32, int32) {
	if c.opts.Precision != INT8 {
		return c.constFloat(name, w, shape), c.constFloat(strings.TrimSuffix(name, ".weight")+".bias", bias, []int32{int32(len(bias))})
	}
	nc := int(shape[qdim])
	// channel of element i
	inner := 1
	for d := int(qdim) + 1; d < len(shape); d++ {
		inner *= int(shape[d])
	}
	ch := func(i int) int { return (i / inner) % nc }
	if !perChannel {
		ch = func(int) int { return 0 }
	}
	ns := nc
	if !perChannel {
		ns = 1
	}
	amax := make([]float64, ns)
	for i, v := range w {
		amax[ch(i)] = max(amax[ch(i)], math.Abs(float64(v)))
	}
	scales := make([]float32, ns)
	for i, a := range amax {
		scales[i] = float32(a / 127)
		if !(scales[i] > 0) {
			scales[i] = 1
		}
	}
	q := make([]byte, len(w))
	for i, v := range w {
		r := math.Round(float64(v) / float64(scales[ch(i)]))
		q[i] = byte(int8(max(-127, min(127, r))))
	}
	zps := make([]int64, ns)
	wq := &fb.QuantizationParametersT{Scale: scales, ZeroPoint: zps, QuantizedDimension: qdim}
	if !perChannel {
		wq.QuantizedDimension = 0
	}
	wi := c.constant(name, fb.TensorTypeINT8, shape, q, wq)
	xs := c.scaleOf(x)
	bs := make([]float32, len(bias))
	bq := make([]byte, 4*len(bias))
	for i, b := range bias {
		s := scales[0]
		if perChannel {
			s = scales[i]
		}
		bs[i] = xs * s
		r := math.Round(float64(b) / float64(bs[i]))
		binary.LittleEndian.PutUint32(bq[4*i:], uint32(int32(max(math.MinInt32, min(math.MaxInt32, r)))))
	}
	bi := c.constant(strings.TrimSuffix(name, ".weight")+".bias", fb.TensorTypeINT32, []int32{int32(len(bias))}, bq,
		&fb.QuantizationParametersT{Scale: bs, ZeroPoint: make([]int64, len(bias))})
	return wi, bi
}

// names returns the sorted keys of the calibration (for errors and tests).
func (c *Calibration) names() []string {
	out := make([]string, 0, len(c.Ranges))
	for k := range c.Ranges {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
