package tflite_test

import (
	"testing"

	"blockprof/model/modeltest"
	"blockprof/model/tflite"
)

// BenchmarkExport writes the largest network of each space (max arch at
// its largest resolution) in fp32 and fp16, and MBv3 w1.0's in int8 (its
// calibration, a separate step, not timed): time and bytes per model.
func BenchmarkExport(b *testing.B) {
	ss := modeltest.Spaces(b)
	for _, name := range ss.Names() {
		s, err := ss.Get(name)
		if err != nil {
			b.Fatal(err)
		}
		net, err := s.Network(s.MaxArch(s.Resolutions[len(s.Resolutions)-1]))
		if err != nil {
			b.Fatal(err)
		}
		precs := []tflite.Precision{tflite.FP32, tflite.FP16}
		if name == "ofa-mbv3-w1.0" {
			precs = append(precs, tflite.INT8)
		}
		for _, p := range precs {
			b.Run(name+"/"+string(p), func(b *testing.B) {
				opts := tflite.Options{Seed: 1, Precision: p}
				if p == tflite.INT8 {
					opts.Calib = calib(b, net, 1)
				}
				var n int
				for b.Loop() {
					data, err := tflite.Export(net, opts)
					if err != nil {
						b.Fatal(err)
					}
					n = len(data)
				}
				b.SetBytes(int64(n))
				b.ReportMetric(float64(n)/1e6, "MB/model")
			})
		}
	}
}
