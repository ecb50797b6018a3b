package tflite

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"blockprof/model"
	"blockprof/model/onnx"
	"blockprof/model/onnx/infer"
	"blockprof/model/quant"

	fb "blockprof/model/tflite/tflitefb"
)

// Calibration holds the activation ranges of a network's fp32 ONNX export,
// keyed by ONNX tensor name (what infer.Calibrate returns), observed on
// Inputs inputs described by Data. int8 export quantizes each activation to
// the range of the ONNX tensor it equals (after a fused ReLU, the ReLU's).
type Calibration struct {
	Ranges infer.Ranges
	// Inputs is the number of calibration inputs.
	Inputs int
	// Data describes them ("uniform random in [-1, 1), seed 7", a file).
	Data string
}

// Calibrate runs the fp32 ONNX export of net (seed, batch) in the pure-Go
// reference interpreter on inputs (NCHW, the ONNX input's shape) and returns
// every tensor's min/max. With no inputs it uses infer.DefaultSamples
// uniform random ones drawn from seed. data describes the inputs for the
// recipe ("" for the random default).
func Calibrate(ctx context.Context, net *model.Network, seed uint64, batch int, inputs []*infer.Tensor, data string) (*Calibration, error) {
	if net == nil {
		return nil, fmt.Errorf("tflite calibrate: no network")
	}
	m, err := onnx.Build(net, onnx.Options{Seed: seed, Batch: batch})
	if err != nil {
		return nil, fmt.Errorf("tflite calibrate: %w", err)
	}
	im, err := infer.New(m)
	if err != nil {
		return nil, fmt.Errorf("tflite calibrate %s: %w", net.Arch, err)
	}
	if len(inputs) == 0 {
		inputs = infer.RandomInputs(im.InputShape(), infer.DefaultSamples, seed)
		data = fmt.Sprintf("uniform random in [-1, 1), seed %d", seed)
	}
	if len(inputs) > infer.MaxSamples {
		return nil, fmt.Errorf("tflite calibrate %s: %d inputs, at most %d", net.Arch, len(inputs), infer.MaxSamples)
	}
	r, err := infer.Calibrate(ctx, im, inputs)
	if err != nil {
		return nil, fmt.Errorf("tflite calibrate %s: %w", net.Arch, err)
	}
	return &Calibration{Ranges: r, Inputs: len(inputs), Data: data}, nil
}

// Recipe is the quantization recipe written into int8 models' metadata.
func (c *Calibration) Recipe() string {
	return fmt.Sprintf("full-integer post-training quantization: int8 per-channel symmetric conv weights, "+
		"per-tensor symmetric fully-connected weights, int32 biases (scale = input scale × weight scale), "+
		"int8 asymmetric activations from %s min/max over %d calibration inputs (%s), float input and output "+
		"(QUANTIZE/DEQUANTIZE)", infer.Method, c.Inputs, c.Data)
}

// range8 returns the scale and zero point of the int8 range [lo, hi]
// (widened to hold 0, as quant.Activation does).
func range8(lo, hi float32) (float32, int64) {
	scale, zp, err := quant.Activation(lo, hi)
	if err != nil {
		// Ranges are checked finite and ordered before they get here.
		return 1, 0
	}
	return scale, int64(zp)
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

// weights adds a weight tensor w (output channel on axis 0, as ONNX stores
// it) laid out by perm (dst[perm[i]] = w[i]; nil keeps the order) with the
// given shape, and its bias: float32, float16 (+DEQUANTIZE) or int8 with a
// scale per output channel (perChannel; qdim is the channel axis of shape)
// or one scale, and an int32 bias with scale input scale × weight scale.
func (c *converter) weights(name string, w []float32, perm []int, shape []int32, qdim int32, perChannel bool, bias []float32, x *tensor) (int32, int32, error) {
	bname := strings.TrimSuffix(name, ".weight") + ".bias"
	if c.opts.Precision != INT8 {
		wt := w
		if perm != nil {
			wt = make([]float32, len(w))
			for i, v := range w {
				wt[perm[i]] = v
			}
		}
		return c.constFloat(name, wt, shape), c.constFloat(bname, bias, []int32{int32(len(bias))}), nil
	}
	channels := len(bias)
	if !perChannel {
		channels = 1
	}
	qw, err := quant.PerChannel(w, channels)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", name, err)
	}
	q := make([]byte, len(w))
	for i, v := range qw.Q {
		j := i
		if perm != nil {
			j = perm[i]
		}
		q[j] = byte(v)
	}
	wq := &fb.QuantizationParametersT{Scale: qw.Scales, ZeroPoint: make([]int64, len(qw.Scales))}
	if perChannel {
		wq.QuantizedDimension = qdim
	}
	wi := c.constant(name, fb.TensorTypeINT8, shape, q, wq)
	qb, bs, err := quant.Bias(bias, c.scaleOf(x), qw.Scales)
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w", bname, err)
	}
	bq := make([]byte, 4*len(qb))
	for i, v := range qb {
		binary.LittleEndian.PutUint32(bq[4*i:], uint32(v))
	}
	bqp := &fb.QuantizationParametersT{Scale: bs, ZeroPoint: make([]int64, len(bias))}
	if !perChannel {
		// One weight scale, one bias scale (Arm NN checks they agree).
		bqp = &fb.QuantizationParametersT{Scale: bs[:1], ZeroPoint: []int64{0}}
	}
	bi := c.constant(bname, fb.TensorTypeINT32, []int32{int32(len(bias))}, bq, bqp)
	return wi, bi, nil
}
