package infer_test

import (
	"context"
	"testing"

	"blockprof/model/modeltest"
	"blockprof/model/onnx"
	"blockprof/model/onnx/infer"
)

// BenchmarkCalibrate times calibration on DefaultSamples random inputs of
// the largest arch of a space at 224 px.
func BenchmarkCalibrate(b *testing.B) {
	for _, space := range []string{"ofa-mbv3", "ofa-resnet50"} {
		b.Run(space, func(b *testing.B) {
			s := modeltest.Space(b, space)
			net, err := s.Network(s.MaxArch(224))
			if err != nil {
				b.Fatal(err)
			}
			m, err := onnx.Build(net, onnx.Options{Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			md, err := infer.New(m)
			if err != nil {
				b.Fatal(err)
			}
			ins := infer.RandomInputs(md.InputShape(), infer.DefaultSamples, 1)
			for b.Loop() {
				if _, err := infer.Calibrate(context.Background(), md, ins); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
