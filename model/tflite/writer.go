package tflite

import (
	"context"
	"fmt"

	"blockprof/model"
	"blockprof/model/export"
)

// Writer is the TFLite writer for model/export's registry:
//
//	writers.Register("tflite", tflite.Writer())
//
// so that `blockprof export-model --format tflite` and the command device
// write the same files as Export.
func Writer() export.Writer {
	ps := Precisions()
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = string(p)
	}
	return export.Writer{Precisions: names, Ext: ".tflite", Write: Write}
}

// Write exports net as req asks (req.Format is not looked at): int8 is
// calibrated on req's calibration inputs (export.Calibration: the file of
// req.Calib, else req.Samples random inputs).
func Write(ctx context.Context, net *model.Network, req export.Request) ([]byte, error) {
	if net == nil {
		return nil, fmt.Errorf("tflite export: no network")
	}
	p, err := ParsePrecision(req.Precision)
	if err != nil {
		return nil, err
	}
	if req.ReduceRange {
		return nil, fmt.Errorf("reduce-range: 7-bit weights are ONNX Runtime's workaround; TFLite files hold full-range int8")
	}
	opts := Options{Seed: req.Seed, Batch: req.Batch, Precision: p}
	if p == INT8 {
		cal, err := export.Calibration(req, net.Resolution)
		if err != nil {
			return nil, err
		}
		if opts.Calib, err = Calibrate(ctx, net, req.Seed, req.Batch, cal.Inputs, cal.Source); err != nil {
			return nil, err
		}
	}
	return Export(net, opts)
}
