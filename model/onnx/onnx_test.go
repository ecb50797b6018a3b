package onnx_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
	"google.golang.org/protobuf/proto"

	"blockprof/devices/ort"
	"blockprof/devices/ort/orttest"
	"blockprof/model"
	"blockprof/model/modeltest"
	"blockprof/model/onnx"
	"blockprof/model/onnx/onnxpb"
)

func spaces(t testing.TB) *model.Spaces {
	t.Helper()
	return modeltest.Spaces(t)
}

// testArch is one network to export.
type testArch struct {
	name string
	net  *model.Network
}

// extremes are every space's smallest arch at its smallest resolution and
// largest arch at its largest.
func extremes(t testing.TB) []testArch {
	t.Helper()
	var out []testArch
	for _, e := range modeltest.Extremes(t) {
		out = append(out, testArch{e.Name(), e.Network(t)})
	}
	return out
}

// shapes infers every tensor's shape from the graph alone (independently of
// the network description) and sums the MACs of its Conv and Gemm nodes and
// the learnable parameters they and BatchNormalization use.
type shapes struct {
	dims   map[string][]int64
	inits  map[string]*onnxpb.TensorProto
	macs   int64
	params int64
}

func infer(t *testing.T, m *onnxpb.ModelProto) *shapes {
	t.Helper()
	g := m.GetGraph()
	s := &shapes{dims: map[string][]int64{}, inits: map[string]*onnxpb.TensorProto{}}
	for _, in := range g.GetInitializer() {
		s.inits[in.GetName()] = in
		s.dims[in.GetName()] = in.GetDims()
	}
	for _, in := range g.GetInput() {
		s.dims[in.GetName()] = dimsOf(in)
	}
	size := func(name string) int64 {
		n := int64(1)
		for _, d := range s.inits[name].GetDims() {
			n *= d
		}
		return n
	}
	for _, n := range g.GetNode() {
		in := make([][]int64, len(n.GetInput()))
		for i, name := range n.GetInput() {
			d, ok := s.dims[name]
			if !ok {
				t.Fatalf("node %s (%s) reads %q before it is defined", n.GetName(), n.GetOpType(), name)
			}
			in[i] = d
		}
		x := in[0]
		var out []int64
		switch n.GetOpType() {
		case "Conv":
			w := in[1]
			group := onnx.AttrInt(n, "group", 1)
			if w[1]*group != x[1] {
				t.Fatalf("%s: weight %v, group %d, input %v", n.GetName(), w, group, x)
			}
			oh, ow := pooled(n, x, w[2], w[3], false)
			out = []int64{x[0], w[0], oh, ow}
			s.macs += w[0] * w[1] * w[2] * w[3] * oh * ow
			s.params += size(n.GetInput()[1])
			if len(n.GetInput()) > 2 {
				s.params += size(n.GetInput()[2])
			}
		case "Gemm":
			w := in[1]
			if onnx.AttrInt(n, "transB", 0) != 1 || len(x) != 2 || w[1] != x[1] {
				t.Fatalf("%s: input %v weight %v", n.GetName(), x, w)
			}
			out = []int64{x[0], w[0]}
			s.macs += w[0] * w[1]
			s.params += size(n.GetInput()[1]) + size(n.GetInput()[2])
		case "BatchNormalization":
			s.params += size(n.GetInput()[1]) + size(n.GetInput()[2])
			out = x
		case "Relu", "Clip", "HardSwish", "HardSigmoid":
			out = x
		case "Add", "Mul":
			out = broadcast(t, n, x, in[1])
		case "GlobalAveragePool":
			out = []int64{x[0], x[1], 1, 1}
		case "MaxPool", "AveragePool":
			k := onnx.AttrInts(n, "kernel_shape")
			oh, ow := pooled(n, x, k[0], k[1], onnx.AttrInt(n, "ceil_mode", 0) == 1)
			out = []int64{x[0], x[1], oh, ow}
		case "Flatten":
			p := int64(1)
			for _, d := range x[1:] {
				p *= d
			}
			out = []int64{x[0], p}
		default:
			t.Fatalf("unexpected op %s", n.GetOpType())
		}
		s.dims[n.GetOutput()[0]] = out
	}
	return s
}

func pooled(n *onnxpb.NodeProto, x []int64, kh, kw int64, ceil bool) (int64, int64) {
	st := onnx.AttrInts(n, "strides")
	p := onnx.AttrInts(n, "pads")
	if p == nil {
		p = []int64{0, 0, 0, 0}
	}
	f := func(in, k, s, p0, p1 int64) int64 {
		num := in + p0 + p1 - k
		if ceil {
			return (num+s-1)/s + 1
		}
		return num/s + 1
	}
	return f(x[2], kh, st[0], p[0], p[2]), f(x[3], kw, st[1], p[1], p[3])
}

func broadcast(t *testing.T, n *onnxpb.NodeProto, a, b []int64) []int64 {
	if len(a) != len(b) {
		t.Fatalf("%s: shapes %v and %v", n.GetName(), a, b)
	}
	out := make([]int64, len(a))
	for i := range a {
		switch {
		case a[i] == b[i] || b[i] == 1:
			out[i] = a[i]
		case a[i] == 1:
			out[i] = b[i]
		default:
			t.Fatalf("%s: shapes %v and %v do not broadcast", n.GetName(), a, b)
		}
	}
	return out
}

func dimsOf(vi *onnxpb.ValueInfoProto) []int64 {
	var d []int64
	for _, dim := range vi.GetType().GetTensorType().GetShape().GetDim() {
		d = append(d, dim.GetDimValue())
	}
	return d
}

// TestGraphMatchesNetwork checks, from the ONNX graph alone, the output
// shape, the MACs of the Conv and Gemm nodes and the learnable parameters
// against the network description, for every space's extremes and a few
// sampled archs.
func TestGraphMatchesNetwork(t *testing.T) {
	cases := extremes(t)
	ss := spaces(t)
	rng := model.NewRand(7)
	for _, name := range ss.Names() {
		s, _ := ss.Get(name)
		for i := range 2 {
			net, err := s.Network(s.Sample(rng, s.Resolutions[rng.IntN(len(s.Resolutions))]))
			if err != nil {
				t.Fatal(err)
			}
			cases = append(cases, testArch{fmt.Sprintf("%s/sample%d", name, i), net})
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const batch = 2
			m, err := onnx.Build(tc.net, onnx.Options{Seed: 1, Batch: batch})
			if err != nil {
				t.Fatal(err)
			}
			s := infer(t, m)
			if got := s.dims[onnx.OutputName]; !slices.Equal(got, []int64{batch, int64(tc.net.Classes)}) {
				t.Errorf("output shape %v, want [%d %d]", got, batch, tc.net.Classes)
			}
			if got := dimsOf(m.GetGraph().GetOutput()[0]); !slices.Equal(got, s.dims[onnx.OutputName]) {
				t.Errorf("declared output shape %v, inferred %v", got, s.dims[onnx.OutputName])
			}
			if want := tc.net.MACs(); s.macs != want {
				t.Errorf("MACs from the graph %d, net.MACs() %d", s.macs, want)
			}
			if want := tc.net.Params(); s.params != want {
				t.Errorf("params from the graph %d, net.Params() %d", s.params, want)
			}
		})
	}
}

// TestNodeCounts pins the op histogram of small archs (refresh with
// go test ./model/onnx -run TestNodeCounts -update).
func TestNodeCounts(t *testing.T) {
	ss := spaces(t)
	for _, name := range []string{"ofa-mbv3", "ofa-resnet50"} {
		t.Run(name, func(t *testing.T) {
			s, err := ss.Get(name)
			if err != nil {
				t.Fatal(err)
			}
			net, err := s.Network(s.MinArch(s.Resolutions[0]))
			if err != nil {
				t.Fatal(err)
			}
			m, err := onnx.Build(net, onnx.Options{})
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, n := range m.GetGraph().GetNode() {
				counts[n.GetOpType()]++
			}
			var b strings.Builder
			fmt.Fprintf(&b, "%s\nnodes %d, initializers %d, opset %d\n", net.Arch, len(m.GetGraph().GetNode()),
				len(m.GetGraph().GetInitializer()), m.GetOpsetImport()[0].GetVersion())
			ops := make([]string, 0, len(counts))
			for op := range counts {
				ops = append(ops, op)
			}
			slices.Sort(ops)
			for _, op := range ops {
				fmt.Fprintf(&b, "%-20s %3d\n", op, counts[op])
			}
			golden.RequireEqual(t, b.String())
		})
	}
}

func TestExportDeterministic(t *testing.T) {
	ss := spaces(t)
	s, _ := ss.Get("ofa-mbv3")
	net, err := s.Network(s.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	a, err := onnx.Export(net, onnx.Options{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := onnx.Export(net, onnx.Options{Seed: 3})
	c, _ := onnx.Export(net, onnx.Options{Seed: 4})
	if !bytes.Equal(a, b) {
		t.Error("two exports with the same seed differ")
	}
	if bytes.Equal(a, c) {
		t.Error("exports with different seeds are identical")
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(a, &m); err != nil {
		t.Fatalf("export does not parse back: %v", err)
	}
	if m.GetIrVersion() != onnx.IRVersion || m.GetOpsetImport()[0].GetVersion() != onnx.DefaultOpset {
		t.Errorf("IR %d opset %d", m.GetIrVersion(), m.GetOpsetImport()[0].GetVersion())
	}
}

func TestExportRejects(t *testing.T) {
	ss := spaces(t)
	s, _ := ss.Get("ofa-mbv3")
	good, err := s.Network(s.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func(n *model.Network)) *model.Network {
		n := *good
		n.Layers = slices.Clone(good.Layers)
		f(&n)
		return &n
	}
	tests := []struct {
		name   string
		net    *model.Network
		opts   onnx.Options
		errHas string
	}{
		{"nil", nil, onnx.Options{}, "no network"},
		{"old opset", good, onnx.Options{Opset: 12}, "opset 12"},
		{"negative batch", good, onnx.Options{Batch: -1}, "batch"},
		{"no layers", with(func(n *model.Network) { n.Layers = nil }), onnx.Options{}, "empty"},
		{"unknown kind", with(func(n *model.Network) { n.Layers[3].Kind = "transformer" }), onnx.Options{}, `"transformer"`},
		{"unknown act", with(func(n *model.Network) { n.Layers[0].Act = "gelu" }), onnx.Options{}, `"gelu"`},
		{"channel mismatch", with(func(n *model.Network) { n.Layers[2].In++ }), onnx.Options{}, "previous layer"},
		{"bad residual", with(func(n *model.Network) { n.Layers[1].Out++; n.Layers[1].Residual = true }), onnx.Options{}, "residual"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := onnx.Export(tc.net, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Fatalf("error %v, want one mentioning %q", err, tc.errHas)
			}
		})
	}
}

// run exports net and runs it once in ONNX Runtime, returning the output.
func run(t *testing.T, rt *ort.Runtime, net *model.Network, opts onnx.Options, optimization string) []float32 {
	t.Helper()
	data, err := onnx.Export(net, opts)
	if err != nil {
		t.Fatal(err)
	}
	sess, err := rt.NewSession(data, ort.Options{IntraOpThreads: 2, Optimization: optimization})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	in, out := sess.Inputs(), sess.Outputs()
	batch := int64(max(opts.Batch, 1))
	if len(in) != 1 || in[0].Name != onnx.InputName || !slices.Equal(in[0].Shape, []int64{batch, 3, int64(net.Resolution), int64(net.Resolution)}) {
		t.Fatalf("inputs %v", in)
	}
	if len(out) != 1 || out[0].Name != onnx.OutputName || !slices.Equal(out[0].Shape, []int64{batch, int64(net.Classes)}) {
		t.Fatalf("outputs %v", out)
	}
	for i := range out[0].Data {
		out[0].Data[i] = float32(math.NaN())
	}
	if err := sess.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(out[0].Data)
}

// TestExportRunsInORT loads every space's smallest and largest arch in ONNX
// Runtime and checks the output is finite, bounded and not constant.
func TestExportRunsInORT(t *testing.T) {
	rt := orttest.Runtime(t)
	for _, tc := range extremes(t) {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, rt, tc.net, onnx.Options{Seed: 1}, "all")
			lo, hi := math.Inf(1), math.Inf(-1)
			for i, v := range out {
				f := float64(v)
				if math.IsNaN(f) || math.IsInf(f, 0) {
					t.Fatalf("output[%d] = %v", i, v)
				}
				lo, hi = min(lo, f), max(hi, f)
			}
			t.Logf("logits in [%.3g, %.3g]", lo, hi)
			if hi-lo == 0 || max(-lo, hi) > 1e4 {
				t.Errorf("outputs in [%g, %g]: want varied and bounded logits", lo, hi)
			}
		})
	}
}

// TestOpset13SameResult checks that h_swish written as x·HardSigmoid(x)
// (opset 13) computes what HardSwish (opset 17) does, batch 2 included, and
// that ORT's optimisations do not change the result.
func TestOpset13SameResult(t *testing.T) {
	rt := orttest.Runtime(t)
	s, err := spaces(t).Get("ofa-mbv3")
	if err != nil {
		t.Fatal(err)
	}
	net, err := s.Network(s.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	ref := run(t, rt, net, onnx.Options{Seed: 5, Batch: 2}, "disable")
	for _, c := range []struct {
		opset int
		opt   string
	}{{13, "disable"}, {17, "all"}} {
		got := run(t, rt, net, onnx.Options{Seed: 5, Batch: 2, Opset: c.opset}, c.opt)
		for i := range ref {
			if d := math.Abs(float64(got[i] - ref[i])); d > 1e-3*(1+math.Abs(float64(ref[i]))) {
				t.Fatalf("opset %d, optimization %s: output[%d] = %v, want %v", c.opset, c.opt, i, got[i], ref[i])
			}
		}
	}
	// Batch rows see different inputs, so they differ.
	if slices.Equal(ref[:net.Classes], ref[net.Classes:]) {
		t.Error("the two batch rows are identical")
	}
}

// TestWeightsScale checks the initializers' spread follows the documented
// He scale (variance 2/fan-in for conv weights).
func TestWeightsScale(t *testing.T) {
	s, err := spaces(t).Get("ofa-resnet50")
	if err != nil {
		t.Fatal(err)
	}
	net, err := s.Network(s.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Build(net, onnx.Options{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, in := range m.GetGraph().GetInitializer() {
		d := in.GetDims()
		if !strings.HasSuffix(in.GetName(), ".weight") || len(d) != 4 || d[0]*d[1]*d[2]*d[3] < 4096 {
			continue
		}
		var sum2 float64
		raw := in.GetRawData()
		n := len(raw) / 4
		for i := range n {
			v := float64(math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:])))
			sum2 += v * v
		}
		want := 2 / float64(d[1]*d[2]*d[3])
		if got := sum2 / float64(n); math.Abs(got/want-1) > 0.1 {
			t.Errorf("%s: variance %g, want ≈ %g", in.GetName(), got, want)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("checked only %d conv weights", checked)
	}
}

// TestExportEqualsBuildMarshal checks that Export's own writer gives the
// bytes of a deterministic proto.Marshal of Build's model (the path Export
// took before), for every space's extremes, two seeds, batch 2 and opset 13.
func TestExportEqualsBuildMarshal(t *testing.T) {
	cases := []onnx.Options{{Seed: 1}, {Seed: 7, Batch: 2}, {Seed: 3, Opset: 13}}
	for _, tc := range extremes(t) {
		for _, opts := range cases {
			t.Run(fmt.Sprintf("%s/seed%d-batch%d-opset%d", tc.name, opts.Seed, opts.Batch, opts.Opset), func(t *testing.T) {
				got, err := onnx.Export(tc.net, opts)
				if err != nil {
					t.Fatal(err)
				}
				m, err := onnx.Build(tc.net, opts)
				if err != nil {
					t.Fatal(err)
				}
				want, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					i := 0
					for i < min(len(got), len(want)) && got[i] == want[i] {
						i++
					}
					t.Fatalf("Export gives %d bytes, Build+Marshal %d; first difference at byte %d", len(got), len(want), i)
				}
			})
		}
	}
}

// TestExportChecksums pins the exported bytes (hence the weights) of every
// space's extremes for seed 1: the golden file was written by the exporter
// before Export wrote its bytes itself (commit 1adb174), so a change in the
// writer or the weight generator shows here. Update it only for an intended
// change of the exported models (go test -run ExportChecksums -update).
func TestExportChecksums(t *testing.T) {
	var b strings.Builder
	for _, tc := range extremes(t) {
		data, err := onnx.Export(tc.net, onnx.Options{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%-22s %9d bytes  sha256 %x\n", tc.name, len(data), sha256.Sum256(data))
	}
	golden.RequireEqual(t, b.String())
}

// TestWrite checks that Write streams Export's bytes, reports the model's
// size and graph I/O, passes a writer's error on, and does not hold the
// model in memory (it allocates a small fraction of the model's bytes).
func TestWrite(t *testing.T) {
	s, _ := spaces(t).Get("ofa-mbv3")
	for _, tc := range []struct {
		name string
		arch model.Arch
	}{{"min", s.MinArch(160)}, {"max", s.MaxArch(224)}} {
		t.Run(tc.name, func(t *testing.T) {
			net, err := s.Network(tc.arch)
			if err != nil {
				t.Fatal(err)
			}
			want, err := onnx.Export(net, onnx.Options{Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			w, err := onnx.Write(&buf, net, onnx.Options{Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Error("Write and Export differ")
			}
			if w.Size != int64(len(want)) {
				t.Errorf("Size = %d, want %d", w.Size, len(want))
			}
			if len(w.Inputs) != 1 || w.Inputs[0].GetName() != onnx.InputName || len(w.Outputs) != 1 || w.Outputs[0].GetName() != onnx.OutputName {
				t.Errorf("graph I/O %v → %v, want one %q and one %q", w.Inputs, w.Outputs, onnx.InputName, onnx.OutputName)
			}

			// A writer that fails part-way: the error comes back, named.
			fail := &failingWriter{left: len(want) / 2}
			if _, err := onnx.Write(fail, net, onnx.Options{Seed: 2}); err == nil || !strings.Contains(err.Error(), "disk full") {
				t.Errorf("err = %v, want the writer's error", err)
			}

			// What Write allocates does not grow with the weights.
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			if _, err := onnx.Write(io.Discard, net, onnx.Options{Seed: 2}); err != nil {
				t.Fatal(err)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; tc.name == "max" && alloc > uint64(len(want))/4 {
				t.Errorf("Write allocated %d bytes for a %d-byte model: it holds the weights", alloc, len(want))
			}
		})
	}
}

// failingWriter accepts left bytes, then fails.
type failingWriter struct{ left int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n := w.left
		w.left = 0
		return n, errors.New("disk full")
	}
	w.left -= len(p)
	return len(p), nil
}

// growTo is a Rewrite that grows the initializers named in dims to them
// and records the error of each call.
func growTo(dims map[string][]int64, errs map[string]error) func(*onnxpb.ModelProto, onnx.Grow) error {
	return func(m *onnxpb.ModelProto, grow onnx.Grow) error {
		for _, t := range m.GetGraph().GetInitializer() {
			if d, ok := dims[t.GetName()]; ok {
				errs[t.GetName()] = grow(t, d)
			}
		}
		return nil
	}
}

// TestGrow: a Rewrite's Grow pads a weight to larger dims with values of
// its distribution, alike in Export, Build and WriteExternal (a small
// tensor's bytes in the model, a large one a window of the weight file
// as long as its new dims); it refuses smaller dims, more than twice a
// dimension, another rank and tensors that are not the export's weights.
func TestGrow(t *testing.T) {
	sp, err := spaces(t).Get("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	net, err := sp.Network(sp.MinArch(sp.Resolutions[0]))
	if err != nil {
		t.Fatal(err)
	}
	const small, large = "stem.conv.weight", "head.conv1.conv.weight"
	m, err := onnx.Build(net, onnx.Options{Seed: 1, FoldBN: true})
	if err != nil {
		t.Fatal(err)
	}
	before := map[string][]int64{}
	for _, i := range m.Graph.Initializer {
		before[i.GetName()] = i.GetDims()
	}
	if before[small] == nil || before[large] == nil {
		t.Fatalf("the net has no %s or %s: %v", small, large, before)
	}
	double := func(d []int64, ks ...int) []int64 {
		d = slices.Clone(d)
		for _, k := range ks {
			d[k] *= 2
		}
		return d
	}
	want := map[string][]int64{small: double(before[small], 0), large: double(before[large], 0, 1)}
	size := func(d []int64) int64 {
		n := int64(4)
		for _, x := range d {
			n *= x
		}
		return n
	}
	// Export writes the bytes Build's model marshals to.
	errs := map[string]error{}
	opts := onnx.Options{Seed: 1, FoldBN: true, Rewrite: growTo(want, errs)}
	got, err := onnx.Export(net, opts)
	if err != nil || errs[small] != nil || errs[large] != nil {
		t.Fatalf("Export: %v, grow: %v", err, errs)
	}
	bm, err := onnx.Build(net, opts)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := (proto.MarshalOptions{Deterministic: true}).Marshal(bm); !bytes.Equal(got, b) {
		t.Error("Export and Build disagree on a grown model")
	}
	for _, i := range bm.Graph.Initializer {
		if d, ok := want[i.GetName()]; ok && (!slices.Equal(i.GetDims(), d) || int64(len(i.GetRawData())) != size(d)) {
			t.Errorf("%s: dims %v, %d bytes; want %v, %d bytes", i.GetName(), i.GetDims(), len(i.GetRawData()), d, size(d))
		}
	}
	// WriteExternal: the large one a window of the file as long as its
	// dims, the small one in the model.
	f, err := os.Create(filepath.Join(t.TempDir(), "weights"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := onnx.NewWeights(f, "weights", 1)
	var buf bytes.Buffer
	if _, err := onnx.WriteExternal(&buf, net, opts, w); err != nil {
		t.Fatal(err)
	}
	var em onnxpb.ModelProto
	if err := proto.Unmarshal(buf.Bytes(), &em); err != nil {
		t.Fatal(err)
	}
	for _, i := range em.Graph.Initializer {
		switch i.GetName() {
		case small:
			if !slices.Equal(i.GetDims(), want[small]) || int64(len(i.GetRawData())) != size(want[small]) {
				t.Errorf("external %s: dims %v, %d bytes in the model", small, i.GetDims(), len(i.GetRawData()))
			}
		case large:
			ext := map[string]string{}
			for _, e := range i.GetExternalData() {
				ext[e.GetKey()] = e.GetValue()
			}
			off, _ := strconv.ParseInt(ext["offset"], 10, 64)
			n, _ := strconv.ParseInt(ext["length"], 10, 64)
			if !slices.Equal(i.GetDims(), want[large]) || n != size(want[large]) || off+n > w.Size() {
				t.Errorf("external %s: dims %v, window %d+%d of a %d-byte file; want %v, %d bytes", large, i.GetDims(), off, n, w.Size(), want[large], size(want[large]))
			}
		}
	}
	for _, c := range []struct {
		why  string
		dims []int64
	}{
		{"another rank", double(before[small][:3])},
		{"smaller", append([]int64{before[small][0] - 8}, before[small][1:]...)},
		{"more than twice", append([]int64{4 * before[small][0]}, before[small][1:]...)},
	} {
		errs := map[string]error{}
		if _, err := onnx.Build(net, onnx.Options{Seed: 1, FoldBN: true, Rewrite: growTo(map[string][]int64{small: c.dims}, errs)}); err != nil {
			t.Fatal(err)
		}
		if errs[small] == nil {
			t.Errorf("grow %s %v to %v (%s): no error", small, before[small], c.dims, c.why)
		}
	}
	// A tensor that is not one of the export's weights.
	var foreign error
	if _, err := onnx.Build(net, onnx.Options{Seed: 1, FoldBN: true, Rewrite: func(m *onnxpb.ModelProto, grow onnx.Grow) error {
		foreign = grow(&onnxpb.TensorProto{Name: proto.String("stem.conv.other"), Dims: []int64{1}}, []int64{2})
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	if foreign == nil {
		t.Error("grow of a tensor that is not a weight of the export: no error")
	}
}
