// Package export writes the model file of a network in a deployment format
// and precision: ONNX (model/onnx, with model/onnx/quantize for fp16 and
// int8 QDQ) and, once registered, TFLite. It is what `blockprof
// export-model` and the command device use, so that the file a user takes
// to their own tools is the one blockprof times.
package export

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"blockprof/model"
	"blockprof/model/onnx"
	"blockprof/model/onnx/infer"
	"blockprof/model/onnx/quantize"
)

// Request says what to write.
type Request struct {
	// Format is onnx or tflite.
	Format string
	// Precision is fp32 (""), fp16 or int8.
	Precision string
	// Seed seeds the random weights (recorded in the metadata).
	Seed uint64
	// Batch is the batch dimension; 0 means 1.
	Batch int
	// Calib is a calibration file (.npy or raw float32) for int8; "" uses
	// Samples random inputs (0: infer.DefaultSamples).
	Calib   string
	Samples int
	// ReduceRange writes 7-bit int8 weights (ONNX Runtime's reduce_range,
	// for x86 CPUs without VNNI: quantize.ReduceRangeAdvised).
	ReduceRange bool
}

// Writer writes one network's model file.
type Writer struct {
	// Precisions the format can hold.
	Precisions []string
	// Ext is the file extension, with the dot.
	Ext   string
	Write func(ctx context.Context, net *model.Network, req Request) ([]byte, error)
}

// Writers are the model writers by format. The zero value has none; New
// has ONNX.
type Writers struct {
	m map[string]Writer
}

// New returns the ONNX writer. model/writers.New adds TFLite (model/tflite
// builds on this package, so it cannot be registered here); a Writers
// without a format refuses it with ErrUnavailable.
func New() *Writers {
	w := &Writers{m: map[string]Writer{}}
	w.Register("onnx", Writer{Precisions: quantize.Precisions(), Ext: ".onnx", Write: ONNX})
	return w
}

// Register adds or replaces the writer of a format.
func (w *Writers) Register(format string, wr Writer) {
	if w.m == nil {
		w.m = map[string]Writer{}
	}
	w.m[format] = wr
}

// KnownFormats are the formats blockprof knows, written or not.
func KnownFormats() []string { return []string{"onnx", "tflite"} }

// ErrUnavailable is wrapped when a known format has no writer in this
// build.
var ErrUnavailable = errors.New("writer not available in this build")

// Formats lists the registered formats.
func (w *Writers) Formats() []string { return slices.Sorted(maps.Keys(w.m)) }

// Ext is the file extension of a format (".onnx", ".tflite").
func Ext(format string) string { return "." + format }

// FieldError is a bad field of a Request: Field is format, precision,
// calib, samples or batch, so that a front end can name its own flag or
// key.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// MaxBatch bounds Request.Batch.
const MaxBatch = 4096

// Check validates a request without writing. A bad field is a
// *FieldError saying what is allowed.
func (w *Writers) Check(req Request) (Writer, error) {
	wr, ok := w.m[req.Format]
	if !ok {
		if slices.Contains(KnownFormats(), req.Format) {
			return Writer{}, &FieldError{Field: "format", Err: fmt.Errorf("%s: the %s %w (formats here: %s)", req.Format, req.Format, ErrUnavailable, strings.Join(w.Formats(), ", "))}
		}
		return Writer{}, fieldErr("format", "%q: want one of %s", req.Format, strings.Join(KnownFormats(), ", "))
	}
	p := req.Precision
	if p == "" {
		p = "fp32"
	}
	if !slices.Contains(wr.Precisions, p) {
		return Writer{}, fieldErr("precision", "%q: format %s holds %s", req.Precision, req.Format, strings.Join(wr.Precisions, ", "))
	}
	if req.Calib != "" && p != "int8" {
		return Writer{}, fieldErr("calib", "%s: only int8 is calibrated (precision is %s)", req.Calib, p)
	}
	if req.Samples < 0 || req.Samples > infer.MaxSamples {
		return Writer{}, fieldErr("samples", "%d outside 0..%d (0: %d random inputs)", req.Samples, infer.MaxSamples, infer.DefaultSamples)
	}
	if req.Batch < 0 || req.Batch > MaxBatch {
		return Writer{}, fieldErr("batch", "%d outside 0..%d (0: 1)", req.Batch, MaxBatch)
	}
	return wr, nil
}

// Write writes net's model file as req asks.
func (w *Writers) Write(ctx context.Context, net *model.Network, req Request) ([]byte, error) {
	wr, err := w.Check(req)
	if err != nil {
		return nil, err
	}
	if req.Precision == "" {
		req.Precision = "fp32"
	}
	return wr.Write(ctx, net, req)
}

// Calibration returns the calibration req asks for, for a network of
// resolution r: the file's inputs, or random ones.
func Calibration(req Request, r int) (quantize.Calibration, error) {
	shape := []int{max(req.Batch, 1), 3, r, r}
	if req.Calib != "" {
		return quantize.FileCalibration(req.Calib, shape)
	}
	n := req.Samples
	if n == 0 {
		n = infer.DefaultSamples
	}
	return quantize.RandomCalibration(shape, n, quantize.CalibrationSeed), nil
}

// ONNX writes net as ONNX in req.Precision: fp32 as model/onnx exports
// it, fp16 and int8 (QDQ) as model/onnx/quantize converts it.
func ONNX(ctx context.Context, net *model.Network, req Request) ([]byte, error) {
	m, err := onnx.Build(net, onnx.Options{Seed: req.Seed, Batch: req.Batch})
	if err != nil {
		return nil, err
	}
	switch req.Precision {
	case "", "fp32":
		quantize.SetMeta(m, "precision", "fp32")
	case "fp16":
		if m, err = quantize.Float16(m); err != nil {
			return nil, err
		}
	case "int8":
		cal, err := Calibration(req, net.Resolution)
		if err != nil {
			return nil, err
		}
		if m, err = quantize.Int8(ctx, m, cal, quantize.Options{ReduceRange: req.ReduceRange}); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("precision %q: want fp32, fp16 or int8", req.Precision)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("onnx export of %s: serialise: %w", net.Arch, err)
	}
	return b, nil
}
