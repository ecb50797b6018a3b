package tflite

import (
	"encoding/json"
	"fmt"
	"strings"

	fb "blockprof/model/tflite/tflitefb"
)

// Read checks that data is a TFLite flatbuffer blockprof can describe and
// returns its metadata. It never panics on malformed input.
func Read(data []byte) (m *fb.ModelT, meta Metadata, err error) {
	defer func() {
		// The flatbuffers runtime indexes without bounds checks of its own:
		// a corrupt file makes it panic.
		if r := recover(); r != nil {
			m, err = nil, fmt.Errorf("tflite: corrupt flatbuffer: %v", r)
		}
	}()
	if len(data) < 8 || string(data[4:8]) != "TFL3" {
		return nil, meta, fmt.Errorf("tflite: not a TFLite model (no TFL3 file identifier)")
	}
	m = fb.GetRootAsModel(data, 0).UnPack()
	if len(m.Subgraphs) != 1 {
		return nil, meta, fmt.Errorf("tflite: %d subgraphs, want 1", len(m.Subgraphs))
	}
	for _, md := range m.Metadata {
		if md.Name != MetadataName {
			continue
		}
		if int(md.Buffer) >= len(m.Buffers) {
			return nil, meta, fmt.Errorf("tflite: metadata %s: buffer %d of %d", md.Name, md.Buffer, len(m.Buffers))
		}
		if err := json.Unmarshal(m.Buffers[md.Buffer].Data, &meta); err != nil {
			return nil, meta, fmt.Errorf("tflite: metadata %s: %w", md.Name, err)
		}
	}
	return m, meta, nil
}

// Describe lists a model's operators with their inputs' and outputs' shapes
// and types, one line each, then the operator counts: the structure of the
// model without its weights (for golden tests and for reading a file).
func Describe(data []byte) (string, error) {
	m, meta, err := Read(data)
	if err != nil {
		return "", err
	}
	sg := m.Subgraphs[0]
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n", m.Description)
	fmt.Fprintf(&b, "metadata: space=%s arch=%s resolution=%d batch=%d seed=%d precision=%s\n", meta.Space, meta.Arch, meta.Resolution, meta.Batch, meta.Seed, meta.Precision)
	tname := func(i int32) string {
		if i < 0 || int(i) >= len(sg.Tensors) {
			return fmt.Sprintf("<bad tensor %d>", i)
		}
		t := sg.Tensors[i]
		s := fmt.Sprintf("%s%v", strings.ToLower(fb.EnumNamesTensorType[t.Type]), t.Shape)
		if t.Buffer != 0 {
			s = "const " + s
		}
		if q := t.Quantization; q != nil && len(q.Scale) > 0 {
			if len(q.Scale) > 1 {
				s += fmt.Sprintf(" q[%d scales, dim %d]", len(q.Scale), q.QuantizedDimension)
			} else {
				s += " q"
			}
		}
		return s
	}
	fmt.Fprintf(&b, "inputs: %s\n", joinT(sg.Inputs, tname))
	fmt.Fprintf(&b, "outputs: %s\n", joinT(sg.Outputs, tname))
	counts := map[string]int{}
	var order []string
	for i, op := range sg.Operators {
		if int(op.OpcodeIndex) >= len(m.OperatorCodes) {
			return "", fmt.Errorf("tflite: operator %d: opcode %d of %d", i, op.OpcodeIndex, len(m.OperatorCodes))
		}
		name := fb.EnumNamesBuiltinOperator[m.OperatorCodes[op.OpcodeIndex].BuiltinCode]
		if counts[name] == 0 {
			order = append(order, name)
		}
		counts[name]++
		extra := ""
		if o := op.BuiltinOptions; o != nil {
			extra = options(o)
		}
		fmt.Fprintf(&b, "%3d %s%s: %s -> %s\n", i, name, extra, joinT(op.Inputs, tname), joinT(op.Outputs, tname))
	}
	b.WriteString("counts:")
	for _, n := range order {
		fmt.Fprintf(&b, " %s=%d", n, counts[n])
	}
	fmt.Fprintf(&b, "\ntensors: %d, buffers: %d\n", len(sg.Tensors), len(m.Buffers))
	return b.String(), nil
}

func joinT(idx []int32, name func(int32) string) string {
	s := make([]string, len(idx))
	for i, x := range idx {
		s[i] = name(x)
	}
	return strings.Join(s, ", ")
}

func options(o *fb.BuiltinOptionsT) string {
	act := func(a fb.ActivationFunctionType) string {
		if a == fb.ActivationFunctionTypeNONE {
			return ""
		}
		return " " + fb.EnumNamesActivationFunctionType[a]
	}
	switch v := o.Value.(type) {
	case *fb.Conv2DOptionsT:
		return fmt.Sprintf("(%s s%d%s)", fb.EnumNamesPadding[v.Padding], v.StrideH, act(v.FusedActivationFunction))
	case *fb.DepthwiseConv2DOptionsT:
		return fmt.Sprintf("(%s s%d m%d%s)", fb.EnumNamesPadding[v.Padding], v.StrideH, v.DepthMultiplier, act(v.FusedActivationFunction))
	case *fb.Pool2DOptionsT:
		return fmt.Sprintf("(%s k%d s%d)", fb.EnumNamesPadding[v.Padding], v.FilterHeight, v.StrideH)
	case *fb.AddOptionsT:
		return "(" + strings.TrimSpace(act(v.FusedActivationFunction)) + ")"
	case *fb.MulOptionsT:
		return "(" + strings.TrimSpace(act(v.FusedActivationFunction)) + ")"
	case *fb.FullyConnectedOptionsT:
		return "(" + strings.TrimSpace(act(v.FusedActivationFunction)) + ")"
	}
	return ""
}
