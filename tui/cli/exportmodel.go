package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"blockprof/model"
	"blockprof/model/export"
	"blockprof/model/writers"
)

func runExportModel(env *Env, args []string) error {
	fs := newFlags(env, "export-model", "--space S (--arch A -o FILE | --in FILE -o DIR) [--format onnx|tflite] [--precision fp32|fp16|int8] [--seed N] [--calib FILE] [--config F]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	spaceName := fs.String("space", "", "search space of the architectures")
	archText := fs.String("arch", "", "one architecture: canonical or OFA JSON")
	in := fs.String("in", "", "JSON lines with an \"arch\" field (as `sample` writes), one model file each into the directory -o; - for stdin")
	out := fs.String("o", "", "output file (--arch) or directory (--in)")
	format := fs.String("format", "onnx", "model format: "+strings.Join(export.KnownFormats(), " or "))
	precision := fs.String("precision", "fp32", "fp32, fp16 or int8 (int8: post-training quantized, calibrated on --calib or random inputs)")
	seed := fs.Uint64("seed", 1, "weights seed (recorded in the file's metadata)")
	calib := fs.String("calib", "", "int8 calibration inputs: a .npy float32 array (N×3×R×R) or raw little-endian float32 values")
	samples := fs.Int("samples", 0, "int8: number of random calibration inputs when there is no --calib (0: 2)")
	reduce := fs.Bool("reduce-range", false, "int8: 7-bit weights (ONNX Runtime's reduce_range, for x86 CPUs without VNNI)")
	batch := fs.Int("batch", 0, "batch dimension (0: 1)")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, sp, err := loadSpace(env, "export-model", *cfgPath, *spaceName)
	if err != nil {
		return err
	}
	if *out == "" {
		fs.Usage()
		return errors.New("export-model: -o is required")
	}
	var archs []model.Arch
	switch {
	case (*archText == "") == (*in == ""):
		fs.Usage()
		return errors.New("export-model: give one of --arch or --in")
	case *archText != "":
		a, err := sp.ParseArchAny(*archText)
		if err != nil {
			return fmt.Errorf("export-model: --arch: %w", err)
		}
		archs = []model.Arch{a}
	default:
		r, name, err := openInput(env, *in)
		if err != nil {
			return fmt.Errorf("export-model: --in: %w", err)
		}
		archs, err = export.ReadArchs(r, name, sp)
		r.Close()
		if err != nil {
			return fmt.Errorf("export-model: --in: %w", err)
		}
	}
	req := export.Request{Format: *format, Precision: *precision, Seed: *seed, Batch: *batch, Calib: *calib, Samples: *samples, ReduceRange: *reduce}
	written, err := writers.New().Files(env.Ctx, sp, archs, req, *out, *in != "")
	enc := json.NewEncoder(env.Stdout)
	for _, w := range written {
		if err := enc.Encode(w); err != nil {
			return err
		}
	}
	if fe := (*export.FieldError)(nil); errors.As(err, &fe) {
		return fmt.Errorf("export-model: --%s %w", fe.Field, fe.Err)
	}
	if err != nil {
		return fmt.Errorf("export-model: %w", err)
	}
	return nil
}
