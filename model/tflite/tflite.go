// Package tflite writes a network description (model.Network) as a
// TensorFlow Lite flatbuffer (.tflite), for the runtimes that cannot read
// ONNX: TFLite/LiteRT's benchmark_model on phones and boards, its NNAPI, GPU
// and vendor delegates, and Arm NN's TFLite parser.
//
// The model is converted from the ONNX export of the same network and seed
// (model/onnx.Build), so the weights are exactly the ONNX model's and the two
// files compute the same function. The conversion does what TensorFlow's
// converter does with these networks:
//
//   - layout NHWC: input "input" batch×R×R×3 float32, output "output"
//     batch×classes; conv weights OHWI, depthwise weights 1×K×K×C;
//   - BatchNormalization folded into the preceding conv's weights and bias;
//   - Relu and Clip(0, 6) fused into the producing CONV_2D,
//     DEPTHWISE_CONV_2D, ADD or FULLY_CONNECTED as its
//     fused_activation_function (RELU, RELU6); standalone otherwise;
//   - HardSwish → HARD_SWISH; the squeeze-excite gate HardSigmoid(1/6, 1/2)
//     → ADD 3 (fused RELU6) → MUL 1/6, the relu6(x+3)/6 that Keras'
//     MobileNetV3 is written as and converts to;
//   - GlobalAveragePool → MEAN over H, W (keep_dims), Flatten → RESHAPE,
//     Gemm → FULLY_CONNECTED, MaxPool → MAX_POOL_2D, AveragePool →
//     AVERAGE_POOL_2D;
//   - padding: SAME where TFLite's SAME equals ONNX's explicit pads, VALID
//     where there are none, and otherwise an explicit PAD before a VALID op
//     (stride-2 convs on even inputs: ONNX pads K/2 on both sides, SAME
//     would pad 0 before and 1 after), as Keras' correct_pad/ZeroPadding2D
//     models convert to.
//
// Precisions (Options.Precision): fp32; fp16 as TFLite's float16
// post-training quantization writes it (weights and biases stored as
// FLOAT16 constants, each followed by a DEQUANTIZE to float32); int8 as its
// full-integer post-training quantization writes it (see Calibration).
//
// The file's description and its "blockprof" metadata entry record the
// space, arch, weights seed, precision and, for int8, the quantization
// recipe.
package tflite

import (
	"fmt"
	"strings"

	"blockprof/model"
	"blockprof/model/onnx"
)

// Precision is the numeric format of a written model.
type Precision string

const (
	// FP32 writes float32 weights and activations.
	FP32 Precision = "fp32"
	// FP16 writes float16 weights dequantized to float32 at load (TFLite's
	// float16 post-training quantization); activations stay float32.
	FP16 Precision = "fp16"
	// INT8 writes full-integer int8 weights and activations with float
	// input and output (QUANTIZE at the input, DEQUANTIZE at the output).
	INT8 Precision = "int8"
)

// Precisions lists the precisions Export writes.
func Precisions() []Precision { return []Precision{FP32, FP16, INT8} }

// ParsePrecision checks a precision name ("" means fp32).
func ParsePrecision(s string) (Precision, error) {
	switch p := Precision(strings.ToLower(strings.TrimSpace(s))); p {
	case "":
		return FP32, nil
	case FP32, FP16, INT8:
		return p, nil
	}
	return "", fmt.Errorf("precision %q: want fp32, fp16 or int8", s)
}

// InputName and OutputName name the model's input and output tensors (as in
// the ONNX export).
const (
	InputName  = onnx.InputName
	OutputName = onnx.OutputName
)

// Options are the export settings.
type Options struct {
	// Seed seeds the weight generator (the same seed gives the ONNX export's
	// weights).
	Seed uint64
	// Batch is the fixed batch dimension; 0 means 1.
	Batch int
	// Precision is fp32 (""), fp16 or int8.
	Precision Precision
	// Calib holds the activation ranges for int8; required for int8 and
	// ignored otherwise. See Calibrate.
	Calib *Calibration

	// floatPad writes int8 PAD as DEQUANTIZE → PAD → QUANTIZE (tests only:
	// Arm NN 20.08's reference PAD fills int8 with 0, not the zero point).
	floatPad bool
}

// Export writes net as a .tflite flatbuffer.
func Export(net *model.Network, opts Options) ([]byte, error) {
	if net == nil {
		return nil, fmt.Errorf("tflite export: no network")
	}
	p, err := ParsePrecision(string(opts.Precision))
	if err != nil {
		return nil, fmt.Errorf("tflite export of %s: %w", net.Arch, err)
	}
	opts.Precision = p
	if p == INT8 && opts.Calib == nil {
		return nil, fmt.Errorf("tflite export of %s: precision int8 needs activation ranges (Options.Calib): calibrate with tflite.Calibrate", net.Arch)
	}
	m, err := onnx.Build(net, onnx.Options{Seed: opts.Seed, Batch: opts.Batch})
	if err != nil {
		return nil, fmt.Errorf("tflite export: %w", err)
	}
	b, err := convert(m, net, opts)
	if err != nil {
		return nil, fmt.Errorf("tflite export of %s: %w", net.Arch, err)
	}
	return b, nil
}
