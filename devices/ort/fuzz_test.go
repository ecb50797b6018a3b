package ort

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"blockprof/model/onnx/onnxpb"
)

// FuzzGraphIO feeds arbitrary bytes to the ModelProto reader that
// NewSession runs before ONNX Runtime sees a model: it must return an error
// or inputs and outputs that round-trip, never panic.
func FuzzGraphIO(f *testing.F) {
	f.Add(newTinyNet().model(f))
	f.Add([]byte{})
	f.Add([]byte("not a model"))
	f.Add([]byte{0x3a, 0x05, 0x5a, 0x03, 0x0a, 0x01, 'x'}) // graph{input{name:"x"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, outs, err := graphIO(data)
		if err != nil {
			return
		}
		if len(ins) == 0 || len(outs) == 0 {
			t.Fatalf("no error but %d inputs, %d outputs", len(ins), len(outs))
		}
		for _, vi := range append(ins, outs...) {
			b, err := proto.Marshal(vi)
			if err != nil {
				t.Fatal(err)
			}
			var back onnxpb.ValueInfoProto
			if err := proto.Unmarshal(b, &back); err != nil || !proto.Equal(vi, &back) {
				t.Fatalf("value info does not round-trip: %v", err)
			}
			_, _ = tensorShape(vi, 1)
		}
	})
}
