package tflite_test

import (
	"bytes"
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"

	"blockprof/model"
	"blockprof/model/export"
	"blockprof/model/modeltest"
	"blockprof/model/onnx"
	"blockprof/model/tflite"
	fb "blockprof/model/tflite/tflitefb"
)

func netOf(t testing.TB, space string, max bool, r int) *model.Network {
	t.Helper()
	s := modeltest.Space(t, space)
	a := s.MinArch(r)
	if max {
		a = s.MaxArch(r)
	}
	net, err := s.Network(a)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func calib(t testing.TB, net *model.Network, seed uint64) *tflite.Calibration {
	t.Helper()
	c, err := tflite.Calibrate(context.Background(), net, seed, 1, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestDescribeGolden pins the structure (operators, options, tensor shapes
// and types) of small models in each precision.
func TestDescribeGolden(t *testing.T) {
	mb := netOf(t, "ofa-mbv3-w1.0", false, 160)
	for _, tc := range []struct {
		name string
		net  *model.Network
		opts tflite.Options
	}{
		{"mbv3-min-fp32", mb, tflite.Options{Seed: 1}},
		{"mbv3-min-fp16", mb, tflite.Options{Seed: 1, Precision: tflite.FP16}},
		{"mbv3-min-int8", mb, tflite.Options{Seed: 1, Precision: tflite.INT8, Calib: calib(t, mb, 1)}},
		{"pn-min-fp32", netOf(t, "ofa-pn-w1.3", false, 160), tflite.Options{Seed: 1}},
		{"resnet50-min-fp32-batch2", netOf(t, "ofa-resnet50", false, 160), tflite.Options{Seed: 1, Batch: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := tflite.Export(tc.net, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			s, err := tflite.Describe(b)
			if err != nil {
				t.Fatal(err)
			}
			golden.RequireEqual(t, s)
		})
	}
}

// TestStructure checks every space's smallest and largest arch: the ops are
// the converter's builtins, every ONNX conv became one TFLite conv (BN folded
// away), I/O are NHWC float32, and the precision shows in the tensors.
func TestStructure(t *testing.T) {
	allowed := map[string]bool{"CONV_2D": true, "DEPTHWISE_CONV_2D": true, "ADD": true, "MUL": true, "MEAN": true,
		"FULLY_CONNECTED": true, "HARD_SWISH": true, "MAX_POOL_2D": true, "AVERAGE_POOL_2D": true, "RESHAPE": true,
		"PAD": true, "RELU": true, "RELU6": true, "DEQUANTIZE": true, "QUANTIZE": true}
	for _, e := range modeltest.Extremes(t) {
		t.Run(e.Name(), func(t *testing.T) {
			if raceEnabled && e.Which == "max" {
				t.Skip("the largest nets take minutes to export under -race; .ci/run checks them without it")
			}
			net := e.Network(t)
			om, err := onnx.Build(net, onnx.Options{Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			onnxConvs := 0
			for _, n := range om.GetGraph().GetNode() {
				if n.GetOpType() == "Conv" {
					onnxConvs++
				}
			}
			for _, p := range []tflite.Precision{tflite.FP32, tflite.FP16} {
				b, err := tflite.Export(net, tflite.Options{Seed: 2, Precision: p})
				if err != nil {
					t.Fatal(err)
				}
				meta, err := tflite.Read(b)
				m := fb.GetRootAsModel(b, 0).UnPack()
				if err != nil {
					t.Fatal(err)
				}
				if meta.Arch != net.Arch || meta.Space != net.Space || meta.Seed != 2 || meta.Precision != string(p) || meta.Resolution != net.Resolution {
					t.Errorf("%s: metadata %+v", p, meta)
				}
				sg := m.Subgraphs[0]
				counts := map[string]int{}
				for _, op := range sg.Operators {
					counts[fb.EnumNamesBuiltinOperator[m.OperatorCodes[op.OpcodeIndex].BuiltinCode]]++
				}
				for op := range counts {
					if !allowed[op] {
						t.Errorf("%s: op %s", p, op)
					}
				}
				if got := counts["CONV_2D"] + counts["DEPTHWISE_CONV_2D"]; got != onnxConvs {
					t.Errorf("%s: %d convs, the ONNX export has %d", p, got, onnxConvs)
				}
				if counts["FULLY_CONNECTED"] != 1 || counts["RELU"]+counts["RELU6"] != 0 {
					t.Errorf("%s: counts %v: want one FULLY_CONNECTED and every ReLU fused", p, counts)
				}
				in, out := sg.Tensors[sg.Inputs[0]], sg.Tensors[sg.Outputs[0]]
				r := int32(net.Resolution)
				if in.Name != tflite.InputName || !slices.Equal(in.Shape, []int32{1, r, r, 3}) || in.Type != fb.TensorTypeFLOAT32 {
					t.Errorf("%s: input %s %v %v", p, in.Name, in.Shape, in.Type)
				}
				if out.Name != tflite.OutputName || !slices.Equal(out.Shape, []int32{1, int32(net.Classes)}) || out.Type != fb.TensorTypeFLOAT32 {
					t.Errorf("%s: output %s %v %v", p, out.Name, out.Shape, out.Type)
				}
				var f16, f32w int
				for _, tn := range sg.Tensors {
					if tn.Buffer == 0 {
						continue
					}
					switch {
					case tn.Type == fb.TensorTypeFLOAT16:
						f16++
					case tn.Type == fb.TensorTypeFLOAT32 && len(tn.Shape) > 0 && tn.Shape[0] > 1:
						f32w++
					}
				}
				if p == tflite.FP16 && (f16 == 0 || f32w != 0 || counts["DEQUANTIZE"] != f16) {
					t.Errorf("fp16: %d float16 constants, %d DEQUANTIZE, %d float32 weight tensors", f16, counts["DEQUANTIZE"], f32w)
				}
				for _, oc := range m.OperatorCodes {
					if oc.BuiltinCode == fb.BuiltinOperatorDEQUANTIZE && oc.Version != 3 {
						t.Errorf("fp16: DEQUANTIZE version %d, want 3 (float16 input)", oc.Version)
					}
				}
				if p == tflite.FP32 && (f16 != 0 || counts["DEQUANTIZE"] != 0) {
					t.Errorf("fp32: %d float16 constants", f16)
				}
			}
		})
	}
}

// TestInt8Structure checks an int8 model: float I/O around QUANTIZE and
// DEQUANTIZE, every other activation int8, conv weights per channel, biases
// int32, and the recipe in the metadata.
func TestInt8Structure(t *testing.T) {
	net := netOf(t, "ofa-mbv3-w1.0", false, 160)
	c := calib(t, net, 3)
	b, err := tflite.Export(net, tflite.Options{Seed: 3, Precision: tflite.INT8, Calib: c})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := tflite.Read(b)
	m := fb.GetRootAsModel(b, 0).UnPack()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(meta.Quantization, "per-channel") || !strings.Contains(meta.Quantization, "2 calibration inputs") || !strings.Contains(m.Description, "int8") {
		t.Errorf("recipe %q, description %q", meta.Quantization, m.Description)
	}
	sg := m.Subgraphs[0]
	ops := sg.Operators
	code := func(op *fb.OperatorT) fb.BuiltinOperator { return m.OperatorCodes[op.OpcodeIndex].BuiltinCode }
	if code(ops[0]) != fb.BuiltinOperatorQUANTIZE || code(ops[len(ops)-1]) != fb.BuiltinOperatorDEQUANTIZE {
		t.Errorf("first op %s, last %s: want QUANTIZE … DEQUANTIZE", fb.EnumNamesBuiltinOperator[code(ops[0])], fb.EnumNamesBuiltinOperator[code(ops[len(ops)-1])])
	}
	for i, op := range ops[1 : len(ops)-1] {
		for _, ti := range slices.Concat(op.Inputs, op.Outputs) {
			tn := sg.Tensors[ti]
			want := fb.TensorTypeINT8
			if tn.Buffer != 0 && tn.Type == fb.TensorTypeINT32 {
				continue // shapes, axes, paddings and biases
			}
			if tn.Type != want || tn.Quantization == nil || len(tn.Quantization.Scale) == 0 {
				t.Fatalf("op %d (%s): tensor %s is %s without int8 quantization", i+1, fb.EnumNamesBuiltinOperator[code(op)], tn.Name, fb.EnumNamesTensorType[tn.Type])
			}
		}
		if c := code(op); c == fb.BuiltinOperatorCONV_2D || c == fb.BuiltinOperatorDEPTHWISE_CONV_2D {
			w, bias := sg.Tensors[op.Inputs[1]], sg.Tensors[op.Inputs[2]]
			oc := w.Shape[0]
			if c == fb.BuiltinOperatorDEPTHWISE_CONV_2D {
				oc = w.Shape[3]
			}
			if int32(len(w.Quantization.Scale)) != oc || bias.Type != fb.TensorTypeINT32 || int32(len(bias.Quantization.Scale)) != oc {
				t.Errorf("op %d: %d weight scales, %d bias scales (%s) for %d channels", i+1, len(w.Quantization.Scale), len(bias.Quantization.Scale), fb.EnumNamesTensorType[bias.Type], oc)
			}
		}
	}
}

// TestExportDeterministic: the same network and options give the same bytes.
func TestExportDeterministic(t *testing.T) {
	net := netOf(t, "ofa-pn-w1.3", false, 160)
	a, err := tflite.Export(net, tflite.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tflite.Export(net, tflite.Options{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	c, err := tflite.Export(net, tflite.Options{Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("two exports differ")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 7 and 8 give the same bytes")
	}
}

func TestExportRejects(t *testing.T) {
	net := netOf(t, "ofa-mbv3-w1.0", false, 160)
	bad := *net
	bad.Layers = nil
	c := calib(t, net, 1)
	partial := &tflite.Calibration{Ranges: maps.Clone(c.Ranges), Inputs: 1, Data: "test"}
	delete(partial.Ranges, onnx.OutputName)
	for _, tc := range []struct {
		name string
		net  *model.Network
		opts tflite.Options
		want string
	}{
		{"nil network", nil, tflite.Options{}, "no network"},
		{"empty network", &bad, tflite.Options{}, "empty network"},
		{"precision", net, tflite.Options{Precision: "int4"}, `precision "int4": want fp32, fp16 or int8`},
		{"int8 without ranges", net, tflite.Options{Precision: tflite.INT8}, "needs activation ranges"},
		{"int8 missing a range", net, tflite.Options{Precision: tflite.INT8, Calib: partial}, "no calibration range for tensor output"},
		{"batch", net, tflite.Options{Batch: -1}, "batch -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tflite.Export(tc.net, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestParsePrecision(t *testing.T) {
	for in, want := range map[string]tflite.Precision{"": tflite.FP32, "fp32": tflite.FP32, " FP16 ": tflite.FP16, "int8": tflite.INT8} {
		if got, err := tflite.ParsePrecision(in); err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := tflite.ParsePrecision("uint8"); err == nil {
		t.Error("uint8 accepted")
	}
}

// FuzzExport writes arbitrary archs of every space at any batch and
// precision: never a panic; an accepted network gives a model that Read
// accepts, with NHWC input and batch×classes output.
func FuzzExport(f *testing.F) {
	ss := modeltest.Spaces(f)
	for _, name := range ss.Names() {
		s, err := ss.Get(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name, s.MinArch(s.Resolutions[0]).String(), uint8(1), uint8(0))
		f.Add(name, s.Sample(model.NewRand(1), s.Resolutions[0]).String(), uint8(2), uint8(1))
	}
	f.Add("ofa-mbv3-w1.0", "ofa-mbv3-w1.0:160:e3k3", uint8(0), uint8(2))
	f.Add("ofa-resnet50", "ofa-resnet50:100000000:e3k3", uint8(1), uint8(0))
	f.Fuzz(func(t *testing.T, space, arch string, batch, prec uint8) {
		s, err := ss.Get(space)
		if err != nil {
			return
		}
		a, err := s.ParseArchAny(arch)
		if err != nil || a.Resolution > 224 {
			return // larger inputs only cost time
		}
		net, err := s.Network(a)
		if err != nil {
			return
		}
		opts := tflite.Options{Seed: 1, Batch: int(batch % 3), Precision: tflite.Precisions()[int(prec)%2]}
		b, err := tflite.Export(net, opts)
		if err != nil {
			t.Fatalf("%s: a valid network fails: %v", a, err)
		}
		meta, err := tflite.Read(b)
		m := fb.GetRootAsModel(b, 0).UnPack()
		if err != nil {
			t.Fatal(err)
		}
		sg := m.Subgraphs[0]
		n, r := int32(max(int(batch%3), 1)), int32(net.Resolution)
		if in := sg.Tensors[sg.Inputs[0]].Shape; !slices.Equal(in, []int32{n, r, r, 3}) {
			t.Errorf("input %v", in)
		}
		if out := sg.Tensors[sg.Outputs[0]].Shape; !slices.Equal(out, []int32{n, int32(net.Classes)}) {
			t.Errorf("output %v", out)
		}
		if meta.Arch != net.Arch {
			t.Errorf("metadata arch %q, want %q", meta.Arch, net.Arch)
		}
	})
}

// FuzzRead feeds arbitrary bytes (and mutated models) to the reader: an
// error or a description, never a panic.
func FuzzRead(f *testing.F) {
	b, err := tflite.Export(netOf(f, "ofa-mbv3-w1.0", false, 160), tflite.Options{Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:4096])
	f.Add([]byte("1234TFL3"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := tflite.Read(data); err != nil {
			return
		}
		_, _ = tflite.Describe(data)
	})
}

// TestWriter writes through model/export's registry as export-model does.
func TestWriter(t *testing.T) {
	ws := export.New()
	ws.Register("tflite", tflite.Writer())
	net := netOf(t, "ofa-mbv3-w1.0", false, 160)
	for _, p := range []string{"fp32", "fp16", "int8"} {
		b, err := ws.Write(context.Background(), net, export.Request{Format: "tflite", Precision: p, Seed: 6, Samples: 1})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		meta, err := tflite.Read(b)
		if err != nil {
			t.Fatal(err)
		}
		if meta.Precision != p || meta.Seed != 6 || meta.Arch != net.Arch {
			t.Errorf("%s: metadata %+v", p, meta)
		}
		if p == "int8" && !strings.Contains(meta.Quantization, "1 calibration inputs") {
			t.Errorf("int8 recipe %q: want the one calibration input", meta.Quantization)
		}
	}
	if _, err := ws.Write(context.Background(), net, export.Request{Format: "tflite", Precision: "int8", ReduceRange: true}); err == nil || !strings.Contains(err.Error(), "reduce-range") {
		t.Errorf("reduce-range: error %v", err)
	}
}
