package quantize_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"blockprof/devices/ort"
	"blockprof/devices/ort/orttest"
	"blockprof/model"
	"blockprof/model/modeltest"
	"blockprof/model/onnx"
	"blockprof/model/onnx/infer"
	"blockprof/model/onnx/onnxpb"
	"blockprof/model/onnx/quantize"
)

// runORT runs a serialised model once on ORT's deterministic input (the same
// for every model of the same input shape) and returns the output.
func runORT(t *testing.T, rt *ort.Runtime, m *onnxpb.ModelProto, opt string) []float32 {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := rt.NewSession(b, ort.Options{IntraOpThreads: 1, Optimization: opt})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(sess.Outputs()[0].Data)
}

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

type arch struct {
	name    string
	net     *model.Network
	samples int
}

// archs are the min, max and a random arch at 160 px of the three
// networks (MBv3 w1.0, PN w1.3, ResNet50; ofa-mbv3 w1.2 is MBv3 again);
// ResNet50's max calibrates on one input to keep the test short.
func archs(t *testing.T) []arch {
	t.Helper()
	var out []arch
	ss := modeltest.Spaces(t)
	for _, name := range []string{"ofa-mbv3-w1.0", "ofa-pn-w1.3", "ofa-resnet50"} {
		s, err := ss.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		r := s.Resolutions[0]
		for _, a := range []struct {
			what string
			a    model.Arch
		}{{"min", s.MinArch(r)}, {"max", s.MaxArch(r)}, {"random", s.Sample(rand.New(rand.NewPCG(3, 4)), r)}} {
			net, err := s.Network(a.a)
			if err != nil {
				t.Fatal(err)
			}
			n := infer.DefaultSamples
			if name == "ofa-resnet50" && a.what == "max" {
				n = 1
			}
			out = append(out, arch{name + "/" + a.what, net, n})
		}
	}
	return out
}

// TestInt8CloseToFP32 quantizes every space's min, max and a random arch
// to int8 QDQ, runs it in ONNX Runtime (optimisation all, so that the QDQ
// pairs become integer kernels) and compares its output with the fp32
// model's on the same input: cosine ≥ 0.99. Slow under the race detector;
// CI runs it without (.ci/run).
func TestInt8CloseToFP32(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under -race; .ci/run runs it without")
	}
	rt := orttest.Runtime(t)
	for _, a := range archs(t) {
		t.Run(a.name, func(t *testing.T) {
			m, err := onnx.Build(a.net, onnx.Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			want := runORT(t, rt, m, "disable")
			cal := quantize.RandomCalibration([]int{1, 3, a.net.Resolution, a.net.Resolution}, a.samples, quantize.CalibrationSeed)
			c, err := quantize.Calibrate(context.Background(), m, cal)
			if err != nil {
				t.Fatal(err)
			}
			// Full-range int8 weights, QDQ evaluated in float (ORT with
			// optimisation off): the quantization itself.
			full, err := c.Int8(quantize.Options{})
			if err != nil {
				t.Fatal(err)
			}
			// The model the cpu-int8 device times: integer kernels, 7-bit
			// weights where this CPU needs them.
			opts := quantize.Options{ReduceRange: quantize.ReduceRangeAdvised()}
			timed, err := c.Int8(opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range []struct {
				what string
				m    *onnxpb.ModelProto
				opt  string
			}{{"full-range, QDQ in float", full, "disable"}, {fmt.Sprintf("reduce_range %v, integer kernels", opts.ReduceRange), timed, "all"}} {
				got := runORT(t, rt, r.m, r.opt)
				c := cosine(got, want)
				t.Logf("%s: cosine(int8, fp32) = %.5f", r.what, c)
				if !(c >= 0.99) {
					t.Errorf("%s: cosine(int8, fp32) = %.5f, want ≥ 0.99", r.what, c)
				}
				if slices.Equal(got, want) {
					t.Errorf("%s: the int8 output equals the fp32 one: nothing was quantized", r.what)
				}
			}
		})
	}
}

// TestFoldBatchNorm: the folded model computes what the unfolded one does
// (reference interpreter) and has no BatchNormalization left. Under the
// race detector only MobileNetV3 (the interpreter is slow there).
func TestFoldBatchNorm(t *testing.T) {
	spaces := []string{"ofa-mbv3", "ofa-resnet50"}
	if raceEnabled {
		spaces = spaces[:1]
	}
	for _, space := range spaces {
		s := modeltest.Space(t, space)
		net, err := s.Network(s.MinArch(s.Resolutions[0]))
		if err != nil {
			t.Fatal(err)
		}
		m, err := onnx.Build(net, onnx.Options{Seed: 2})
		if err != nil {
			t.Fatal(err)
		}
		f, err := quantize.FoldBatchNorm(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range f.GetGraph().GetNode() {
			if n.GetOpType() == "BatchNormalization" {
				t.Errorf("%s: %s left unfolded", space, n.GetName())
			}
		}
		if len(m.GetGraph().GetNode()) == len(f.GetGraph().GetNode()) {
			t.Errorf("%s: folding left the node count at %d", space, len(f.GetGraph().GetNode()))
		}
		x := infer.RandomInputs([]int{1, 3, net.Resolution, net.Resolution}, 1, 9)[0]
		var outs [2][]float32
		for i, mm := range []*onnxpb.ModelProto{m, f} {
			md, err := infer.New(mm)
			if err != nil {
				t.Fatal(err)
			}
			y, err := md.Run(context.Background(), x, nil)
			if err != nil {
				t.Fatal(err)
			}
			outs[i] = y.Data
		}
		if c := cosine(outs[0], outs[1]); c < 0.99999 {
			t.Errorf("%s: folded vs unfolded cosine %.7f", space, c)
		}
	}
}

// TestInt8Graph checks the QDQ structure: every Conv and Gemm reads its
// input, weight and bias through DequantizeLinear, weights are int8 per
// channel, biases int32, nothing float is left among conv weights, and the
// metadata records the recipe and the calibration.
func TestInt8Graph(t *testing.T) {
	s := modeltest.Space(t, "ofa-mbv3")
	net, err := s.Network(s.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Build(net, onnx.Options{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	q, err := quantize.Int8(context.Background(), m, quantize.RandomCalibration([]int{1, 3, 160, 160}, 2, 1), quantize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g := q.GetGraph()
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range g.GetNode() {
		producer[n.GetOutput()[0]] = n
	}
	inits := map[string]*onnxpb.TensorProto{}
	for _, in := range g.GetInitializer() {
		inits[in.GetName()] = in
	}
	convs := 0
	for _, n := range g.GetNode() {
		switch n.GetOpType() {
		case "Conv", "Gemm":
			convs++
			for i, in := range n.GetInput() {
				p := producer[in]
				if p == nil || p.GetOpType() != "DequantizeLinear" {
					t.Fatalf("%s input %d (%s) is not dequantized", n.GetName(), i, in)
				}
				want := []onnxpb.TensorProto_DataType{onnxpb.TensorProto_INT8, onnxpb.TensorProto_INT8, onnxpb.TensorProto_INT32}[i]
				if i > 0 {
					w := inits[p.GetInput()[0]]
					if w == nil || onnxpb.TensorProto_DataType(w.GetDataType()) != want {
						t.Errorf("%s input %d: %v, want %v initializer", n.GetName(), i, w.GetDataType(), want)
					}
					if sc := inits[p.GetInput()[1]]; len(sc.GetDims()) != 1 || sc.GetDims()[0] != w.GetDims()[0] {
						t.Errorf("%s input %d: scale dims %v, want one per output channel", n.GetName(), i, sc.GetDims())
					}
				}
			}
		case "BatchNormalization":
			t.Errorf("%s: BN left", n.GetName())
		case "Relu", "Clip":
			if p := producer[n.GetInput()[0]]; p != nil && p.GetOpType() == "Conv" {
				t.Errorf("%s after a Conv was kept", n.GetName())
			}
		}
	}
	if convs < 10 {
		t.Errorf("%d Conv/Gemm nodes", convs)
	}
	meta := map[string]string{}
	for _, p := range q.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}
	for k, want := range map[string]string{
		"precision": "int8", "seed": "4", "quantization": "per output channel", "calibration": "minmax over 2 random inputs",
		"arch": net.Arch, "batchnorm": "folded",
	} {
		if !strings.Contains(meta[k], want) {
			t.Errorf("metadata %s = %q, want it to contain %q", k, meta[k], want)
		}
	}
	// The input model is not changed.
	for _, n := range m.GetGraph().GetNode() {
		if strings.Contains(n.GetOpType(), "Quantize") {
			t.Fatal("Int8 changed its input model")
		}
	}
}

// TestFloat16 converts to fp16 and checks that ONNX Runtime loads and runs
// it with outputs close to fp32.
func TestFloat16(t *testing.T) {
	rt := orttest.Runtime(t)
	s := modeltest.Space(t, "ofa-mbv3")
	net, err := s.Network(s.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Build(net, onnx.Options{Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	h, err := quantize.Float16(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range h.GetGraph().GetInitializer() {
		if onnxpb.TensorProto_DataType(in.GetDataType()) == onnxpb.TensorProto_FLOAT {
			t.Errorf("%s left float32", in.GetName())
		}
	}
	want := runORT(t, rt, m, "disable")
	got := runORT(t, rt, h, "all")
	if c := cosine(got, want); !(c >= 0.999) {
		t.Errorf("cosine(fp16, fp32) = %.5f, want ≥ 0.999", c)
	} else {
		t.Logf("cosine(fp16, fp32) = %.6f", c)
	}
}
