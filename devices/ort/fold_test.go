package ort

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"blockprof/model/modeltest"
	"blockprof/model/onnx"
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
				graphs[i] = ranGraph(t, rt, data, nil)
			}
			if graphs[0] != graphs[1] {
				t.Errorf("ONNX Runtime runs another graph for the folded model:\nunfolded:\n%s\nfolded:\n%s", graphs[0], graphs[1])
			}
		})
	}
}

// ranGraph loads model in a session of rt with the device's cpu options,
// plus tune if not nil, and describes the graph ONNX Runtime optimised it
// into (savedGraph).
func ranGraph(t *testing.T, rt *Runtime, model []byte, tune func(*onnxruntime.SessionOptions) error) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "optimized.onnx")
	opts := cpuOptions()
	opts.tune = tune
	s, err := rt.NewSession(model, savingOptimized(opts, out, ""))
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	g, err := savedGraph(out)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestLoopLevelIsWhatORTRuns: the graph ONNX Runtime runs is the same
// whether it repeats its optimisation passes until nothing changes (its
// default, loop level 1) or runs them once (level 0, what newSession sets
// to build sessions faster), on the smallest and largest net of every
// space.
func TestLoopLevelIsWhatORTRuns(t *testing.T) {
	rt := testRuntime(t)
	for _, e := range modeltest.Extremes(t) {
		t.Run(e.Name(), func(t *testing.T) {
			data, err := onnx.Export(e.Network(t), onnx.Options{Seed: 1, FoldBN: true})
			if err != nil {
				t.Fatal(err)
			}
			var graphs [2]string
			for i, level := range []string{"1", "0"} {
				graphs[i] = ranGraph(t, rt, data, func(so *onnxruntime.SessionOptions) error {
					if err := so.AddSessionConfigEntry("session.graph_optimizations_loop_level", level); err != nil {
						return err
					}
					if got, err := so.GetSessionConfigEntry("session.graph_optimizations_loop_level"); err != nil || got != level {
						return fmt.Errorf("loop level %q not set: got %q, %v", level, got, err)
					}
					return nil
				})
			}
			if graphs[0] != graphs[1] {
				t.Errorf("ONNX Runtime runs another graph at loop level 0:\nlevel 1:\n%s\nlevel 0:\n%s", graphs[0], graphs[1])
			}
		})
	}
}
