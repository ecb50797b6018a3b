// Package quantize turns the fp32 ONNX models of model/onnx into the
// lower-precision models a deployment would time: int8 in ONNX's QDQ form
// (what ONNX Runtime's static quantizer writes and ONNX Runtime, TensorRT
// and OpenVINO accept) and fp16.
//
// int8 follows ONNX Runtime's quantize_static with its QDQ format and
// MinMax calibration, per-channel weights and int8 activations:
//
//  1. Pre-processing: BatchNormalization is folded into the Conv before it
//     (W·γ/σ, (b-μ)·γ/σ+β), as the quantizer's pre-processing and every
//     converter do.
//  2. Calibration: the folded fp32 graph runs on a few inputs in the
//     reference interpreter (model/onnx/infer); every tensor's min/max is
//     kept.
//  3. A Relu or Clip whose input comes from a Conv, Gemm or Add read by it
//     alone is removed: the int8 range of its output (starting at 0, or
//     inside [0, 6]) does the clamping, as the quantizer's removable
//     activations do.
//  4. Every activation tensor but the graph output gets a
//     QuantizeLinear → DequantizeLinear pair with the scale and zero point
//     of its calibrated range (int8, asymmetric, per tensor); Conv and Gemm
//     weights become int8 initializers, symmetric per output channel
//     (axis 0), read through DequantizeLinear; their biases int32 with
//     scale input scale × weight scale.
//
// ONNX Runtime's graph optimiser then fuses the pairs into its integer
// kernels (QLinearConv, QGemm, QLinearAdd, …) where it has them.
package quantize

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	goruntime "runtime"

	"golang.org/x/sys/cpu"

	"google.golang.org/protobuf/proto"

	"blockprof/model/onnx"
	"blockprof/model/onnx/infer"
	"blockprof/model/onnx/onnxpb"
	"blockprof/model/quant"
)

// Precisions lists the precisions of an ONNX export.
func Precisions() []string { return []string{"fp32", "fp16", "int8"} }

// CheckPrecision reports an unknown precision.
func CheckPrecision(p string) error {
	switch p {
	case "fp32", "fp16", "int8":
		return nil
	}
	return fmt.Errorf("precision %q: want fp32, fp16 or int8", p)
}

// Calibration is the set of inputs int8 calibration runs on and a
// description of where they came from, recorded in the model's metadata.
type Calibration struct {
	Inputs []*infer.Tensor
	Source string
}

// CalibrationSeed seeds the default random calibration inputs.
const CalibrationSeed = 1

// RandomCalibration is the default: n inputs of shape, uniform in [-1, 1)
// (the distribution the ort device times with), from seed.
func RandomCalibration(shape []int, n int, seed uint64) Calibration {
	return Calibration{
		Inputs: infer.RandomInputs(shape, n, seed),
		Source: fmt.Sprintf("%d random inputs, uniform in [-1, 1), seed %d", n, seed),
	}
}

// FileCalibration reads the inputs from a .npy or raw float32 file (see
// infer.ReadInputs); the source names the file and its SHA-256.
func FileCalibration(path string, shape []int) (Calibration, error) {
	ins, err := infer.ReadInputs(path, shape)
	if err != nil {
		return Calibration{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return Calibration{}, fmt.Errorf("calibration file: %w", err)
	}
	sum := sha256.Sum256(b)
	return Calibration{
		Inputs: ins,
		Source: fmt.Sprintf("%d inputs from %s (sha256 %s)", len(ins), filepath.Base(path), hex.EncodeToString(sum[:8])),
	}, nil
}

// Options are the int8 settings.
type Options struct {
	// ReduceRange quantizes weights to 7 bits ([-64, 64]) as ONNX
	// Runtime's reduce_range does; see ReduceRangeAdvised.
	ReduceRange bool
}

// ReduceRangeAdvised reports whether ONNX Runtime on this CPU needs 7-bit
// weights: an x86-64 CPU without VNNI, where its int8 kernels add u8×s8
// product pairs in int16 (vpmaddubsw) and full-range weights saturate
// (ONNX Runtime's quantization docs advise reduce_range there). Measured
// here: cosine to fp32 0.95–0.98 with full-range weights on MBv3/PN, ≥
// 0.999 with reduce_range.
func ReduceRangeAdvised() bool {
	return goruntime.GOARCH == "amd64" && !cpu.X86.HasAVX512VNNI && !cpu.X86.HasAVXVNNI
}

// Recipe is the quantization recipe recorded in an int8 model's
// metadata (key "quantization").
func (o Options) Recipe() string {
	w := "weights int8 symmetric per output channel (axis 0, [-127, 127])"
	if o.ReduceRange {
		w = "weights 7-bit symmetric per output channel (axis 0, [-64, 64], reduce_range)"
	}
	return "QDQ (QuantizeLinear/DequantizeLinear); " + w + "; " +
		"activations int8 asymmetric per tensor; biases int32 (scale input × weight); BatchNormalization folded into Conv; " +
		"Relu/Clip after Conv, Gemm or Add folded into the int8 range; as ONNX Runtime quantize_static (QDQ, per_channel)"
}

// Calibrated is an fp32 model with BatchNormalization folded into its
// convs and the calibrated range of every tensor of that folded graph (by
// ONNX tensor name): what any int8 writer needs.
type Calibrated struct {
	Folded *onnxpb.ModelProto
	Ranges infer.Ranges
	// Source describes the calibration, e.g. "minmax over 2 random
	// inputs, uniform in [-1, 1), seed 1".
	Source string
}

// Calibrate folds m's BatchNormalization and calibrates the folded graph on
// cal's inputs in the reference interpreter. m is not changed.
func Calibrate(ctx context.Context, m *onnxpb.ModelProto, cal Calibration) (*Calibrated, error) {
	if len(cal.Inputs) == 0 {
		return nil, fmt.Errorf("int8 quantization: no calibration inputs")
	}
	folded, err := FoldBatchNorm(m)
	if err != nil {
		return nil, err
	}
	md, err := infer.New(folded)
	if err != nil {
		return nil, fmt.Errorf("int8 quantization: %w", err)
	}
	ranges, err := infer.Calibrate(ctx, md, cal.Inputs)
	if err != nil {
		return nil, fmt.Errorf("int8 quantization: %w", err)
	}
	return &Calibrated{Folded: folded, Ranges: ranges, Source: fmt.Sprintf("%s over %s", infer.Method, cal.Source)}, nil
}

// Int8 returns the calibrated model in int8 QDQ form; c is not changed.
func (c *Calibrated) Int8(opts Options) (*onnxpb.ModelProto, error) {
	wmax := quant.WMax
	if opts.ReduceRange {
		wmax = quant.WMaxReduced
	}
	q, err := qdq(proto.Clone(c.Folded).(*onnxpb.ModelProto), c.Ranges, wmax)
	if err != nil {
		return nil, fmt.Errorf("int8 quantization: %w", err)
	}
	SetMeta(q, "precision", "int8")
	SetMeta(q, "quantization", opts.Recipe())
	SetMeta(q, "calibration", c.Source)
	return q, nil
}

// Int8 returns m (an fp32 model from model/onnx) quantized to int8 QDQ with
// ranges calibrated on cal: Calibrate, then Calibrated.Int8. m is not
// changed.
func Int8(ctx context.Context, m *onnxpb.ModelProto, cal Calibration, opts Options) (*onnxpb.ModelProto, error) {
	c, err := Calibrate(ctx, m, cal)
	if err != nil {
		return nil, err
	}
	return c.Int8(opts)
}

// SetMeta sets a metadata_props entry, replacing one with the same key.
func SetMeta(m *onnxpb.ModelProto, key, value string) {
	for _, p := range m.MetadataProps {
		if p.GetKey() == key {
			p.Value = proto.String(value)
			return
		}
	}
	m.MetadataProps = append(m.MetadataProps, &onnxpb.StringStringEntryProto{Key: proto.String(key), Value: proto.String(value)})
}

// consumers maps each tensor to the nodes that read it.
func consumers(g *onnxpb.GraphProto) map[string][]*onnxpb.NodeProto {
	c := map[string][]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			c[in] = append(c[in], n)
		}
	}
	return c
}

func isOutput(g *onnxpb.GraphProto, name string) bool {
	for _, o := range g.GetOutput() {
		if o.GetName() == name {
			return true
		}
	}
	return false
}

// FoldBatchNorm returns a copy of m in which every BatchNormalization that
// reads a Conv's output (read by nothing else) is folded into that Conv:
// the Conv gains (or updates) a bias and takes the BN's output name.
func FoldBatchNorm(m *onnxpb.ModelProto) (*onnxpb.ModelProto, error) {
	m = proto.Clone(m).(*onnxpb.ModelProto)
	g := m.GetGraph()
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			producer[o] = n
		}
	}
	uses := consumers(g)
	read := func(name string) (*infer.Tensor, error) {
		t := inits[name]
		if t == nil {
			return nil, fmt.Errorf("%q is not an initializer", name)
		}
		return infer.Decode(t)
	}
	var kept []*onnxpb.NodeProto
	for _, n := range g.GetNode() {
		if n.GetOpType() != "BatchNormalization" {
			kept = append(kept, n)
			continue
		}
		x := n.GetInput()[0]
		c := producer[x]
		if c == nil || c.GetOpType() != "Conv" || len(uses[x]) != 1 || isOutput(g, x) || len(n.GetInput()) != 5 {
			kept = append(kept, n)
			continue
		}
		var p [4]*infer.Tensor
		for i := range p {
			var err error
			if p[i], err = read(n.GetInput()[i+1]); err != nil {
				return nil, fmt.Errorf("fold %s: %w", n.GetName(), err)
			}
		}
		eps := float32(1e-5)
		for _, a := range n.GetAttribute() {
			if a.GetName() == "epsilon" {
				eps = a.GetF()
			}
		}
		w, err := read(c.GetInput()[1])
		if err != nil {
			return nil, fmt.Errorf("fold %s into %s: %w", n.GetName(), c.GetName(), err)
		}
		M := w.Shape[0]
		if len(p[0].Data) != M {
			return nil, fmt.Errorf("fold %s into %s: %d BN channels, %d conv outputs", n.GetName(), c.GetName(), len(p[0].Data), M)
		}
		bias := make([]float32, M)
		if len(c.GetInput()) > 2 && c.GetInput()[2] != "" {
			b, err := read(c.GetInput()[2])
			if err != nil {
				return nil, fmt.Errorf("fold %s into %s: %w", n.GetName(), c.GetName(), err)
			}
			copy(bias, b.Data)
		}
		per := len(w.Data) / M
		for o := range M {
			s := float64(p[0].Data[o]) / math.Sqrt(float64(p[3].Data[o])+float64(eps))
			for i := range per {
				w.Data[o*per+i] = float32(float64(w.Data[o*per+i]) * s)
			}
			bias[o] = float32((float64(bias[o])-float64(p[2].Data[o]))*s + float64(p[1].Data[o]))
		}
		wName, bName := c.GetName()+".weight.folded", c.GetName()+".bias.folded"
		g.Initializer = append(g.Initializer, floatTensor(wName, w.Data, w.Shape), floatTensor(bName, bias, []int{M}))
		c.Input = []string{c.GetInput()[0], wName, bName}
		c.Output = []string{n.GetOutput()[0]}
		producer[n.GetOutput()[0]] = c
	}
	g.Node = kept
	pruneInitializers(g)
	SetMeta(m, "batchnorm", "folded into Conv")
	return m, nil
}

// pruneInitializers drops initializers no node reads.
func pruneInitializers(g *onnxpb.GraphProto) {
	used := map[string]bool{}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			used[in] = true
		}
	}
	var keep []*onnxpb.TensorProto
	for _, t := range g.GetInitializer() {
		if used[t.GetName()] {
			keep = append(keep, t)
		}
	}
	g.Initializer = keep
}

func dims(shape []int) []int64 {
	d := make([]int64, len(shape))
	for i, v := range shape {
		d[i] = int64(v)
	}
	return d
}

func floatTensor(name string, v []float32, shape []int) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims(shape), DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
}

func int8Tensor(name string, v []int8, shape []int) *onnxpb.TensorProto {
	raw := make([]byte, len(v))
	for i, x := range v {
		raw[i] = byte(x)
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims(shape), DataType: proto.Int32(int32(onnxpb.TensorProto_INT8)), RawData: raw}
}

func int32Tensor(name string, v []int32, shape []int) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims(shape), DataType: proto.Int32(int32(onnxpb.TensorProto_INT32)), RawData: raw}
}

func node(op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out, Attribute: attrs}
}

func axisAttr(axis int64) *onnxpb.AttributeProto { return onnx.IntAttr("axis", axis) }

// qdq rewrites the folded graph g into QDQ form with the given ranges.
func qdq(m *onnxpb.ModelProto, ranges infer.Ranges, wmax int) (*onnxpb.ModelProto, error) {
	g := m.GetGraph()
	inits := map[string]*onnxpb.TensorProto{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = t
	}

	// 3. Remove Relu/Clip after Conv, Gemm or Add when they alone read it.
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		producer[n.GetOutput()[0]] = n
	}
	uses := consumers(g)
	var nodes []*onnxpb.NodeProto
	for _, n := range g.GetNode() {
		if op := n.GetOpType(); op == "Relu" || op == "Clip" {
			x := n.GetInput()[0]
			p := producer[x]
			if p != nil && (p.GetOpType() == "Conv" || p.GetOpType() == "Gemm" || p.GetOpType() == "Add") && len(uses[x]) == 1 && !isOutput(g, x) && clipFromZero(n, inits) {
				p.Output = []string{n.GetOutput()[0]}
				producer[n.GetOutput()[0]] = p
				continue
			}
		}
		nodes = append(nodes, n)
	}

	// 4. A Q→DQ pair on every activation tensor but the graph output.
	type qp struct {
		scale float32
		zero  int8
	}
	params := map[string]qp{}
	deq := map[string]string{} // tensor → its dequantized name
	var out []*onnxpb.NodeProto
	addPair := func(t string) error {
		r, ok := ranges[t]
		if !ok {
			return fmt.Errorf("tensor %q has no calibrated range", t)
		}
		s, z, err := quant.Activation(r.Min, r.Max)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", t, err)
		}
		params[t] = qp{s, z}
		sn, zn := t+"_scale", t+"_zero_point"
		g.Initializer = append(g.Initializer, floatTensor(sn, []float32{s}, nil), int8Tensor(zn, []int8{z}, nil))
		out = append(out,
			node("QuantizeLinear", t+"_QuantizeLinear", []string{t, sn, zn}, []string{t + "_quantized"}),
			node("DequantizeLinear", t+"_DequantizeLinear", []string{t + "_quantized", sn, zn}, []string{t + "_dequantized"}))
		deq[t] = t + "_dequantized"
		return nil
	}
	for _, in := range g.GetInput() {
		if inits[in.GetName()] == nil {
			if err := addPair(in.GetName()); err != nil {
				return nil, err
			}
		}
	}
	for _, n := range nodes {
		// Inputs: activations through their DQ; weights and biases of
		// Conv and Gemm quantized.
		x := n.GetInput()[0]
		for i, in := range n.GetInput() {
			if d, ok := deq[in]; ok {
				n.Input[i] = d
			}
		}
		if op := n.GetOpType(); op == "Conv" || op == "Gemm" {
			if op == "Gemm" && !gemmTransB(n) {
				return nil, fmt.Errorf("node %s: Gemm without transB: weights are quantized per output channel on axis 0", n.GetName())
			}
			xp, ok := params[x]
			if !ok {
				return nil, fmt.Errorf("node %s: input %q is not quantized", n.GetName(), x)
			}
			wq, err := weight(g, inits, n, wmax, &out)
			if err != nil {
				return nil, fmt.Errorf("node %s: %w", n.GetName(), err)
			}
			if len(n.GetInput()) > 2 && n.GetInput()[2] != "" {
				if err := bias(g, inits, n, xp.scale, wq.Scales, &out); err != nil {
					return nil, fmt.Errorf("node %s: %w", n.GetName(), err)
				}
			}
		}
		out = append(out, n)
		if y := n.GetOutput()[0]; !isOutput(g, y) {
			if err := addPair(y); err != nil {
				return nil, err
			}
		}
	}
	g.Node = out
	pruneInitializers(g)
	return m, nil
}

// clipFromZero: a Relu, or a Clip whose lower bound is 0 (so that the
// int8 range, which starts at the calibrated minimum 0, clamps as it does).
func clipFromZero(n *onnxpb.NodeProto, inits map[string]*onnxpb.TensorProto) bool {
	if n.GetOpType() == "Relu" {
		return true
	}
	if len(n.GetInput()) < 3 {
		return false
	}
	lo, err1 := infer.Decode(inits[n.GetInput()[1]])
	hi, err2 := infer.Decode(inits[n.GetInput()[2]])
	return err1 == nil && err2 == nil && len(lo.Data) == 1 && len(hi.Data) == 1 && lo.Data[0] == 0 && hi.Data[0] > 0
}

func gemmTransB(n *onnxpb.NodeProto) bool {
	for _, a := range n.GetAttribute() {
		if a.GetName() == "transB" {
			return a.GetI() == 1
		}
	}
	return false
}

// weight replaces n's float weight (input 1) by int8 per-channel values
// read through DequantizeLinear.
func weight(g *onnxpb.GraphProto, inits map[string]*onnxpb.TensorProto, n *onnxpb.NodeProto, wmax int, out *[]*onnxpb.NodeProto) (quant.Weights, error) {
	name := n.GetInput()[1]
	t := inits[name]
	if t == nil {
		return quant.Weights{}, fmt.Errorf("weight %q is not an initializer", name)
	}
	w, err := infer.Decode(t)
	if err != nil {
		return quant.Weights{}, fmt.Errorf("weight %q: %w", name, err)
	}
	q, err := quant.PerChannelRange(w.Data, w.Shape[0], wmax)
	if err != nil {
		return quant.Weights{}, fmt.Errorf("weight %q: %w", name, err)
	}
	zeros := make([]int8, w.Shape[0])
	g.Initializer = append(g.Initializer,
		int8Tensor(name+"_quantized", q.Q, w.Shape),
		floatTensor(name+"_scale", q.Scales, []int{w.Shape[0]}),
		int8Tensor(name+"_zero_point", zeros, []int{w.Shape[0]}))
	*out = append(*out, node("DequantizeLinear", name+"_DequantizeLinear",
		[]string{name + "_quantized", name + "_scale", name + "_zero_point"}, []string{name + "_dequantized"}, axisAttr(0)))
	n.Input[1] = name + "_dequantized"
	return q, nil
}

// bias replaces n's float bias (input 2) by int32 values with scale input
// scale × weight scale, read through DequantizeLinear.
func bias(g *onnxpb.GraphProto, inits map[string]*onnxpb.TensorProto, n *onnxpb.NodeProto, inScale float32, wScales []float32, out *[]*onnxpb.NodeProto) error {
	name := n.GetInput()[2]
	t := inits[name]
	if t == nil {
		return fmt.Errorf("bias %q is not an initializer", name)
	}
	b, err := infer.Decode(t)
	if err != nil {
		return fmt.Errorf("bias %q: %w", name, err)
	}
	q, scales, err := quant.Bias(b.Data, inScale, wScales)
	if err != nil {
		return fmt.Errorf("bias %q: %w", name, err)
	}
	g.Initializer = append(g.Initializer,
		int32Tensor(name+"_quantized", q, []int{len(q)}),
		floatTensor(name+"_scale", scales, []int{len(q)}),
		int32Tensor(name+"_zero_point", make([]int32, len(q)), []int{len(q)}))
	*out = append(*out, node("DequantizeLinear", name+"_DequantizeLinear",
		[]string{name + "_quantized", name + "_scale", name + "_zero_point"}, []string{name + "_dequantized"}, axisAttr(0)))
	n.Input[2] = name + "_dequantized"
	return nil
}
