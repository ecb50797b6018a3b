package tflite

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"

	flatbuffers "github.com/google/flatbuffers/go"

	"blockprof/model"
	"blockprof/model/onnx"
	"blockprof/model/onnx/onnxpb"
	"blockprof/model/quant"
	fb "blockprof/model/tflite/tflitefb"
)

// SchemaVersion is the TFLite schema version written (Model.version).
const SchemaVersion = 3

// MetadataName names the model metadata entry blockprof writes (a JSON
// object, see Metadata).
const MetadataName = "blockprof"

// Metadata is what the "blockprof" metadata entry holds.
type Metadata struct {
	Space      string `json:"space"`
	Arch       string `json:"arch"`
	Resolution int    `json:"resolution"`
	Batch      int    `json:"batch"`
	Seed       uint64 `json:"seed"`
	Precision  string `json:"precision"`
	// Quantization describes the int8 recipe (empty otherwise).
	Quantization string `json:"quantization,omitempty"`
	// Source says where the weights come from.
	Source string `json:"source"`
}

// tensor is a value of the TFLite graph: its index and NHWC shape, and the
// ONNX tensor it equals (for int8 ranges).
type tensor struct {
	idx   int32
	shape []int32
	onnx  string
	// lo, hi is the int8 range of the tensor (set in int8 mode).
	lo, hi float32
}

type converter struct {
	g         *onnxpb.GraphProto
	opts      Options
	inits     map[string]*onnxpb.TensorProto
	consumers map[string][]int
	done      []bool
	vals      map[string]*tensor

	tensors []*fb.TensorT
	buffers []*fb.BufferT
	ops     []*fb.OperatorT
	codes   []*fb.OperatorCodeT
	codeIdx map[fb.BuiltinOperator]uint32
}

func convert(m *onnxpb.ModelProto, net *model.Network, opts Options) ([]byte, error) {
	g := m.GetGraph()
	c := &converter{
		g: g, opts: opts,
		inits:     map[string]*onnxpb.TensorProto{},
		consumers: map[string][]int{},
		done:      make([]bool, len(g.GetNode())),
		vals:      map[string]*tensor{},
		buffers:   []*fb.BufferT{{}}, // buffer 0: the empty sentinel
		codeIdx:   map[fb.BuiltinOperator]uint32{},
	}
	for _, in := range g.GetInitializer() {
		c.inits[in.GetName()] = in
	}
	for i, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			c.consumers[in] = append(c.consumers[in], i)
		}
	}
	if len(g.GetInput()) != 1 || len(g.GetOutput()) != 1 {
		return nil, fmt.Errorf("want one input and one output, got %d and %d", len(g.GetInput()), len(g.GetOutput()))
	}
	in := g.GetInput()[0]
	d := dimsOf(in)
	if len(d) != 4 || d[1] != 3 {
		return nil, fmt.Errorf("input %s: shape %v, want N×3×H×W", in.GetName(), d)
	}
	x := c.activation(InputName, []int32{int32(d[0]), int32(d[2]), int32(d[3]), 3}, in.GetName())
	if err := c.setRange(x); err != nil {
		return nil, err
	}
	graphIn := x.idx
	c.vals[in.GetName()] = x
	if opts.Precision == INT8 {
		c.vals[in.GetName()] = c.quantizeInput(x)
	}
	for i, n := range g.GetNode() {
		if c.done[i] {
			continue
		}
		c.done[i] = true
		if err := c.node(i, n); err != nil {
			return nil, fmt.Errorf("node %s (%s): %w", n.GetName(), n.GetOpType(), err)
		}
	}
	outName := g.GetOutput()[0].GetName()
	out, ok := c.vals[outName]
	if !ok {
		return nil, fmt.Errorf("output %s is never computed", outName)
	}
	if opts.Precision == INT8 {
		out = c.dequantizeOutput(out)
	}
	c.tensors[out.idx].Name = OutputName

	meta := Metadata{
		Space: net.Space, Arch: net.Arch, Resolution: net.Resolution, Batch: int(d[0]), Seed: opts.Seed,
		Precision: string(opts.Precision),
		Source:    "model/onnx export with the same seed (random weights: for latency, not accuracy)",
	}
	if opts.Precision == INT8 {
		meta.Quantization = opts.Calib.Recipe()
	}
	mj, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	c.buffers = append(c.buffers, &fb.BufferT{Data: mj})
	desc := fmt.Sprintf("blockprof %s %s @%d, %s, random weights (seed %d): for latency, not accuracy", net.Space, net.Arch, net.Resolution, opts.Precision, opts.Seed)
	if meta.Quantization != "" {
		desc += "; " + meta.Quantization
	}
	mt := &fb.ModelT{
		Version:       SchemaVersion,
		OperatorCodes: c.codes,
		Subgraphs: []*fb.SubGraphT{{
			Tensors: c.tensors, Inputs: []int32{graphIn}, Outputs: []int32{out.idx},
			Operators: c.ops, Name: "main",
		}},
		Description: desc,
		Buffers:     c.buffers,
		Metadata:    []*fb.MetadataT{{Name: MetadataName, Buffer: uint32(len(c.buffers) - 1)}},
	}
	b := flatbuffers.NewBuilder(1 << 20)
	b.FinishWithFileIdentifier(mt.Pack(b), []byte("TFL3"))
	return b.FinishedBytes(), nil
}

// node converts ONNX node i (and the nodes it fuses, which it marks done).
func (c *converter) node(i int, n *onnxpb.NodeProto) error {
	ins := n.GetInput()
	if len(n.GetOutput()) != 1 || len(ins) == 0 {
		return fmt.Errorf("%d inputs and %d outputs: want at least one input and one output", len(ins), len(n.GetOutput()))
	}
	switch n.GetOpType() {
	case "Conv":
		return c.conv(n)
	case "BatchNormalization":
		return fmt.Errorf("not after a conv: cannot fold")
	case "Relu", "Clip":
		act, err := c.clipAct(n)
		if err != nil {
			return err
		}
		x, err := c.in(ins[0])
		if err != nil {
			return err
		}
		op := fb.BuiltinOperatorRELU
		if act == fb.ActivationFunctionTypeRELU6 {
			op = fb.BuiltinOperatorRELU6
		}
		y := c.activation(out0(n), x.shape, out0(n))
		c.op(op, []int32{x.idx}, y, nil)
		return c.setRange(y)
	case "HardSwish":
		x, err := c.in(ins[0])
		if err != nil {
			return err
		}
		y := c.activation(out0(n), x.shape, out0(n))
		c.op(fb.BuiltinOperatorHARD_SWISH, []int32{x.idx}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsHardSwishOptions, Value: &fb.HardSwishOptionsT{}})
		return c.setRange(y)
	case "HardSigmoid":
		return c.hardSigmoid(n)
	case "Add", "Mul":
		return c.binary(n)
	case "GlobalAveragePool":
		x, err := c.in(ins[0])
		if err != nil {
			return err
		}
		axes := c.constInt32(n.GetName()+".axes", []int32{1, 2}, 2)
		y := c.activation(out0(n), []int32{x.shape[0], 1, 1, x.shape[3]}, out0(n))
		c.op(fb.BuiltinOperatorMEAN, []int32{x.idx, axes}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsReducerOptions, Value: &fb.ReducerOptionsT{KeepDims: true}})
		return c.setRange(y)
	case "MaxPool", "AveragePool":
		return c.pool(n)
	case "Flatten":
		x, err := c.in(ins[0])
		if err != nil {
			return err
		}
		if onnx.AttrInt(n, "axis", 1) != 1 {
			return fmt.Errorf("axis %d: want 1", onnx.AttrInt(n, "axis", 1))
		}
		if x.shape[1]*x.shape[2] != 1 {
			// NCHW flattening order differs from NHWC's: transpose first.
			perm := c.constInt32(n.GetName()+".perm", []int32{0, 3, 1, 2}, 4)
			t := c.activation(n.GetName()+".nchw", []int32{x.shape[0], x.shape[3], x.shape[1], x.shape[2]}, "")
			t.lo, t.hi = x.lo, x.hi
			c.setQuant(t)
			c.op(fb.BuiltinOperatorTRANSPOSE, []int32{x.idx, perm}, t, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsTransposeOptions, Value: &fb.TransposeOptionsT{}})
			x = t
		}
		flat := []int32{x.shape[0], x.shape[1] * x.shape[2] * x.shape[3]}
		shape := c.constInt32(n.GetName()+".shape", flat, 2)
		y := c.activation(out0(n), flat, out0(n))
		y.lo, y.hi = x.lo, x.hi
		c.setQuant(y)
		c.op(fb.BuiltinOperatorRESHAPE, []int32{x.idx, shape}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsReshapeOptions, Value: &fb.ReshapeOptionsT{NewShape: flat}})
		return nil
	case "Gemm":
		return c.gemm(n)
	}
	return fmt.Errorf("no TFLite mapping for ONNX op %s", n.GetOpType())
}

// out0 is the name of a node's (one) output.
func out0(n *onnxpb.NodeProto) string { return n.GetOutput()[0] }

// in returns the converted value of an ONNX tensor.
func (c *converter) in(name string) (*tensor, error) {
	v, ok := c.vals[name]
	if !ok {
		return nil, fmt.Errorf("input %s is not computed before it is used", name)
	}
	return v, nil
}

// only returns the node that is the single consumer of name, if there is
// exactly one and it has the given op type and is not done yet.
func (c *converter) only(name string, ops ...string) (int, *onnxpb.NodeProto) {
	cs := c.consumers[name]
	if len(cs) != 1 || name == c.g.GetOutput()[0].GetName() {
		return -1, nil
	}
	n := c.g.GetNode()[cs[0]]
	if c.done[cs[0]] || !slices.Contains(ops, n.GetOpType()) {
		return -1, nil
	}
	return cs[0], n
}

// fuse looks for a Relu or Clip(0, 6) that alone consumes name and, if it
// finds one, marks it done and returns its activation and output name.
func (c *converter) fuse(name string) (fb.ActivationFunctionType, string, error) {
	i, n := c.only(name, "Relu", "Clip")
	if n == nil {
		return fb.ActivationFunctionTypeNONE, name, nil
	}
	act, err := c.clipAct(n)
	if err != nil {
		return 0, "", fmt.Errorf("node %s: %w", n.GetName(), err)
	}
	c.done[i] = true
	return act, out0(n), nil
}

// clipAct maps Relu and Clip(0, 6) to their fused activations.
func (c *converter) clipAct(n *onnxpb.NodeProto) (fb.ActivationFunctionType, error) {
	if n.GetOpType() == "Relu" {
		return fb.ActivationFunctionTypeRELU, nil
	}
	ins := n.GetInput()
	if len(ins) != 3 {
		return 0, fmt.Errorf("clip without both bounds")
	}
	lo, err1 := c.scalar(ins[1])
	hi, err2 := c.scalar(ins[2])
	if err1 != nil || err2 != nil || lo != 0 || hi != 6 {
		return 0, fmt.Errorf("clip bounds (%v, %v): only Clip(0, 6) (relu6) maps to TFLite", lo, hi)
	}
	return fb.ActivationFunctionTypeRELU6, nil
}

func (c *converter) scalar(name string) (float32, error) {
	v, _, err := c.floats(name)
	if err != nil {
		return 0, err
	}
	if len(v) != 1 {
		return 0, fmt.Errorf("initializer %s: want one value, got %d", name, len(v))
	}
	return v[0], nil
}

// floats reads a float initializer.
func (c *converter) floats(name string) ([]float32, []int64, error) {
	t, ok := c.inits[name]
	if !ok {
		return nil, nil, fmt.Errorf("initializer %s missing", name)
	}
	if t.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, nil, fmt.Errorf("initializer %s: data type %d, want float", name, t.GetDataType())
	}
	n := int64(1)
	for _, d := range t.GetDims() {
		if d < 0 {
			return nil, nil, fmt.Errorf("initializer %s: negative dim %d", name, d)
		}
		n *= d
	}
	if raw := t.GetRawData(); raw != nil {
		if int64(len(raw)) != 4*n {
			return nil, nil, fmt.Errorf("initializer %s: %d bytes for %d floats", name, len(raw), n)
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return v, t.GetDims(), nil
	}
	if int64(len(t.GetFloatData())) != n {
		return nil, nil, fmt.Errorf("initializer %s: %d floats, want %d", name, len(t.GetFloatData()), n)
	}
	return slices.Clone(t.GetFloatData()), t.GetDims(), nil
}

// padding maps ONNX's explicit pads for a K×K window at stride s on an h×w
// input to TFLite's: SAME or VALID, and the explicit (before, after) pads
// a PAD op must add for VALID (nil if none). ceil is ONNX's ceil_mode.
func padding(h, w, k, s int32, pads []int64, ceil bool) (fb.Padding, [][2]int32, error) {
	if len(pads) == 0 {
		pads = []int64{0, 0, 0, 0}
	}
	if len(pads) != 4 {
		return 0, nil, fmt.Errorf("pads %v: want 4 values", pads)
	}
	for _, p := range pads {
		if p < 0 || p >= int64(k) {
			return 0, nil, fmt.Errorf("pads %v for kernel %d: want 0 ≤ pad < kernel", pads, k)
		}
	}
	type dim struct {
		in     int32
		lo, hi int32
	}
	dims := []dim{{h, int32(pads[0]), int32(pads[2])}, {w, int32(pads[1]), int32(pads[3])}}
	same, valid := true, true
	for _, d := range dims {
		num := d.in + d.lo + d.hi - k
		if num < 0 {
			return 0, nil, fmt.Errorf("kernel %d larger than the padded input %d", k, d.in+d.lo+d.hi)
		}
		out := num/s + 1
		if ceil && num%s != 0 {
			out++
		}
		sOut := (d.in + s - 1) / s
		total := max((sOut-1)*s+k-d.in, 0)
		if sOut != out || total/2 != d.lo || (!ceil && total-total/2 != d.hi) || (ceil && d.lo != 0) {
			same = false
		}
		if d.lo != 0 || d.hi != 0 || (ceil && num%s != 0) {
			valid = false
		}
	}
	switch {
	case same:
		return fb.PaddingSAME, nil, nil
	case valid:
		return fb.PaddingVALID, nil, nil
	case ceil:
		return 0, nil, fmt.Errorf("ceil_mode pooling with pads %v on %d×%d: no TFLite equivalent", pads, h, w)
	}
	return fb.PaddingVALID, [][2]int32{{0, 0}, {dims[0].lo, dims[0].hi}, {dims[1].lo, dims[1].hi}, {0, 0}}, nil
}

func outSize(in, k, s, lo, hi int32, ceil bool) int32 {
	num := in + lo + hi - k
	out := num/s + 1
	if ceil && num%s != 0 {
		out++
	}
	return out
}

// pad inserts a PAD op (zero padding) if pads is not nil.
func (c *converter) pad(x *tensor, name string, pads [][2]int32) *tensor {
	if pads == nil {
		return x
	}
	flat := make([]int32, 0, 8)
	for _, p := range pads {
		flat = append(flat, p[0], p[1])
	}
	pt := c.constInt32(name+".paddings", flat, 4, 2)
	shape := slices.Clone(x.shape)
	for i, p := range pads {
		shape[i] += p[0] + p[1]
	}
	if c.opts.Precision == INT8 && c.opts.floatPad {
		// Pad in float between DEQUANTIZE and QUANTIZE: the same values
		// (the padding zeros are exact), for runtimes whose int8 PAD
		// fills with the raw value 0 instead of the zero point.
		f := c.activation(name+".pad_in", x.shape, "")
		c.op(fb.BuiltinOperatorDEQUANTIZE, []int32{x.idx}, f, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsDequantizeOptions, Value: &fb.DequantizeOptionsT{}})
		g := c.activation(name+".pad_f", shape, "")
		c.op(fb.BuiltinOperatorPAD, []int32{f.idx, pt}, g, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsPadOptions, Value: &fb.PadOptionsT{}})
		y := c.activation(name+".pad", shape, "")
		y.lo, y.hi = min(x.lo, 0), max(x.hi, 0)
		c.setQuant(y)
		c.op(fb.BuiltinOperatorQUANTIZE, []int32{g.idx}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsQuantizeOptions, Value: &fb.QuantizeOptionsT{}})
		return y
	}
	y := c.activation(name+".pad", shape, "")
	y.lo, y.hi = min(x.lo, 0), max(x.hi, 0)
	c.setQuant(y)
	c.op(fb.BuiltinOperatorPAD, []int32{x.idx, pt}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsPadOptions, Value: &fb.PadOptionsT{}})
	return y
}

// conv converts Conv [+ BatchNormalization] [+ Relu/Clip].
func (c *converter) conv(n *onnxpb.NodeProto) error {
	ins := n.GetInput()
	if len(ins) < 2 {
		return fmt.Errorf("conv without weights")
	}
	x, err := c.in(ins[0])
	if err != nil {
		return err
	}
	if len(x.shape) != 4 {
		return fmt.Errorf("input of rank %d", len(x.shape))
	}
	w, wd, err := c.floats(ins[1])
	if err != nil {
		return err
	}
	if len(wd) != 4 || wd[2] != wd[3] {
		return fmt.Errorf("weights %v: want O×I×K×K", wd)
	}
	o, ig, k := int32(wd[0]), int32(wd[1]), int32(wd[2])
	cin := x.shape[3]
	group := int32(onnx.AttrInt(n, "group", 1))
	if group < 1 || ig*group != cin || o%group != 0 {
		return fmt.Errorf("weights %v with group %d on %d channels", wd, group, cin)
	}
	depthwise := group > 1
	if depthwise && ig != 1 {
		return fmt.Errorf("grouped conv with %d groups of %d channels: TFLite has only depthwise (group = channels)", group, ig)
	}
	if ks := onnx.AttrInts(n, "kernel_shape"); len(ks) != 0 && (len(ks) != 2 || ks[0] != int64(k) || ks[1] != int64(k)) {
		return fmt.Errorf("kernel_shape %v does not match weights %v", ks, wd)
	}
	for _, d := range onnx.AttrInts(n, "dilations") {
		if d != 1 {
			return fmt.Errorf("dilation %d: only 1 is written", d)
		}
	}
	st := onnx.AttrInts(n, "strides")
	s := int32(1)
	if len(st) != 0 {
		if len(st) != 2 || st[0] != st[1] || st[0] < 1 {
			return fmt.Errorf("strides %v: want two equal positive strides", st)
		}
		s = int32(st[0])
	}
	bias := make([]float32, o)
	if len(ins) > 2 && ins[2] != "" {
		b, _, err := c.floats(ins[2])
		if err != nil {
			return err
		}
		if len(b) != int(o) {
			return fmt.Errorf("bias of %d values for %d channels", len(b), o)
		}
		copy(bias, b)
	}
	out := out0(n)
	per := int(ig * k * k)
	// Fold a BatchNormalization that alone consumes the conv.
	if bi, bn := c.only(out, "BatchNormalization"); bn != nil {
		scale, shift, err := c.bnFold(bn, int(o))
		if err != nil {
			return fmt.Errorf("node %s: %w", bn.GetName(), err)
		}
		for oc := range int(o) {
			for j := range per {
				w[oc*per+j] *= scale[oc]
			}
			bias[oc] = bias[oc]*scale[oc] + shift[oc]
		}
		c.done[bi] = true
		out = out0(bn)
	}
	act, out, err := c.fuse(out)
	if err != nil {
		return err
	}
	pk, pads, err := padding(x.shape[1], x.shape[2], k, s, onnx.AttrInts(n, "pads"), false)
	if err != nil {
		return err
	}
	x = c.pad(x, n.GetName(), pads)
	var lo, hi int32
	if pads == nil && pk == fb.PaddingSAME {
		oh := (x.shape[1] + s - 1) / s
		ow := (x.shape[2] + s - 1) / s
		lo, hi = oh, ow
	} else {
		lo, hi = outSize(x.shape[1], k, s, 0, 0, false), outSize(x.shape[2], k, s, 0, 0, false)
	}
	y := c.activation(out, []int32{x.shape[0], lo, hi, o}, out)
	if err := c.setRange(y); err != nil {
		return err
	}
	// OIHW → OHWI (conv) or 1×K×K×O (depthwise: I = 1, O = C·multiplier):
	// dst[perm[i]] = w[i].
	perm := make([]int, len(w))
	var wshape []int32
	qdim := int32(0)
	if depthwise {
		for oc := range int(o) {
			for ky := range int(k) {
				for kx := range int(k) {
					perm[(oc*int(k)+ky)*int(k)+kx] = (ky*int(k)+kx)*int(o) + oc
				}
			}
		}
		wshape, qdim = []int32{1, k, k, o}, 3
	} else {
		for oc := range int(o) {
			for ic := range int(ig) {
				for ky := range int(k) {
					for kx := range int(k) {
						perm[((oc*int(ig)+ic)*int(k)+ky)*int(k)+kx] = ((oc*int(k)+ky)*int(k)+kx)*int(ig) + ic
					}
				}
			}
		}
		wshape = []int32{o, k, k, ig}
	}
	wi, bi, err := c.weights(n.GetName()+".weight", w, perm, wshape, qdim, true, bias, x)
	if err != nil {
		return err
	}
	if depthwise {
		c.op(fb.BuiltinOperatorDEPTHWISE_CONV_2D, []int32{x.idx, wi, bi}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsDepthwiseConv2DOptions, Value: &fb.DepthwiseConv2DOptionsT{
			Padding: pk, StrideW: s, StrideH: s, DepthMultiplier: o / cin, FusedActivationFunction: act, DilationWFactor: 1, DilationHFactor: 1,
		}})
	} else {
		c.op(fb.BuiltinOperatorCONV_2D, []int32{x.idx, wi, bi}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsConv2DOptions, Value: &fb.Conv2DOptionsT{
			Padding: pk, StrideW: s, StrideH: s, FusedActivationFunction: act, DilationWFactor: 1, DilationHFactor: 1,
		}})
	}
	return nil
}

// bnFold returns the per-channel scale and shift of an inference
// BatchNormalization: y = scale·x + shift.
func (c *converter) bnFold(n *onnxpb.NodeProto, ch int) ([]float32, []float32, error) {
	ins := n.GetInput()
	if len(ins) != 5 {
		return nil, nil, fmt.Errorf("%d inputs, want 5", len(ins))
	}
	var p [4][]float32
	for i := range 4 {
		v, _, err := c.floats(ins[i+1])
		if err != nil {
			return nil, nil, err
		}
		if len(v) != ch {
			return nil, nil, fmt.Errorf("%s: %d values for %d channels", ins[i+1], len(v), ch)
		}
		p[i] = v
	}
	eps := onnx.AttrFloat(n, "epsilon", 1e-5)
	scale, shift := make([]float32, ch), make([]float32, ch)
	for i := range ch {
		s := float64(p[0][i]) / math.Sqrt(float64(p[3][i])+float64(eps))
		scale[i] = float32(s)
		shift[i] = float32(float64(p[1][i]) - float64(p[2][i])*s)
	}
	return scale, shift, nil
}

// hardSigmoid converts HardSigmoid(α = 1/6, β = 1/2) to relu6(x + 3)·(1/6):
// ADD 3 with fused RELU6, then MUL 1/6.
func (c *converter) hardSigmoid(n *onnxpb.NodeProto) error {
	if a, b := onnx.AttrFloat(n, "alpha", 0.2), onnx.AttrFloat(n, "beta", 0.5); math.Abs(float64(a)-1.0/6) > 1e-6 || b != 0.5 {
		return fmt.Errorf("alpha %v, beta %v: only h_sigmoid (1/6, 1/2) maps to relu6(x+3)/6", a, b)
	}
	x, err := c.in(n.GetInput()[0])
	if err != nil {
		return err
	}
	three := c.constScalar(n.GetName()+".three", 3)
	t := c.activation(n.GetName()+".relu6", x.shape, "")
	t.lo, t.hi = 0, 6
	c.setQuant(t)
	c.op(fb.BuiltinOperatorADD, []int32{x.idx, three}, t, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsAddOptions, Value: &fb.AddOptionsT{FusedActivationFunction: fb.ActivationFunctionTypeRELU6}})
	sixth := c.constScalar(n.GetName()+".sixth", 1.0/6)
	y := c.activation(out0(n), x.shape, out0(n))
	y.lo, y.hi = 0, 1
	c.setQuant(y)
	c.op(fb.BuiltinOperatorMUL, []int32{t.idx, sixth}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsMulOptions, Value: &fb.MulOptionsT{}})
	return nil
}

// binary converts Add (with a fused Relu/Clip after it) and Mul.
func (c *converter) binary(n *onnxpb.NodeProto) error {
	ins := n.GetInput()
	if len(ins) != 2 {
		return fmt.Errorf("%d inputs, want 2", len(ins))
	}
	a, err := c.in(ins[0])
	if err != nil {
		return err
	}
	b, err := c.in(ins[1])
	if err != nil {
		return err
	}
	if len(a.shape) != len(b.shape) {
		return fmt.Errorf("inputs of rank %d and %d", len(a.shape), len(b.shape))
	}
	shape := make([]int32, len(a.shape))
	for i := range shape {
		switch {
		case a.shape[i] == b.shape[i], b.shape[i] == 1:
			shape[i] = a.shape[i]
		case a.shape[i] == 1:
			shape[i] = b.shape[i]
		default:
			return fmt.Errorf("shapes %v and %v do not broadcast", a.shape, b.shape)
		}
	}
	act, out, err := c.fuse(out0(n))
	if err != nil {
		return err
	}
	y := c.activation(out, shape, out)
	if err := c.setRange(y); err != nil {
		return err
	}
	if n.GetOpType() == "Add" {
		c.op(fb.BuiltinOperatorADD, []int32{a.idx, b.idx}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsAddOptions, Value: &fb.AddOptionsT{FusedActivationFunction: act}})
	} else {
		c.op(fb.BuiltinOperatorMUL, []int32{a.idx, b.idx}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsMulOptions, Value: &fb.MulOptionsT{FusedActivationFunction: act}})
	}
	return nil
}

// pool converts MaxPool and AveragePool.
func (c *converter) pool(n *onnxpb.NodeProto) error {
	x, err := c.in(n.GetInput()[0])
	if err != nil {
		return err
	}
	ks, st := onnx.AttrInts(n, "kernel_shape"), onnx.AttrInts(n, "strides")
	if len(ks) != 2 || ks[0] != ks[1] || ks[0] < 1 {
		return fmt.Errorf("kernel_shape %v: want two equal positive sizes", ks)
	}
	k, s := int32(ks[0]), int32(1)
	if len(st) != 0 {
		if len(st) != 2 || st[0] != st[1] || st[0] < 1 {
			return fmt.Errorf("strides %v: want two equal positive strides", st)
		}
		s = int32(st[0])
	}
	ceil := onnx.AttrInt(n, "ceil_mode", 0) == 1
	pk, pads, err := padding(x.shape[1], x.shape[2], k, s, onnx.AttrInts(n, "pads"), ceil)
	if err != nil {
		return err
	}
	op := fb.BuiltinOperatorMAX_POOL_2D
	if n.GetOpType() == "AveragePool" {
		op = fb.BuiltinOperatorAVERAGE_POOL_2D
		if pads != nil {
			return fmt.Errorf("average pool with pads %v: no TFLite equivalent", onnx.AttrInts(n, "pads"))
		}
	} else if pads != nil && !c.nonNegative(n.GetInput()[0]) {
		// PAD adds zeros where ONNX pads with -∞: the same maximum only
		// when the input is never negative (after a ReLU).
		return fmt.Errorf("max pool with pads %v after a non-ReLU: TFLite would need PADV2(-inf)", onnx.AttrInts(n, "pads"))
	}
	x = c.pad(x, n.GetName(), pads)
	var oh, ow int32
	if pk == fb.PaddingSAME && pads == nil {
		oh, ow = (x.shape[1]+s-1)/s, (x.shape[2]+s-1)/s
	} else {
		oh, ow = outSize(x.shape[1], k, s, 0, 0, false), outSize(x.shape[2], k, s, 0, 0, false)
	}
	y := c.activation(out0(n), []int32{x.shape[0], oh, ow, x.shape[3]}, out0(n))
	// int8 pools keep the input's scale and zero point (TFLite's kernels
	// require it; the outputs stay within the input's range).
	y.lo, y.hi = x.lo, x.hi
	c.setQuant(y)
	c.op(op, []int32{x.idx}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsPool2DOptions, Value: &fb.Pool2DOptionsT{
		Padding: pk, StrideW: s, StrideH: s, FilterWidth: k, FilterHeight: k,
	}})
	return nil
}

// nonNegative says whether the ONNX tensor name is the output of a ReLU or
// relu6 (possibly fused into its producer).
func (c *converter) nonNegative(name string) bool {
	for _, n := range c.g.GetNode() {
		if slices.Contains(n.GetOutput(), name) {
			return n.GetOpType() == "Relu" || n.GetOpType() == "Clip"
		}
	}
	return false
}

// gemm converts Gemm(transB = 1) to FULLY_CONNECTED.
func (c *converter) gemm(n *onnxpb.NodeProto) error {
	ins := n.GetInput()
	if len(ins) < 2 {
		return fmt.Errorf("gemm without weights")
	}
	if onnx.AttrInt(n, "transB", 0) != 1 || onnx.AttrInt(n, "transA", 0) != 0 || onnx.AttrFloat(n, "alpha", 1) != 1 || onnx.AttrFloat(n, "beta", 1) != 1 {
		return fmt.Errorf("only Gemm(transB = 1, alpha = beta = 1) maps to FULLY_CONNECTED")
	}
	x, err := c.in(ins[0])
	if err != nil {
		return err
	}
	w, wd, err := c.floats(ins[1])
	if err != nil {
		return err
	}
	if len(wd) != 2 || len(x.shape) != 2 || int32(wd[1]) != x.shape[1] {
		return fmt.Errorf("weights %v on input %v", wd, x.shape)
	}
	o := int32(wd[0])
	bias := make([]float32, o)
	if len(ins) > 2 && ins[2] != "" {
		b, _, err := c.floats(ins[2])
		if err != nil {
			return err
		}
		if len(b) != int(o) {
			return fmt.Errorf("bias of %d values for %d outputs", len(b), o)
		}
		copy(bias, b)
	}
	act, out, err := c.fuse(out0(n))
	if err != nil {
		return err
	}
	y := c.activation(out, []int32{x.shape[0], o}, out)
	if err := c.setRange(y); err != nil {
		return err
	}
	wi, bi, err := c.weights(n.GetName()+".weight", w, nil, []int32{o, x.shape[1]}, 0, false, bias, x)
	if err != nil {
		return err
	}
	c.op(fb.BuiltinOperatorFULLY_CONNECTED, []int32{x.idx, wi, bi}, y, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsFullyConnectedOptions, Value: &fb.FullyConnectedOptionsT{FusedActivationFunction: act}})
	return nil
}

// activation adds a non-constant tensor (float32, or int8 in int8 mode once
// setRange or setQuant gives it its range) named name that equals the ONNX
// tensor onnxName ("" for one of the converter's own).
func (c *converter) activation(name string, shape []int32, onnxName string) *tensor {
	c.tensors = append(c.tensors, &fb.TensorT{Shape: slices.Clone(shape), Type: fb.TensorTypeFLOAT32, Name: name})
	t := &tensor{idx: int32(len(c.tensors) - 1), shape: slices.Clone(shape), onnx: onnxName}
	if onnxName != "" {
		c.vals[onnxName] = t
	}
	return t
}

// constant adds a tensor with data.
func (c *converter) constant(name string, typ fb.TensorType, shape []int32, data []byte, q *fb.QuantizationParametersT) int32 {
	c.buffers = append(c.buffers, &fb.BufferT{Data: data})
	c.tensors = append(c.tensors, &fb.TensorT{Shape: shape, Type: typ, Buffer: uint32(len(c.buffers) - 1), Name: name, Quantization: q})
	return int32(len(c.tensors) - 1)
}

func (c *converter) constInt32(name string, v []int32, shape ...int32) int32 {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return c.constant(name, fb.TensorTypeINT32, shape, b, nil)
}

// constFloat adds a float constant operand: float32, or float16 followed by
// a DEQUANTIZE in fp16 mode.
func (c *converter) constFloat(name string, v []float32, shape []int32) int32 {
	if c.opts.Precision == FP16 {
		h := make([]byte, 2*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint16(h[2*i:], quant.Float16(x))
		}
		ci := c.constant(name+".fp16", fb.TensorTypeFLOAT16, shape, h, nil)
		d := c.activation(name, shape, "")
		c.op(fb.BuiltinOperatorDEQUANTIZE, []int32{ci}, d, &fb.BuiltinOptionsT{Type: fb.BuiltinOptionsDequantizeOptions, Value: &fb.DequantizeOptionsT{}})
		return d.idx
	}
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return c.constant(name, fb.TensorTypeFLOAT32, shape, b, nil)
}

// op appends an operator writing y.
func (c *converter) op(code fb.BuiltinOperator, ins []int32, y *tensor, opts *fb.BuiltinOptionsT) {
	idx, ok := c.codeIdx[code]
	if !ok {
		idx = uint32(len(c.codes))
		c.codeIdx[code] = idx
		c.codes = append(c.codes, &fb.OperatorCodeT{BuiltinCode: code, Version: c.opVersion(code)})
	}
	c.ops = append(c.ops, &fb.OperatorT{OpcodeIndex: idx, Inputs: ins, Outputs: []int32{y.idx}, BuiltinOptions: opts})
}

// opVersion is the operator version TFLite's converter writes for the
// float or int8 kernel of code.
func (c *converter) opVersion(code fb.BuiltinOperator) int32 {
	if c.opts.Precision != INT8 {
		if code == fb.BuiltinOperatorDEQUANTIZE && c.opts.Precision == FP16 {
			return 3 // float16 input
		}
		return 1
	}
	switch code {
	case fb.BuiltinOperatorCONV_2D, fb.BuiltinOperatorDEPTHWISE_CONV_2D:
		return 3
	case fb.BuiltinOperatorFULLY_CONNECTED:
		return 4
	case fb.BuiltinOperatorHARD_SWISH, fb.BuiltinOperatorRESHAPE:
		return 1
	}
	return 2
}

func dimsOf(vi *onnxpb.ValueInfoProto) []int64 {
	var d []int64
	for _, x := range vi.GetType().GetTensorType().GetShape().GetDim() {
		d = append(d, x.GetDimValue())
	}
	return d
}
