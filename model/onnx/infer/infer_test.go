package infer_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"blockprof/devices/ort"
	"blockprof/devices/ort/orttest"
	"blockprof/model"
	"blockprof/model/modeltest"
	"blockprof/model/onnx"
	"blockprof/model/onnx/infer"
)

// nets are small networks of every space: min arch, a random arch, and (for
// the mobile spaces) the max arch, at small resolutions.
func nets(t *testing.T) map[string]*model.Network {
	t.Helper()
	out := map[string]*model.Network{}
	ss := modeltest.Spaces(t)
	for _, name := range ss.Names() {
		s, err := ss.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		r := s.Resolutions[0]
		archs := map[string]model.Arch{
			"min":    s.MinArch(r),
			"random": s.Sample(rand.New(rand.NewPCG(7, 11)), r),
		}
		if name != "ofa-resnet50" {
			archs["max"] = s.MaxArch(r)
		}
		for what, a := range archs {
			net, err := s.Network(a)
			if err != nil {
				t.Fatal(err)
			}
			out[name+"/"+what] = net
		}
	}
	return out
}

// relL2 is ‖a-b‖/‖b‖.
func relL2(a, b []float32) float64 {
	var d, n float64
	for i := range a {
		d += float64(a[i]-b[i]) * float64(a[i]-b[i])
		n += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(d / n)
}

// TestMatchesORT runs the same exported model in the interpreter and in
// ONNX Runtime (optimisations off) on the same input: the outputs agree to
// relative L2 ≤ 1e-4. Under the race detector only the min archs run (the
// goroutines are the same); .ci/run runs all of them without it.
func TestMatchesORT(t *testing.T) {
	rt := orttest.Runtime(t)
	for name, net := range nets(t) {
		if raceEnabled && !strings.HasSuffix(name, "/min") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			m, err := onnx.Build(net, onnx.Options{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			data, err := onnx.Export(net, onnx.Options{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			sess, err := rt.NewSession(data, ort.Options{IntraOpThreads: 1, Optimization: "disable"})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Close()
			if err := sess.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			in := sess.Inputs()[0]
			want := sess.Outputs()[0].Data

			md, err := infer.New(m)
			if err != nil {
				t.Fatal(err)
			}
			shape := make([]int, len(in.Shape))
			for i, d := range in.Shape {
				shape[i] = int(d)
			}
			if !slices.Equal(shape, md.InputShape()) {
				t.Fatalf("input shape %v, interpreter %v", shape, md.InputShape())
			}
			got, err := md.Run(context.Background(), &infer.Tensor{Shape: shape, Data: slices.Clone(in.Data)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Data) != len(want) {
				t.Fatalf("%d outputs, ORT %d", len(got.Data), len(want))
			}
			if e := relL2(got.Data, want); !(e <= 1e-4) {
				t.Errorf("relative L2 error %.3g vs ONNX Runtime, want ≤ 1e-4", e)
			} else {
				t.Logf("relative L2 error %.2g", e)
			}
		})
	}
}

// TestCalibrate checks the ranges cover every tensor, contain the output's
// values, and grow (never shrink) with more inputs.
func TestCalibrate(t *testing.T) {
	s := modeltest.Space(t, "ofa-mbv3")
	net, err := s.Network(s.MinArch(s.Resolutions[0]))
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Build(net, onnx.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	md, err := infer.New(m)
	if err != nil {
		t.Fatal(err)
	}
	ins := infer.RandomInputs(md.InputShape(), 3, 1)
	if slices.Equal(ins[0].Data, ins[1].Data) {
		t.Fatal("random inputs are equal")
	}
	one, err := infer.Calibrate(context.Background(), md, ins[:1])
	if err != nil {
		t.Fatal(err)
	}
	all, err := infer.Calibrate(context.Background(), md, ins)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(all), len(m.GetGraph().GetNode())+1; got != want {
		t.Errorf("%d ranges, want one per node output plus the input = %d", got, want)
	}
	for name, r := range all {
		o := one[name]
		if r.Min > o.Min || r.Max < o.Max || r.Min > r.Max {
			t.Errorf("%s: range over 3 inputs %v does not contain the one over 1 %v", name, r, o)
		}
	}
	if in := all[onnx.InputName]; in.Min < -1 || in.Max > 1 || in.Max-in.Min < 1.9 {
		t.Errorf("input range %v, want about [-1, 1)", in)
	}
	out, err := md.Run(context.Background(), ins[2], nil)
	if err != nil {
		t.Fatal(err)
	}
	r := all[onnx.OutputName]
	for _, v := range out.Data {
		if v < r.Min || v > r.Max {
			t.Fatalf("output value %v outside its calibrated range %v", v, r)
		}
	}
	// Relu outputs start at 0; HardSigmoid gates lie in [0, 1].
	for _, n := range m.GetGraph().GetNode() {
		r := all[n.GetOutput()[0]]
		switch n.GetOpType() {
		case "Relu":
			if r.Min != 0 {
				t.Errorf("%s: Relu range %v", n.GetName(), r)
			}
		case "HardSigmoid":
			if r.Min < 0 || r.Max > 1 {
				t.Errorf("%s: HardSigmoid range %v", n.GetName(), r)
			}
		}
	}
}

// TestCancel stops a run when its context ends, before the first node.
func TestCancel(t *testing.T) {
	s := modeltest.Space(t, "ofa-resnet50")
	net, err := s.Network(s.MinArch(s.Resolutions[0]))
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Build(net, onnx.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	md, err := infer.New(m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := infer.Calibrate(ctx, md, infer.RandomInputs(md.InputShape(), 1, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

// TestRejects names the unsupported op and a wrong input shape.
func TestRejects(t *testing.T) {
	s := modeltest.Space(t, "ofa-mbv3")
	net, err := s.Network(s.MinArch(s.Resolutions[0]))
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Build(net, onnx.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	md, err := infer.New(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := md.Run(context.Background(), infer.NewTensor(1, 3, 8, 8), nil); err == nil {
		t.Error("a wrong input shape ran")
	}
	op := m.GetGraph().GetNode()[0].OpType
	*op = "Softmax"
	if _, err := infer.New(m); err == nil || !strings.Contains(err.Error(), "Softmax") {
		t.Errorf("err %v, want it to name Softmax", err)
	}
}
