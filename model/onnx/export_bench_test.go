package onnx_test

import (
	"testing"

	"blockprof/model/onnx"
)

// BenchmarkExport exports the largest ofa-mbv3-w1.0 network at 224: the
// export is part of each measurement's overhead on the ort device.
func BenchmarkExport(b *testing.B) {
	s, err := spaces(b).Get("ofa-mbv3-w1.0")
	if err != nil {
		b.Fatal(err)
	}
	net, err := s.Network(s.MaxArch(224))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		data, err := onnx.Export(net, onnx.Options{Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
	}
}
