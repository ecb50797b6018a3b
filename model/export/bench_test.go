package export_test

import (
	"context"
	"testing"

	"blockprof/model/export"
	"blockprof/model/modeltest"
)

// BenchmarkExport writes the largest arch of each space at 224 px in each
// precision; bytes/op is the file size.
func BenchmarkExport(b *testing.B) {
	w := export.New()
	for _, space := range []string{"ofa-mbv3", "ofa-pn-w1.3", "ofa-resnet50"} {
		sp := modeltest.Space(b, space)
		net, err := sp.Network(sp.MaxArch(224))
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range []string{"fp32", "fp16", "int8"} {
			b.Run(space+"/"+p, func(b *testing.B) {
				var n int
				for b.Loop() {
					data, err := w.Write(context.Background(), net, export.Request{Format: "onnx", Precision: p, Seed: 1})
					if err != nil {
						b.Fatal(err)
					}
					n = len(data)
				}
				b.ReportMetric(float64(n), "file-bytes")
			})
		}
	}
}
