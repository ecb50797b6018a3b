package ort

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"blockprof/model"
	"blockprof/model/onnx"
	"blockprof/model/onnx/onnxpb"
)

// testRuntime loads ONNX Runtime the way blockprof does, or skips the test
// or benchmark when no library is installed (CI runs scripts/setup-ort.sh
// first).
func testRuntime(t testing.TB) *Runtime {
	t.Helper()
	path, err := FindLibrary("")
	if errors.Is(err, ErrNoLibrary) {
		t.Skipf("skipping: needs the ONNX Runtime library: %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	rt, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return rt
}

// testWorkDir makes a work directory with the tests' weight seed in a
// temporary directory of tb, removed when tb ends.
func testWorkDir(tb testing.TB) *workDir {
	tb.Helper()
	w, err := newWorkDir(tb.TempDir(), weightSeed)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { w.Close() })
	return w
}

// cpuOptions are the embedded config's cpu device's session settings: 1
// thread, optimisation all, batch 1.
func cpuOptions() Options {
	return Options{IntraOpThreads: 1, InterOpThreads: 1, Optimization: "all", Batch: 1, SharedArena: true}
}

// medianRun runs s twice untimed, then 20 times timed, and returns the
// median run in milliseconds.
func medianRun(tb testing.TB, s *Session) float64 {
	tb.Helper()
	var rr []float64
	for range 22 {
		t0 := time.Now()
		if err := s.Run(context.Background()); err != nil {
			tb.Fatal(err)
		}
		rr = append(rr, ms(time.Since(t0)))
	}
	return median(rr[2:])
}

// loadViaMemory exports net into memory and loads it in a session of rt
// from there: the device before issue 14 (BenchmarkLoad's "memory").
func loadViaMemory(rt *Runtime, net *model.Network, so Options) (*Session, error) {
	data, err := onnx.Export(net, onnx.Options{Seed: weightSeed})
	if err != nil {
		return nil, err
	}
	return rt.NewSession(data, so)
}

// loadViaFile streams net's export (Export's bytes) to a new file in dir
// and loads it in a session of rt: the way the device loaded models between
// its in-memory export and its weight file (BenchmarkLoad's "file").
func loadViaFile(rt *Runtime, dir string, net *model.Network, so Options) (*Session, error) {
	f, err := os.CreateTemp(dir, "model-*.onnx")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	m, err := onnx.Write(f, net, onnx.Options{Seed: weightSeed})
	if err != nil {
		return nil, err
	}
	return rt.NewSessionFile(f.Name(), m.Inputs, m.Outputs, so)
}

func TestFindLibrary(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so")
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cacheWith := t.TempDir()
	cached := filepath.Join(cacheWith, "blockprof", "onnxruntime", LibraryVersion, libraryName())
	if err := os.MkdirAll(filepath.Dir(cached), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cached, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyCache := t.TempDir()
	missing := filepath.Join(dir, "nope.so")

	tests := []struct {
		name     string
		explicit string
		env      string
		cache    string
		want     string
		errHas   []string
		noLib    bool
	}{
		{name: "explicit wins", explicit: lib, env: missing, cache: cacheWith, want: lib},
		{name: "explicit missing is an error", explicit: missing, cache: cacheWith, errHas: []string{missing, "library", "no such file"}},
		{name: "explicit is a directory", explicit: dir, errHas: []string{"directory"}},
		{name: "env next", env: lib, cache: cacheWith, want: lib},
		{name: "env missing is an error", env: missing, cache: cacheWith, errHas: []string{missing, LibraryEnv}},
		{name: "cache last", cache: cacheWith, want: cached},
		{name: "nothing says how to get it", cache: emptyCache, noLib: true,
			errHas: []string{"bash scripts/setup-ort.sh", LibraryEnv + "=", filepath.Join(emptyCache, "blockprof", "onnxruntime", LibraryVersion)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string {
				if k == LibraryEnv {
					return tc.env
				}
				return ""
			}
			cacheDir := func() (string, error) { return tc.cache, nil }
			got, err := findLibrary(tc.explicit, getenv, cacheDir)
			if tc.errHas != nil {
				if err == nil {
					t.Fatalf("got %q, want an error", got)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not mention %q", err, s)
					}
				}
				if errors.Is(err, ErrNoLibrary) != tc.noLib {
					t.Errorf("errors.Is(err, ErrNoLibrary) = %v, want %v", !tc.noLib, tc.noLib)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		opts Options
		ok   bool
	}{
		{Options{}, true},
		{Options{IntraOpThreads: 4, InterOpThreads: 1, Optimization: "extended", Batch: 8}, true},
		{Options{Optimization: "disable"}, true},
		{Options{Optimization: "basic"}, true},
		{Options{Optimization: "all"}, true},
		{Options{Optimization: "O3"}, false},
		{Options{IntraOpThreads: -1}, false},
		{Options{InterOpThreads: -2}, false},
		{Options{Batch: -1}, false},
	}
	for _, tc := range tests {
		if err := tc.opts.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.opts, err, tc.ok)
		}
	}
}

// tinyNet is Conv(3×3, stride 2, pad 1, bias) → Relu → GlobalAveragePool →
// Flatten → Gemm (transB) with a symbolic batch dimension.
type tinyNet struct {
	cin, cout, hw, classes int
	convW, convB           []float32 // [cout][cin][3][3], [cout]
	fcW, fcB               []float32 // [classes][cout], [classes]
}

func newTinyNet() tinyNet {
	n := tinyNet{cin: 2, cout: 3, hw: 5, classes: 4}
	fill := func(k int, scale float32) []float32 {
		v := make([]float32, k)
		for i := range v {
			v[i] = scale * float32((i*7)%11-5) / 5
		}
		return v
	}
	n.convW = fill(n.cout*n.cin*9, 0.5)
	n.convB = fill(n.cout, 0.1)
	n.fcW = fill(n.classes*n.cout, 1)
	n.fcB = fill(n.classes, 0.2)
	return n
}

func raw(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func valueInfo(name string, dims ...any) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		dim := &onnxpb.TensorShapeProto_Dimension{}
		switch d := d.(type) {
		case int:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: int64(d)}
		case string:
			dim.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: d}
		}
		shape.Dim = append(shape.Dim, dim)
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape}}},
	}
}

func (n tinyNet) model(t testing.TB) []byte {
	t.Helper()
	init := func(name string, v []float32, dims ...int64) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
			DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw(v)}
	}
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
	}
	one := func(name string, v int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
	}
	node := func(op string, in []string, out string, attrs ...*onnxpb.AttributeProto) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out), Input: in, Output: []string{out}, Attribute: attrs}
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("tiny"),
			Node: []*onnxpb.NodeProto{
				node("Conv", []string{"x", "conv.w", "conv.b"}, "c", ints("kernel_shape", 3, 3), ints("strides", 2, 2), ints("pads", 1, 1, 1, 1)),
				node("Relu", []string{"c"}, "r"),
				node("GlobalAveragePool", []string{"r"}, "g"),
				node("Flatten", []string{"g"}, "f", one("axis", 1)),
				node("Gemm", []string{"f", "fc.w", "fc.b"}, "y", one("transB", 1)),
			},
			Initializer: []*onnxpb.TensorProto{
				init("conv.w", n.convW, int64(n.cout), int64(n.cin), 3, 3),
				init("conv.b", n.convB, int64(n.cout)),
				init("fc.w", n.fcW, int64(n.classes), int64(n.cout)),
				init("fc.b", n.fcB, int64(n.classes)),
			},
			Input:  []*onnxpb.ValueInfoProto{valueInfo("x", "batch", n.cin, n.hw, n.hw)},
			Output: []*onnxpb.ValueInfoProto{valueInfo("y", "batch", n.classes)},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// forward computes the tiny net in Go (float64) for a batch of inputs.
func (n tinyNet) forward(x []float32, batch int) []float64 {
	oh := (n.hw+2-3)/2 + 1
	y := make([]float64, batch*n.classes)
	for b := 0; b < batch; b++ {
		pooled := make([]float64, n.cout)
		for co := 0; co < n.cout; co++ {
			var sum float64
			for i := 0; i < oh; i++ {
				for j := 0; j < oh; j++ {
					acc := float64(n.convB[co])
					for ci := 0; ci < n.cin; ci++ {
						for ki := 0; ki < 3; ki++ {
							for kj := 0; kj < 3; kj++ {
								r, c := 2*i-1+ki, 2*j-1+kj
								if r < 0 || c < 0 || r >= n.hw || c >= n.hw {
									continue
								}
								acc += float64(n.convW[((co*n.cin+ci)*3+ki)*3+kj]) * float64(x[((b*n.cin+ci)*n.hw+r)*n.hw+c])
							}
						}
					}
					sum += max(acc, 0)
				}
			}
			pooled[co] = sum / float64(oh*oh)
		}
		for k := 0; k < n.classes; k++ {
			acc := float64(n.fcB[k])
			for co := 0; co < n.cout; co++ {
				acc += float64(n.fcW[k*n.cout+co]) * pooled[co]
			}
			y[b*n.classes+k] = acc
		}
	}
	return y
}

func TestSessionTinyNet(t *testing.T) {
	rt := testRuntime(t)
	if v := rt.Version(); v == "" || !strings.Contains(v, ".") {
		t.Errorf("Version() = %q, want a version like %s", v, LibraryVersion)
	}
	net := newTinyNet()
	model := net.model(t)
	for _, tc := range []Options{
		{IntraOpThreads: 1, Optimization: "disable"},
		{IntraOpThreads: 1, Optimization: "basic", Batch: 2},
		{IntraOpThreads: 2, Optimization: "extended", Batch: 3},
		{IntraOpThreads: 1, InterOpThreads: 2, Optimization: "all"},
	} {
		sess, err := rt.NewSession(model, tc)
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		batch := max(tc.Batch, 1)
		in, out := sess.Inputs(), sess.Outputs()
		if len(in) != 1 || in[0].Name != "x" || !equal(in[0].Shape, int64(batch), 2, 5, 5) {
			t.Fatalf("%+v: inputs %+v", tc, in)
		}
		if len(out) != 1 || out[0].Name != "y" || !equal(out[0].Shape, int64(batch), 4) {
			t.Fatalf("%+v: outputs %+v", tc, out)
		}
		for run := 0; run < 2; run++ {
			clear(out[0].Data)
			if err := sess.Run(context.Background()); err != nil {
				t.Fatalf("%+v: run %d: %v", tc, run, err)
			}
			want := net.forward(in[0].Data, batch)
			for i, w := range want {
				if got := float64(out[0].Data[i]); math.Abs(got-w) > 1e-4*(1+math.Abs(w)) {
					t.Errorf("%+v: run %d: output[%d] = %v, want %v", tc, run, i, got, w)
				}
			}
		}
		if err := sess.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if err := sess.Close(); err != nil {
			t.Errorf("second close: %v", err)
		}
	}
}

func equal(s []int64, want ...int64) bool {
	if len(s) != len(want) {
		return false
	}
	for i := range s {
		if s[i] != want[i] {
			return false
		}
	}
	return true
}

func TestLoadTwice(t *testing.T) {
	rt := testRuntime(t)
	again, err := Load(rt.Path())
	if err != nil || again != rt {
		t.Fatalf("second Load = %p, %v; want the same runtime %p", again, err, rt)
	}
	other := filepath.Join(t.TempDir(), "libonnxruntime.so")
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(other); err == nil || !strings.Contains(err.Error(), "already loaded") {
		t.Fatalf("Load of a second library: %v, want an 'already loaded' error", err)
	}
}

// bigConv is one 3×3 conv heavy enough (≈0.6 GMAC) to be cancelled mid-run.
func bigConv(t *testing.T) []byte {
	t.Helper()
	const c, hw = 64, 128
	w := make([]float32, c*c*9)
	for i := range w {
		w[i] = float32(i%5) / 50
	}
	m := &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: proto.Int64(17)}},
		Graph: &onnxpb.GraphProto{
			Name: proto.String("big"),
			Node: []*onnxpb.NodeProto{{OpType: proto.String("Conv"), Input: []string{"x", "w"}, Output: []string{"y"},
				Attribute: []*onnxpb.AttributeProto{{Name: proto.String("pads"), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: []int64{1, 1, 1, 1}}}}},
			Initializer: []*onnxpb.TensorProto{{Name: proto.String("w"), Dims: []int64{c, c, 3, 3},
				DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw(w)}},
			Input:  []*onnxpb.ValueInfoProto{valueInfo("x", 1, c, hw, hw)},
			Output: []*onnxpb.ValueInfoProto{valueInfo("y", 1, c, hw, hw)},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRunCancel(t *testing.T) {
	rt := testRuntime(t)
	sess, err := rt.NewSession(bigConv(t), Options{IntraOpThreads: 1, Optimization: "disable"})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()

	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sess.Run(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context = %v, want context.Canceled", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(5*time.Millisecond, cancel)
	start := time.Now()
	for {
		err = sess.Run(ctx)
		if err != nil || time.Since(start) > time.Minute {
			break
		}
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run while cancelling = %v, want context.Canceled", err)
	}
	// The terminate flag is cleared: the session runs again.
	if err := sess.Run(context.Background()); err != nil {
		t.Fatalf("Run after a cancelled run: %v", err)
	}
}

func TestNewSessionRejects(t *testing.T) {
	rt := testRuntime(t)
	good := newTinyNet().model(t)
	tests := []struct {
		name   string
		model  []byte
		opts   Options
		errHas string
	}{
		{"bad optimization", good, Options{Optimization: "max"}, "optimization"},
		{"not a model", []byte("not an onnx model at all"), Options{}, "ONNX"},
		{"empty", nil, Options{}, "no graph"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := rt.NewSession(tc.model, tc.opts)
			if err == nil {
				s.Close()
				t.Fatal("want an error")
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q does not mention %q", err, tc.errHas)
			}
		})
	}
}
