package quantize

import (
	"encoding/binary"
	"fmt"

	"google.golang.org/protobuf/proto"

	"blockprof/model/onnx"
	"blockprof/model/onnx/infer"
	"blockprof/model/onnx/onnxpb"
	"blockprof/model/quant"
)

// Float16Recipe is the recipe recorded in an fp16 model's metadata.
const Float16Recipe = "all float initializers and computation fp16 (round to nearest even); " +
	"input and output stay float32 through Cast nodes (keep_io_types), as onnxconverter_common's float16 conversion"

// Float16 returns m with every float initializer converted to float16 and
// every node computing in float16; a Cast after the graph input and one
// before the graph output keep the model's interface float32. m is not
// changed.
func Float16(m *onnxpb.ModelProto) (*onnxpb.ModelProto, error) {
	m = proto.Clone(m).(*onnxpb.ModelProto)
	g := m.GetGraph()
	for i, t := range g.GetInitializer() {
		if onnxpb.TensorProto_DataType(t.GetDataType()) != onnxpb.TensorProto_FLOAT {
			continue
		}
		v, err := infer.Decode(t)
		if err != nil {
			return nil, fmt.Errorf("fp16 conversion: initializer %q: %w", t.GetName(), err)
		}
		raw := make([]byte, 2*len(v.Data))
		for j, x := range v.Data {
			binary.LittleEndian.PutUint16(raw[2*j:], quant.Float16(x))
		}
		g.Initializer[i] = &onnxpb.TensorProto{Name: t.Name, Dims: t.Dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT16)), RawData: raw}
	}
	to := func(dt onnxpb.TensorProto_DataType) *onnxpb.AttributeProto {
		return onnx.IntAttr("to", int64(dt))
	}
	var nodes []*onnxpb.NodeProto
	for _, in := range g.GetInput() {
		x := in.GetName()
		nodes = append(nodes, node("Cast", x+"_to_fp16", []string{x}, []string{x + "_fp16"}, to(onnxpb.TensorProto_FLOAT16)))
		for _, n := range g.GetNode() {
			for i, name := range n.GetInput() {
				if name == x {
					n.Input[i] = x + "_fp16"
				}
			}
		}
	}
	nodes = append(nodes, g.GetNode()...)
	for _, o := range g.GetOutput() {
		y := o.GetName()
		for _, n := range g.GetNode() {
			for i, name := range n.GetOutput() {
				if name == y {
					n.Output[i] = y + "_fp16"
				}
			}
		}
		nodes = append(nodes, node("Cast", y+"_to_fp32", []string{y + "_fp16"}, []string{y}, to(onnxpb.TensorProto_FLOAT)))
	}
	g.Node = nodes
	SetMeta(m, "precision", "fp16")
	SetMeta(m, "quantization", Float16Recipe)
	return m, nil
}
