package onnx

import (
	"fmt"
	"io"

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

// marshal writes m, which build made with g.lazy set, in one sequential
// pass: the small messages through proto.MarshalAppend, the pooled weights
// straight from their pools. open is called once, with the model's final
// size, before anything is written, and gives the writer to write to. The
// bytes equal a deterministic proto.Marshal of the model Build gives:
// fields in number order, the initializers where field 5 falls among the
// graph's. It returns the number of bytes written.
func (g *graph) marshal(m *onnxpb.ModelProto, open func(total int) (io.Writer, error)) (int, error) {
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
				return 0, fmt.Errorf("initializer %q has both raw data and a pool", t.GetName())
			}
			x.head, x.tail = split(t, tensorRawData)
			x.hs, x.ts = mo.Size(x.head), mo.Size(x.tail)
			x.size = x.hs + protowire.SizeTag(tensorRawData) + protowire.SizeBytes(x.f.n) + x.ts
		}
		graphSize += protowire.SizeTag(graphInitializer) + protowire.SizeBytes(x.size)
	}
	total := mo.Size(modelA) + protowire.SizeTag(modelGraph) + protowire.SizeBytes(graphSize) + mo.Size(modelB)
	w, err := open(total)
	if err != nil {
		return 0, err
	}
	// The small messages go through b, which is written out before each
	// pooled tensor's bytes and at the end.
	out := &sink{w: w}
	var b []byte
	flush := func() {
		out.write(b)
		b = b[:0]
	}
	appendMsg := func(m proto.Message) {
		if out.err == nil && m != nil {
			b, out.err = mo.MarshalAppend(b, m)
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
			flush()
			x.f.writeTo(out)
			appendMsg(x.tail)
		}
	}
	appendMsg(graphB)
	appendMsg(modelB)
	flush()
	if out.err != nil {
		return out.n, out.err
	}
	if out.n != total {
		return out.n, fmt.Errorf("wrote %d bytes, computed %d", out.n, total)
	}
	return total, nil
}

// sink counts what is written to w and keeps the first error, after which
// it writes nothing.
type sink struct {
	w   io.Writer
	n   int
	err error
}

func (s *sink) write(p []byte) {
	if s.err != nil || len(p) == 0 {
		return
	}
	n, err := s.w.Write(p)
	s.n += n
	s.err = err
}

// writeTo writes the tensor's raw data to s, a window of its pool at a
// time.
func (f fill) writeTo(s *sink) {
	for w := range f.windows {
		if s.write(w); s.err != nil {
			return
		}
	}
}

// fixedWriter appends to a slice whose capacity is the model's size.
type fixedWriter struct{ b []byte }

func (w *fixedWriter) Write(p []byte) (int, error) {
	if len(w.b)+len(p) > cap(w.b) {
		return 0, fmt.Errorf("the model is larger than the %d bytes computed", cap(w.b))
	}
	w.b = append(w.b, p...)
	return len(p), nil
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
