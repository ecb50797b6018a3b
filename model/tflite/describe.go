package tflite

import (
	"encoding/json"
	"fmt"
	"strings"

	flatbuffers "github.com/google/flatbuffers/go"

	fb "blockprof/model/tflite/tflitefb"
)

// maxDescribed bounds the tensor references Describe formats, so that a
// small hostile file cannot make it build a huge text.
const maxDescribed = 1 << 20

// Read checks that data is a one-subgraph TFLite flatbuffer and returns its
// "blockprof" metadata (zero if it has none). It reads through the
// flatbuffer accessors without unpacking whole vectors, so a corrupt file
// gives an error, never a panic or a huge allocation.
func Read(data []byte) (meta Metadata, err error) {
	defer func() {
		// The flatbuffers runtime indexes without checks of its own: a
		// corrupt offset makes it panic.
		if r := recover(); r != nil {
			meta, err = Metadata{}, fmt.Errorf("tflite: corrupt flatbuffer: %v", r)
		}
	}()
	m, err := root(data)
	if err != nil {
		return meta, err
	}
	var md fb.Metadata
	for i := range m.MetadataLength() {
		if !m.Metadata(&md, i) || string(md.Name()) != MetadataName {
			continue
		}
		var buf fb.Buffer
		if int(md.Buffer()) >= m.BuffersLength() || !m.Buffers(&buf, int(md.Buffer())) {
			return meta, fmt.Errorf("tflite: metadata %s: buffer %d of %d", MetadataName, md.Buffer(), m.BuffersLength())
		}
		if err := json.Unmarshal(buf.DataBytes(), &meta); err != nil {
			return meta, fmt.Errorf("tflite: metadata %s: %w", MetadataName, err)
		}
	}
	return meta, nil
}

func root(data []byte) (*fb.Model, error) {
	if len(data) < 8 || string(data[4:8]) != "TFL3" {
		return nil, fmt.Errorf("tflite: not a TFLite model (no TFL3 file identifier)")
	}
	m := fb.GetRootAsModel(data, 0)
	if n := m.SubgraphsLength(); n != 1 {
		return nil, fmt.Errorf("tflite: %d subgraphs, want 1", n)
	}
	return m, nil
}

// Describe lists a model's operators with their inputs' and outputs' shapes
// and types, one line each, then the operator counts: the structure of the
// model without its weights (for golden tests and for reading a file).
func Describe(data []byte) (out string, err error) {
	meta, err := Read(data)
	if err != nil {
		return "", err
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("tflite: corrupt flatbuffer: %v", r)
		}
	}()
	m, _ := root(data)
	var sg fb.SubGraph
	m.Subgraphs(&sg, 0)
	budget := maxDescribed
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", m.Description())
	fmt.Fprintf(&b, "metadata: space=%s arch=%s resolution=%d batch=%d seed=%d precision=%s\n", meta.Space, meta.Arch, meta.Resolution, meta.Batch, meta.Seed, meta.Precision)
	var t fb.Tensor
	var q fb.QuantizationParameters
	tname := func(i int32) string {
		if i < 0 || int(i) >= sg.TensorsLength() || !sg.Tensors(&t, int(i)) {
			return fmt.Sprintf("<bad tensor %d>", i)
		}
		shape := make([]int32, min(t.ShapeLength(), 8))
		for j := range shape {
			shape[j] = t.Shape(j)
		}
		s := fmt.Sprintf("%s%v", strings.ToLower(fb.EnumNamesTensorType[t.Type()]), shape)
		if t.ShapeLength() > len(shape) {
			s += fmt.Sprintf("(rank %d)", t.ShapeLength())
		}
		if t.Buffer() != 0 {
			s = "const " + s
		}
		if t.Quantization(&q) != nil && q.ScaleLength() > 0 {
			if q.ScaleLength() > 1 {
				s += fmt.Sprintf(" q[%d scales, dim %d]", q.ScaleLength(), q.QuantizedDimension())
			} else {
				s += " q"
			}
		}
		return s
	}
	list := func(n int, at func(int) int32) (string, error) {
		if budget -= n; budget < 0 {
			return "", fmt.Errorf("tflite: more than %d tensor references: not described", maxDescribed)
		}
		s := make([]string, n)
		for i := range s {
			s[i] = tname(at(i))
		}
		return strings.Join(s, ", "), nil
	}
	ins, err := list(sg.InputsLength(), sg.Inputs)
	if err != nil {
		return "", err
	}
	outs, err := list(sg.OutputsLength(), sg.Outputs)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "inputs: %s\noutputs: %s\n", ins, outs)
	counts := map[string]int{}
	var order []string
	var op fb.Operator
	var oc fb.OperatorCode
	for i := range sg.OperatorsLength() {
		if budget--; budget < 0 || !sg.Operators(&op, i) {
			return "", fmt.Errorf("tflite: operator %d: unreadable or too many", i)
		}
		if int(op.OpcodeIndex()) >= m.OperatorCodesLength() || !m.OperatorCodes(&oc, int(op.OpcodeIndex())) {
			return "", fmt.Errorf("tflite: operator %d: opcode %d of %d", i, op.OpcodeIndex(), m.OperatorCodesLength())
		}
		name, ok := fb.EnumNamesBuiltinOperator[oc.BuiltinCode()]
		if !ok {
			name = fmt.Sprintf("OP%d", oc.BuiltinCode())
		}
		if counts[name] == 0 {
			order = append(order, name)
		}
		counts[name]++
		oi, err := list(op.InputsLength(), op.Inputs)
		if err != nil {
			return "", err
		}
		oo, err := list(op.OutputsLength(), op.Outputs)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%3d %s%s: %s -> %s\n", i, name, options(&op), oi, oo)
	}
	b.WriteString("counts:")
	for _, n := range order {
		fmt.Fprintf(&b, " %s=%d", n, counts[n])
	}
	fmt.Fprintf(&b, "\ntensors: %d, buffers: %d\n", sg.TensorsLength(), m.BuffersLength())
	return b.String(), nil
}

func options(op *fb.Operator) string {
	var tb flatbuffers.Table
	if !op.BuiltinOptions(&tb) {
		return ""
	}
	act := func(a fb.ActivationFunctionType) string {
		if a == fb.ActivationFunctionTypeNONE {
			return ""
		}
		return " " + fb.EnumNamesActivationFunctionType[a]
	}
	switch op.BuiltinOptionsType() {
	case fb.BuiltinOptionsConv2DOptions:
		var v fb.Conv2DOptions
		v.Init(tb.Bytes, tb.Pos)
		return fmt.Sprintf("(%s s%d%s)", fb.EnumNamesPadding[v.Padding()], v.StrideH(), act(v.FusedActivationFunction()))
	case fb.BuiltinOptionsDepthwiseConv2DOptions:
		var v fb.DepthwiseConv2DOptions
		v.Init(tb.Bytes, tb.Pos)
		return fmt.Sprintf("(%s s%d m%d%s)", fb.EnumNamesPadding[v.Padding()], v.StrideH(), v.DepthMultiplier(), act(v.FusedActivationFunction()))
	case fb.BuiltinOptionsPool2DOptions:
		var v fb.Pool2DOptions
		v.Init(tb.Bytes, tb.Pos)
		return fmt.Sprintf("(%s k%d s%d)", fb.EnumNamesPadding[v.Padding()], v.FilterHeight(), v.StrideH())
	case fb.BuiltinOptionsAddOptions:
		var v fb.AddOptions
		v.Init(tb.Bytes, tb.Pos)
		return "(" + strings.TrimSpace(act(v.FusedActivationFunction())) + ")"
	case fb.BuiltinOptionsMulOptions:
		var v fb.MulOptions
		v.Init(tb.Bytes, tb.Pos)
		return "(" + strings.TrimSpace(act(v.FusedActivationFunction())) + ")"
	case fb.BuiltinOptionsFullyConnectedOptions:
		var v fb.FullyConnectedOptions
		v.Init(tb.Bytes, tb.Pos)
		return "(" + strings.TrimSpace(act(v.FusedActivationFunction())) + ")"
	}
	return ""
}
