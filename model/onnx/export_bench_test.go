package onnx_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"blockprof/model/onnx"
)

// BenchmarkExport exports every space's smallest arch at its smallest
// resolution and largest arch at its largest (extremes): the export is part
// of each measurement's overhead on the ort device (docs/benchmarks.md).
func BenchmarkExport(b *testing.B) {
	for _, tc := range extremes(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				data, err := onnx.Export(tc.net, onnx.Options{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(data)))
			}
		})
	}
}

// BenchmarkExportViaBuild is the path Export took before it wrote the bytes
// itself: Build, then a deterministic proto.Marshal of the ModelProto.
func BenchmarkExportViaBuild(b *testing.B) {
	for _, tc := range extremes(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m, err := onnx.Build(tc.net, onnx.Options{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				data, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(data)))
			}
		})
	}
}

// BenchmarkWriteFile is the ort device's export: Write streaming the model
// to a file (in the benchmark's temporary directory, truncated before each
// export), which ONNX Runtime then loads.
func BenchmarkWriteFile(b *testing.B) {
	for _, tc := range extremes(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			f, err := os.Create(filepath.Join(b.TempDir(), "model.onnx"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			for b.Loop() {
				if err := f.Truncate(0); err != nil {
					b.Fatal(err)
				}
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					b.Fatal(err)
				}
				w, err := onnx.Write(f, tc.net, onnx.Options{Seed: 1})
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(w.Size)
			}
		})
	}
}

// BenchmarkWriteExternal is the ort device's export: the graph with batch
// normalisation folded, written to a file, its weights windows of a weight
// file (grown by the first export, then reused as on the device).
func BenchmarkWriteExternal(b *testing.B) {
	for _, tc := range extremes(b) {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			dir := b.TempDir()
			wf, err := os.Create(filepath.Join(dir, "weights.bin"))
			if err != nil {
				b.Fatal(err)
			}
			defer wf.Close()
			ws := onnx.NewWeights(wf, "weights.bin", 1)
			f, err := os.Create(filepath.Join(dir, "model.onnx"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			opts := onnx.Options{Seed: 1, FoldBN: true}
			if _, err := onnx.WriteExternal(io.Discard, tc.net, opts, ws); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := f.Truncate(0); err != nil {
					b.Fatal(err)
				}
				if _, err := f.Seek(0, io.SeekStart); err != nil {
					b.Fatal(err)
				}
				w, err := onnx.WriteExternal(f, tc.net, opts, ws)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(w.Size)
			}
			b.ReportMetric(float64(ws.Size())/(1<<20), "weightfile-MB")
		})
	}
}
