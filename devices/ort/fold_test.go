package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/proto"

	"blockprof/model/modeltest"
	"blockprof/model/onnx"
	"blockprof/model/onnx/onnxpb"
)

// TestFoldBNIsWhatORTRuns: ONNX Runtime, at the optimisation level the
// device uses, turns a model with its batch normalisations and the same
// model with them folded into the convs (onnx.Options.FoldBN, what the
// device loads) into the same graph: the same nodes with the same
// attributes, each fed by the same kinds of node, and initializers of the
// same shapes. (The order in which ONNX Runtime saves the nodes differs:
// the NCHWc ReorderOutput of an SE branch is listed at another place.) So the
// fold changes what ONNX Runtime has to do while loading, not what is
// timed. Checked on the smallest net of every space (MBConv with and
// without SE, plain convs with BN in stems and heads, ResNet bottlenecks
// with downsampling shortcuts).
func TestFoldBNIsWhatORTRuns(t *testing.T) {
	rt := testRuntime(t)
	ss := modeltest.Spaces(t)
	for _, name := range ss.Names() {
		sp, err := ss.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(name, func(t *testing.T) {
			net, err := sp.Network(sp.MinArch(sp.Resolutions[0]))
			if err != nil {
				t.Fatal(err)
			}
			var graphs [2]string
			for i, fold := range []bool{false, true} {
				data, err := onnx.Export(net, onnx.Options{Seed: 1, FoldBN: fold})
				if err != nil {
					t.Fatal(err)
				}
				if n := strings.Count(string(data), "BatchNormalization"); (n > 0) == fold {
					t.Fatalf("fold %v: %d BatchNormalization in the model", fold, n)
				}
				out := filepath.Join(t.TempDir(), "optimized.onnx")
				opts := cpuOptions()
				opts.tune = func(so *onnxruntime.SessionOptions) error { return so.SetOptimizedModelFilePath(out) }
				s, err := rt.NewSession(data, opts)
				if err != nil {
					t.Fatal(err)
				}
				s.Close()
				graphs[i] = optimizedGraph(t, out)
			}
			if graphs[0] != graphs[1] {
				t.Errorf("ONNX Runtime runs another graph for the folded model:\nunfolded:\n%s\nfolded:\n%s", graphs[0], graphs[1])
			}
		})
	}
}

// optimizedGraph describes the model ONNX Runtime saved: one line per node
// (domain, op, attributes, and what feeds each input: the producing node's
// op, an initializer's shape or the graph input), sorted, and the
// initializers' shapes, sorted.
func optimizedGraph(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	g := m.GetGraph()
	source := map[string]string{}
	var shapes []string
	for _, tp := range g.GetInitializer() {
		source[tp.GetName()] = fmt.Sprint("init", tp.GetDims())
		shapes = append(shapes, fmt.Sprint(tp.GetDims()))
	}
	for _, in := range g.GetInput() {
		source[in.GetName()] = "input"
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			source[o] = n.GetDomain() + "." + n.GetOpType()
		}
	}
	var lines []string
	for _, n := range g.GetNode() {
		var b strings.Builder
		fmt.Fprintf(&b, "%s.%s out=%d", n.GetDomain(), n.GetOpType(), len(n.GetOutput()))
		attrs := slices.Clone(n.GetAttribute())
		slices.SortFunc(attrs, func(a, b *onnxpb.AttributeProto) int { return strings.Compare(a.GetName(), b.GetName()) })
		for _, a := range attrs {
			fmt.Fprintf(&b, " %s=%v/%v/%v/%v/%s", a.GetName(), a.GetI(), a.GetF(), a.GetInts(), a.GetFloats(), a.GetS())
		}
		b.WriteString(" <-")
		for _, in := range n.GetInput() {
			b.WriteString(" " + source[in])
		}
		lines = append(lines, b.String())
	}
	slices.Sort(lines)
	slices.Sort(shapes)
	return strings.Join(lines, "\n") + "\ninitializers " + strings.Join(shapes, " ")
}
