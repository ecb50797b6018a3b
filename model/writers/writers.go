// Package writers gives the model writers blockprof has, every format
// registered: ONNX (model/export) and TFLite (model/tflite). It exists
// because model/tflite builds on model/export's request type, so
// model/export cannot register it itself. Every place that writes a model
// file (export-model, the command device on the host, the on-device
// helper) takes its writers from here, so the same request gives the same
// bytes everywhere.
package writers

import (
	"blockprof/model/export"
	"blockprof/model/tflite"
)

// New returns the writers of every format blockprof writes.
func New() *export.Writers {
	w := export.New()
	w.Register("tflite", tflite.Writer())
	return w
}
