package onnx

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"blockprof/model"
	"blockprof/model/modeltest"
	"blockprof/model/onnx/onnxpb"
)

// externalValues writes net with WriteExternal into a fresh file beside
// ws's and returns the model and every external tensor's values read back
// from the weight file at path.
func externalValues(t *testing.T, net *model.Network, ws *Weights, path string) (*onnxpb.ModelProto, map[string][]float32) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), "model-*.onnx")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := WriteExternal(f, net, Options{Seed: 1}, ws)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != w.Size {
		t.Fatalf("Size %d, file %d bytes", w.Size, len(data))
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	weights, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string][]float32{}
	for _, tp := range m.GetGraph().GetInitializer() {
		if tp.GetDataLocation() != onnxpb.TensorProto_EXTERNAL {
			continue
		}
		kv := map[string]string{}
		for _, e := range tp.GetExternalData() {
			kv[e.GetKey()] = e.GetValue()
		}
		off, err1 := strconv.ParseInt(kv["offset"], 10, 64)
		n, err2 := strconv.Atoi(kv["length"])
		if err1 != nil || err2 != nil || kv["location"] != filepath.Base(path) || off%weightPage != 0 || off+int64(n) > int64(len(weights)) || tp.RawData != nil {
			t.Fatalf("%s: external data %v (file %d bytes): want location %s, a page-aligned offset, a window inside the file, no raw data",
				tp.GetName(), kv, len(weights), filepath.Base(path))
		}
		v := make([]float32, n/4)
		for i := range v {
			v[i] = math.Float32frombits(binary.LittleEndian.Uint32(weights[off+int64(4*i):]))
		}
		vals[tp.GetName()] = v
	}
	return &m, vals
}

// TestWriteExternal: the graph WriteExternal writes is Export's, node for
// node and tensor for tensor, with the pooled tensors' values in the
// weight file: within their bound rounded to the ladder, the same whatever
// was written to the file before, other numbers for another seed.
func TestWriteExternal(t *testing.T) {
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	small, err := sp.Network(sp.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	big, err := sp.Network(sp.MaxArch(224))
	if err != nil {
		t.Fatal(err)
	}
	open := func(seed uint64) (*Weights, string) {
		path := filepath.Join(t.TempDir(), "weights.bin")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return NewWeights(f, filepath.Base(path), seed), path
	}

	// The small net written alone, and after the big one grew the file.
	wsA, pathA := open(1)
	mA, valsA := externalValues(t, small, wsA, pathA)
	wsB, pathB := open(1)
	externalValues(t, big, wsB, pathB)
	_, valsB := externalValues(t, small, wsB, pathB)
	if len(valsA) == 0 || len(valsA) != len(valsB) {
		t.Fatalf("%d and %d external tensors", len(valsA), len(valsB))
	}
	for name, a := range valsA {
		if !slices.Equal(a, valsB[name]) {
			t.Errorf("%s: other values after another net grew the file", name)
		}
	}

	// Export's graph, with the values moved out.
	want, err := Build(small, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(mA.Graph.Node) != len(want.Graph.Node) || len(mA.Graph.Initializer) != len(want.Graph.Initializer) {
		t.Fatalf("%d nodes, %d initializers; Export has %d, %d", len(mA.Graph.Node), len(mA.Graph.Initializer), len(want.Graph.Node), len(want.Graph.Initializer))
	}
	for i, n := range mA.Graph.Node {
		if !proto.Equal(n, want.Graph.Node[i]) {
			t.Fatalf("node %d: %v, Export has %v", i, n, want.Graph.Node[i])
		}
	}
	inline := 0
	for i, tp := range mA.Graph.Initializer {
		w := want.Graph.Initializer[i]
		if tp.GetName() != w.GetName() || !slices.Equal(tp.Dims, w.Dims) {
			t.Fatalf("initializer %d: %s %v, Export has %s %v", i, tp.GetName(), tp.Dims, w.GetName(), w.Dims)
		}
		v, ok := valsA[tp.GetName()]
		if !ok {
			// Batch normalisation's statistics and the tensors under
			// minExternal (the biases), drawn from the same generator at
			// other points of its sequence.
			if tp.GetDataType() != w.GetDataType() || len(tp.RawData) != len(w.RawData) || tp.GetDataLocation() != onnxpb.TensorProto_DEFAULT {
				t.Errorf("%s: kept in the model as %v, Export has %v", tp.GetName(), tp, w)
			}
			if len(tp.RawData) < minExternal {
				inline++
			}
			continue
		}
		if 4*len(v) < minExternal {
			t.Errorf("%s: %d bytes in the weight file, under minExternal (%d)", tp.GetName(), 4*len(v), minExternal)
		}
		// Export's bound is the largest |value| it drew (to within a few
		// percent for a tensor this large); the ladder's is within 19%.
		var exportMax, extMax float64
		for i := 0; i+4 <= len(w.RawData); i += 4 {
			exportMax = max(exportMax, math.Abs(float64(math.Float32frombits(binary.LittleEndian.Uint32(w.RawData[i:])))))
		}
		for _, x := range v {
			extMax = max(extMax, math.Abs(float64(x)))
		}
		if len(v) >= 1000 && (extMax > 1.25*exportMax || extMax < 0.8*exportMax) {
			t.Errorf("%s: largest |value| %.4g, Export's %.4g: the bound moved more than the ladder's rounding", tp.GetName(), extMax, exportMax)
		}
	}

	if inline == 0 {
		t.Error("no tensor under minExternal kept in the model")
	}

	// Another seed, other numbers.
	wsC, pathC := open(2)
	_, valsC := externalValues(t, small, wsC, pathC)
	same := 0
	for name, a := range valsA {
		if slices.Equal(a, valsC[name]) {
			same++
		}
	}
	if same != 0 {
		t.Errorf("%d of %d tensors equal under another seed", same, len(valsA))
	}
}

// TestWriteExternalWithoutWeights names what is missing.
func TestWriteExternalWithoutWeights(t *testing.T) {
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	net, _ := sp.Network(sp.MinArch(160))
	if _, err := WriteExternal(nil, net, Options{}, nil); err == nil {
		t.Error("want an error without a weight file")
	}
}
