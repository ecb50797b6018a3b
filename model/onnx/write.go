package onnx

import (
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"blockprof/model/onnx/onnxpb"
)

// Field numbers of the ONNX messages the writer splits around.
const (
	modelGraph       = 7 // ModelProto.graph
	graphInitializer = 5 // GraphProto.initializer
	tensorRawData    = 9 // TensorProto.raw_data
)

// marshal writes m, which build made with g.lazy set, into one buffer of
// its final size: the small messages through proto.MarshalAppend, the
// pooled weights copied from their pools straight into place. The bytes
// equal a deterministic proto.Marshal of the model Build gives: fields in
// number order, the initializers where field 5 falls among the graph's.
func (g *graph) marshal(m *onnxpb.ModelProto, alloc func(int) []byte) ([]byte, error) {
	mo := proto.MarshalOptions{Deterministic: true}
	modelA, modelB := split(m, modelGraph)
	graphA, graphB := split(m.GetGraph(), graphInitializer)
	inits := m.GetGraph().GetInitializer()
	type tensor struct {
		head, tail   proto.Message // the fields before and after raw_data
		size, hs, ts int
		f            fill
	}
	ts := make([]tensor, len(inits))
	graphSize := mo.Size(graphA) + mo.Size(graphB)
	for i, t := range inits {
		x := &ts[i]
		if i < len(g.fills) {
			x.f = g.fills[i]
		}
		if x.f.n == 0 {
			x.head = t
			x.hs = mo.Size(t)
			x.size = x.hs
		} else {
			if t.RawData != nil {
				return nil, fmt.Errorf("initializer %q has both raw data and a pool", t.GetName())
			}
			x.head, x.tail = split(t, tensorRawData)
			x.hs, x.ts = mo.Size(x.head), mo.Size(x.tail)
			x.size = x.hs + protowire.SizeTag(tensorRawData) + protowire.SizeBytes(x.f.n) + x.ts
		}
		graphSize += protowire.SizeTag(graphInitializer) + protowire.SizeBytes(x.size)
	}
	total := mo.Size(modelA) + protowire.SizeTag(modelGraph) + protowire.SizeBytes(graphSize) + mo.Size(modelB)

	var b []byte
	if alloc == nil {
		b = make([]byte, 0, total)
	} else if b = alloc(total); cap(b) < total {
		return nil, fmt.Errorf("the buffer for %d bytes holds %d", total, cap(b))
	}
	b = b[:0]
	start := &b[:1][0]
	var err error
	appendMsg := func(m proto.Message) {
		if err == nil && m != nil {
			b, err = mo.MarshalAppend(b, m)
		}
	}
	appendMsg(modelA)
	b = protowire.AppendTag(b, modelGraph, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(graphSize))
	appendMsg(graphA)
	for i := range ts {
		x := &ts[i]
		b = protowire.AppendTag(b, graphInitializer, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(x.size))
		appendMsg(x.head)
		if x.f.n > 0 {
			b = protowire.AppendTag(b, tensorRawData, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(x.f.n))
			b = x.f.write(b)
			appendMsg(x.tail)
		}
	}
	appendMsg(graphB)
	appendMsg(modelB)
	if err != nil {
		return nil, err
	}
	if len(b) != total || &b[0] != start {
		return nil, fmt.Errorf("wrote %d bytes, computed %d", len(b), total)
	}
	return b, nil
}

// split returns shallow copies of m: one with its fields numbered below n,
// one with those above (field n itself is in neither).
func split(m proto.Message, n protowire.Number) (below, above proto.Message) {
	src := m.ProtoReflect()
	lo, hi := src.New(), src.New()
	src.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.Number() < n:
			lo.Set(fd, v)
		case fd.Number() > n:
			hi.Set(fd, v)
		}
		return true
	})
	return lo.Interface(), hi.Interface()
}
