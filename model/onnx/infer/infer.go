// Package infer is a small pure-Go reference interpreter for the fp32 ONNX
// graphs that model/onnx builds, and the calibration that int8 export needs:
// the range (min, max) of every tensor over a few inputs.
//
// It runs NCHW float32 tensors through the ops model/onnx emits — Conv
// (with groups), BatchNormalization, Relu, Clip, HardSigmoid, HardSwish,
// Mul, Add (broadcasting), GlobalAveragePool, AveragePool, MaxPool,
// Flatten and Gemm — and refuses anything else by name. It is a reference,
// not a runtime: convolutions are direct loops, parallel over output
// channels with at most GOMAXPROCS goroutines, every one of which ends
// before the op returns (and at ctx's end).
package infer

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"blockprof/model/onnx"
	"blockprof/model/onnx/onnxpb"
)

// Tensor is a dense float32 tensor in row-major (C) order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NewTensor allocates a zero tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

func (t *Tensor) size() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// Model is a graph ready to run: its float initializers decoded once.
type Model struct {
	g     *onnxpb.GraphProto
	inits map[string]*Tensor
	input string
	shape []int
}

// New prepares m for Run. It checks that every node is an op the
// interpreter knows and that every initializer is float32.
func New(m *onnxpb.ModelProto) (*Model, error) {
	g := m.GetGraph()
	if g == nil {
		return nil, fmt.Errorf("onnx interpreter: the model has no graph")
	}
	md := &Model{g: g, inits: map[string]*Tensor{}}
	for _, in := range g.GetInitializer() {
		t, err := Decode(in)
		if err != nil {
			return nil, fmt.Errorf("onnx interpreter: initializer %q: %w", in.GetName(), err)
		}
		md.inits[in.GetName()] = t
	}
	for _, in := range g.GetInput() {
		if _, ok := md.inits[in.GetName()]; ok {
			continue
		}
		if md.input != "" {
			return nil, fmt.Errorf("onnx interpreter: graph inputs %q and %q: want one", md.input, in.GetName())
		}
		md.input = in.GetName()
		for _, d := range in.GetType().GetTensorType().GetShape().GetDim() {
			md.shape = append(md.shape, int(d.GetDimValue()))
		}
	}
	if md.input == "" {
		return nil, fmt.Errorf("onnx interpreter: the graph has no input")
	}
	for _, n := range g.GetNode() {
		if _, ok := ops[n.GetOpType()]; !ok {
			return nil, fmt.Errorf("onnx interpreter: node %q: op %s is not supported (supported: the ops model/onnx emits)", n.GetName(), n.GetOpType())
		}
	}
	return md, nil
}

// Input is the graph input's name.
func (m *Model) Input() string { return m.input }

// InputShape is the graph input's shape as declared (batch included).
func (m *Model) InputShape() []int { return append([]int(nil), m.shape...) }

// Initializer returns the decoded float initializer name (nil if none).
func (m *Model) Initializer(name string) *Tensor { return m.inits[name] }

// Decode reads a float32 TensorProto (raw_data or float_data).
func Decode(t *onnxpb.TensorProto) (*Tensor, error) {
	if dt := onnxpb.TensorProto_DataType(t.GetDataType()); dt != onnxpb.TensorProto_FLOAT {
		return nil, fmt.Errorf("data type %s: only FLOAT is supported", dt)
	}
	shape := make([]int, len(t.GetDims()))
	n := 1
	for i, d := range t.GetDims() {
		if d < 0 || d > math.MaxInt32 {
			return nil, fmt.Errorf("dimension %d = %d", i, d)
		}
		shape[i] = int(d)
		n *= int(d)
	}
	out := &Tensor{Shape: shape, Data: make([]float32, n)}
	switch raw := t.GetRawData(); {
	case raw != nil:
		if len(raw) != 4*n {
			return nil, fmt.Errorf("%d raw bytes for %d values", len(raw), n)
		}
		for i := range out.Data {
			out.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	default:
		if len(t.GetFloatData()) != n {
			return nil, fmt.Errorf("%d float values for shape %v", len(t.GetFloatData()), shape)
		}
		copy(out.Data, t.GetFloatData())
	}
	return out, nil
}

// Visit is called with every tensor the graph computes (the input
// included), by its ONNX name. The tensor must not be kept or changed.
type Visit func(name string, t *Tensor)

// Run computes the graph on x and returns its first output. visit, if not
// nil, sees every intermediate tensor. Tensors are freed as soon as no
// later node reads them.
func (m *Model) Run(ctx context.Context, x *Tensor, visit Visit) (*Tensor, error) {
	if len(m.shape) != len(x.Shape) {
		return nil, fmt.Errorf("onnx interpreter: input shape %v, the graph wants %v", x.Shape, m.shape)
	}
	for i := range m.shape {
		if m.shape[i] > 0 && m.shape[i] != x.Shape[i] {
			return nil, fmt.Errorf("onnx interpreter: input shape %v, the graph wants %v", x.Shape, m.shape)
		}
	}
	if x.size() != len(x.Data) {
		return nil, fmt.Errorf("onnx interpreter: input has %d values for shape %v", len(x.Data), x.Shape)
	}
	// Last use of every tensor, to free it.
	last := map[string]int{}
	for i, n := range m.g.GetNode() {
		for _, in := range n.GetInput() {
			last[in] = i
		}
	}
	outName := ""
	if outs := m.g.GetOutput(); len(outs) > 0 {
		outName = outs[0].GetName()
	}
	vals := map[string]*Tensor{m.input: x}
	if visit != nil {
		visit(m.input, x)
	}
	for i, n := range m.g.GetNode() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ins := make([]*Tensor, len(n.GetInput()))
		for j, name := range n.GetInput() {
			if name == "" {
				continue
			}
			t := vals[name]
			if t == nil {
				t = m.inits[name]
			}
			if t == nil {
				return nil, fmt.Errorf("onnx interpreter: node %q: input %q is not computed before it", n.GetName(), name)
			}
			ins[j] = t
		}
		out, err := ops[n.GetOpType()](ctx, n, ins)
		if err != nil {
			return nil, fmt.Errorf("onnx interpreter: node %q (%s): %w", n.GetName(), n.GetOpType(), err)
		}
		if len(n.GetOutput()) != 1 {
			return nil, fmt.Errorf("onnx interpreter: node %q: %d outputs, want 1", n.GetName(), len(n.GetOutput()))
		}
		name := n.GetOutput()[0]
		vals[name] = out
		if visit != nil {
			visit(name, out)
		}
		for _, in := range n.GetInput() {
			if last[in] == i && in != outName {
				delete(vals, in)
			}
		}
	}
	out := vals[outName]
	if out == nil {
		return nil, fmt.Errorf("onnx interpreter: graph output %q was not computed", outName)
	}
	return out, nil
}

type opFunc func(ctx context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error)

var ops = map[string]opFunc{
	"Conv":               conv,
	"BatchNormalization": batchNorm,
	"Relu":               unary(func(x float32) float32 { return max(x, 0) }),
	"Clip":               clip,
	"HardSigmoid":        hardSigmoid,
	"HardSwish":          unary(func(x float32) float32 { return x * min(max(x/6+0.5, 0), 1) }),
	"Mul":                binary2(func(a, b float32) float32 { return a * b }),
	"Add":                binary2(func(a, b float32) float32 { return a + b }),
	"GlobalAveragePool":  globalAveragePool,
	"AveragePool":        pool(false),
	"MaxPool":            pool(true),
	"Flatten":            flatten,
	"Gemm":               gemm,
}

func attrInt(n *onnxpb.NodeProto, name string, def int) int {
	if a := onnx.Attr(n, name); a != nil {
		return int(a.GetI())
	}
	return def
}

func attrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := onnx.Attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

func attrInts(n *onnxpb.NodeProto, name string, def ...int) []int {
	a := onnx.Attr(n, name)
	if a == nil {
		return def
	}
	out := make([]int, len(a.GetInts()))
	for i, v := range a.GetInts() {
		out[i] = int(v)
	}
	return out
}

func need(in []*Tensor, k int) error {
	if len(in) < k {
		return fmt.Errorf("%d inputs, want %d", len(in), k)
	}
	for i := range k {
		if in[i] == nil {
			return fmt.Errorf("input %d is missing", i)
		}
	}
	return nil
}

func need4(t *Tensor, what string) error {
	if len(t.Shape) != 4 {
		return fmt.Errorf("%s has shape %v, want N×C×H×W", what, t.Shape)
	}
	return nil
}

func unary(f func(float32) float32) opFunc {
	return func(_ context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
		if err := need(in, 1); err != nil {
			return nil, err
		}
		out := NewTensor(in[0].Shape...)
		for i, v := range in[0].Data {
			out.Data[i] = f(v)
		}
		return out, nil
	}
}

func clip(ctx context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
	lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
	if len(in) > 1 && in[1] != nil {
		lo = in[1].Data[0]
	}
	if len(in) > 2 && in[2] != nil {
		hi = in[2].Data[0]
	}
	return unary(func(x float32) float32 { return min(max(x, lo), hi) })(ctx, n, in)
}

func hardSigmoid(ctx context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
	a, b := attrFloat(n, "alpha", 0.2), attrFloat(n, "beta", 0.5)
	return unary(func(x float32) float32 { return min(max(a*x+b, 0), 1) })(ctx, n, in)
}

// binary2 is an elementwise op with numpy broadcasting.
func binary2(f func(a, b float32) float32) opFunc {
	return func(_ context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
		if err := need(in, 2); err != nil {
			return nil, err
		}
		a, b := in[0], in[1]
		rank := max(len(a.Shape), len(b.Shape))
		pad := func(s []int) []int {
			p := make([]int, rank)
			for i := range p {
				p[i] = 1
			}
			copy(p[rank-len(s):], s)
			return p
		}
		as, bs := pad(a.Shape), pad(b.Shape)
		shape := make([]int, rank)
		for i := range rank {
			switch {
			case as[i] == bs[i], bs[i] == 1:
				shape[i] = as[i]
			case as[i] == 1:
				shape[i] = bs[i]
			default:
				return nil, fmt.Errorf("shapes %v and %v do not broadcast", a.Shape, b.Shape)
			}
		}
		out := NewTensor(shape...)
		if len(a.Data) == len(out.Data) && len(b.Data) == len(out.Data) {
			for i := range out.Data {
				out.Data[i] = f(a.Data[i], b.Data[i])
			}
			return out, nil
		}
		// Strides of a and b in the output's index space (0 where broadcast).
		sa, sb := make([]int, rank), make([]int, rank)
		ma, mb := 1, 1
		for i := rank - 1; i >= 0; i-- {
			if as[i] != 1 {
				sa[i] = ma
			}
			if bs[i] != 1 {
				sb[i] = mb
			}
			ma *= as[i]
			mb *= bs[i]
		}
		idx := make([]int, rank)
		ia, ib := 0, 0
		for o := range out.Data {
			out.Data[o] = f(a.Data[ia], b.Data[ib])
			for d := rank - 1; d >= 0; d-- {
				idx[d]++
				ia += sa[d]
				ib += sb[d]
				if idx[d] < shape[d] {
					break
				}
				ia -= sa[d] * shape[d]
				ib -= sb[d] * shape[d]
				idx[d] = 0
			}
		}
		return out, nil
	}
}

func batchNorm(_ context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
	if err := need(in, 5); err != nil {
		return nil, err
	}
	x := in[0]
	if err := need4(x, "input"); err != nil {
		return nil, err
	}
	eps := attrFloat(n, "epsilon", 1e-5)
	N, C, HW := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	for i := 1; i < 5; i++ {
		if len(in[i].Data) != C {
			return nil, fmt.Errorf("input %d has %d values for %d channels", i, len(in[i].Data), C)
		}
	}
	out := NewTensor(x.Shape...)
	for c := range C {
		s := in[1].Data[c] / float32(math.Sqrt(float64(in[4].Data[c]+eps)))
		b := in[2].Data[c] - in[3].Data[c]*s
		for b0 := range N {
			off := (b0*C + c) * HW
			src, dst := x.Data[off:off+HW], out.Data[off:off+HW]
			for i, v := range src {
				dst[i] = v*s + b
			}
		}
	}
	return out, nil
}

func globalAveragePool(_ context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	if err := need4(x, "input"); err != nil {
		return nil, err
	}
	N, C, HW := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	out := NewTensor(N, C, 1, 1)
	for i := range N * C {
		var s float64
		for _, v := range x.Data[i*HW : (i+1)*HW] {
			s += float64(v)
		}
		out.Data[i] = float32(s / float64(HW))
	}
	return out, nil
}

// outSize is a pooled or convolved extent (ONNX's formula, ceil_mode
// included).
func outSize(in, k, stride, padBegin, padEnd int, ceil bool) int {
	num := in + padBegin + padEnd - k
	if ceil {
		o := (num+stride-1)/stride + 1
		// The last window must start inside the input or the left padding.
		if (o-1)*stride >= in+padBegin {
			o--
		}
		return o
	}
	return num/stride + 1
}

// pool is MaxPool or AveragePool (count_include_pad 0).
func pool(isMax bool) opFunc {
	return func(_ context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
		if err := need(in, 1); err != nil {
			return nil, err
		}
		x := in[0]
		if err := need4(x, "input"); err != nil {
			return nil, err
		}
		k := attrInts(n, "kernel_shape")
		st := attrInts(n, "strides", 1, 1)
		p := attrInts(n, "pads", 0, 0, 0, 0)
		if len(k) != 2 || len(st) != 2 || len(p) != 4 || attrInt(n, "count_include_pad", 0) != 0 {
			return nil, fmt.Errorf("unsupported attributes (kernel %v strides %v pads %v)", k, st, p)
		}
		ceil := attrInt(n, "ceil_mode", 0) != 0
		N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
		OH, OW := outSize(H, k[0], st[0], p[0], p[2], ceil), outSize(W, k[1], st[1], p[1], p[3], ceil)
		if OH < 1 || OW < 1 {
			return nil, fmt.Errorf("output %d×%d", OH, OW)
		}
		out := NewTensor(N, C, OH, OW)
		for nc := range N * C {
			src := x.Data[nc*H*W : (nc+1)*H*W]
			dst := out.Data[nc*OH*OW : (nc+1)*OH*OW]
			for oh := range OH {
				h0 := oh*st[0] - p[0]
				for ow := range OW {
					w0 := ow*st[1] - p[1]
					acc := float32(math.Inf(-1))
					if !isMax {
						acc = 0
					}
					cnt := 0
					for kh := range k[0] {
						h := h0 + kh
						if h < 0 || h >= H {
							continue
						}
						for kw := range k[1] {
							w := w0 + kw
							if w < 0 || w >= W {
								continue
							}
							v := src[h*W+w]
							if isMax {
								acc = max(acc, v)
							} else {
								acc += v
							}
							cnt++
						}
					}
					if !isMax && cnt > 0 {
						acc /= float32(cnt)
					}
					dst[oh*OW+ow] = acc
				}
			}
		}
		return out, nil
	}
}

func flatten(_ context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
	if err := need(in, 1); err != nil {
		return nil, err
	}
	x := in[0]
	axis := attrInt(n, "axis", 1)
	if axis < 0 || axis > len(x.Shape) {
		return nil, fmt.Errorf("axis %d for rank %d", axis, len(x.Shape))
	}
	a, b := 1, 1
	for i, d := range x.Shape {
		if i < axis {
			a *= d
		} else {
			b *= d
		}
	}
	return &Tensor{Shape: []int{a, b}, Data: x.Data}, nil
}

func gemm(ctx context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	a, w := in[0], in[1]
	if len(a.Shape) != 2 || len(w.Shape) != 2 || attrInt(n, "transA", 0) != 0 {
		return nil, fmt.Errorf("want A (M×K, not transposed) and B of rank 2, got %v and %v", a.Shape, w.Shape)
	}
	alpha, beta := attrFloat(n, "alpha", 1), attrFloat(n, "beta", 1)
	transB := attrInt(n, "transB", 0) != 0
	M, K := a.Shape[0], a.Shape[1]
	var N int
	if transB {
		N = w.Shape[0]
		if w.Shape[1] != K {
			return nil, fmt.Errorf("A %v and Bᵀ %v", a.Shape, w.Shape)
		}
	} else {
		N = w.Shape[1]
		if w.Shape[0] != K {
			return nil, fmt.Errorf("A %v and B %v", a.Shape, w.Shape)
		}
	}
	var bias *Tensor
	if len(in) > 2 && in[2] != nil {
		bias = in[2]
		if len(bias.Data) != N && len(bias.Data) != 1 {
			return nil, fmt.Errorf("bias of %d values for %d outputs", len(bias.Data), N)
		}
	}
	out := NewTensor(M, N)
	err := parallel(ctx, N, func(j int) {
		for i := range M {
			row := a.Data[i*K : (i+1)*K]
			var s float32
			if transB {
				col := w.Data[j*K : (j+1)*K]
				for k, v := range row {
					s += v * col[k]
				}
			} else {
				for k, v := range row {
					s += v * w.Data[k*N+j]
				}
			}
			s *= alpha
			if bias != nil {
				s += beta * bias.Data[j%len(bias.Data)]
			}
			out.Data[i*N+j] = s
		}
	})
	return out, err
}

func conv(ctx context.Context, n *onnxpb.NodeProto, in []*Tensor) (*Tensor, error) {
	if err := need(in, 2); err != nil {
		return nil, err
	}
	x, w := in[0], in[1]
	if err := need4(x, "input"); err != nil {
		return nil, err
	}
	if err := need4(w, "weight"); err != nil {
		return nil, err
	}
	group := attrInt(n, "group", 1)
	st := attrInts(n, "strides", 1, 1)
	p := attrInts(n, "pads", 0, 0, 0, 0)
	if d := attrInts(n, "dilations", 1, 1); len(d) != 2 || d[0] != 1 || d[1] != 1 {
		return nil, fmt.Errorf("dilations %v: only 1 is supported", d)
	}
	if len(st) != 2 || len(p) != 4 || st[0] < 1 || st[1] < 1 {
		return nil, fmt.Errorf("strides %v pads %v", st, p)
	}
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	M, CG, KH, KW := w.Shape[0], w.Shape[1], w.Shape[2], w.Shape[3]
	if group < 1 || C%group != 0 || M%group != 0 || C/group != CG {
		return nil, fmt.Errorf("input %v, weight %v, group %d", x.Shape, w.Shape, group)
	}
	if k := attrInts(n, "kernel_shape", KH, KW); len(k) != 2 || k[0] != KH || k[1] != KW {
		return nil, fmt.Errorf("kernel_shape %v, weight %v", k, w.Shape)
	}
	var bias []float32
	if len(in) > 2 && in[2] != nil {
		if len(in[2].Data) != M {
			return nil, fmt.Errorf("bias of %d values for %d channels", len(in[2].Data), M)
		}
		bias = in[2].Data
	}
	OH, OW := outSize(H, KH, st[0], p[0], p[2], false), outSize(W, KW, st[1], p[1], p[3], false)
	if OH < 1 || OW < 1 {
		return nil, fmt.Errorf("output %d×%d", OH, OW)
	}
	out := NewTensor(N, M, OH, OW)
	mg := M / group
	pointwise := KH == 1 && KW == 1 && st[0] == 1 && st[1] == 1 && p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0
	if pointwise && group == 1 {
		return out, pointwiseConv(ctx, x, w, bias, out)
	}
	err := parallel(ctx, N*M, func(job int) {
		b, m := job/M, job%M
		g := m / mg
		dst := out.Data[(b*M+m)*OH*OW : (b*M+m+1)*OH*OW]
		if bias != nil {
			for i := range dst {
				dst[i] = bias[m]
			}
		}
		for cg := range CG {
			c := g*CG + cg
			src := x.Data[(b*C+c)*H*W : (b*C+c+1)*H*W]
			wk := w.Data[(m*CG+cg)*KH*KW : (m*CG+cg+1)*KH*KW]
			if pointwise {
				axpy(dst, src, wk[0])
				continue
			}
			for kh := range KH {
				for kw := range KW {
					wv := wk[kh*KW+kw]
					// Output columns whose input column is inside.
					ow0, ow1 := validRange(OW, W, st[1], kw-p[1])
					if ow0 >= ow1 {
						continue
					}
					for oh := range OH {
						ih := oh*st[0] + kh - p[0]
						if ih < 0 || ih >= H {
							continue
						}
						row := src[ih*W : (ih+1)*W]
						d := dst[oh*OW : (oh+1)*OW]
						iw := ow0*st[1] + kw - p[1]
						if st[1] == 1 {
							axpy(d[ow0:ow1], row[iw:iw+ow1-ow0], wv)
							continue
						}
						for ow := ow0; ow < ow1; ow++ {
							d[ow] += wv * row[iw]
							iw += st[1]
						}
					}
				}
			}
		}
	})
	return out, err
}

// pwBlock is the number of output channels a 1×1 convolution computes
// together: each input value is loaded once for all of them.
const pwBlock = 4

// pointwiseConv is a 1×1, stride-1, unpadded, ungrouped convolution: per
// batch item a matrix product, in blocks of pwBlock output channels.
func pointwiseConv(ctx context.Context, x, w *Tensor, bias []float32, out *Tensor) error {
	N, C, HW := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	M := w.Shape[0]
	blocks := (M + pwBlock - 1) / pwBlock
	return parallel(ctx, N*blocks, func(job int) {
		b, m0 := job/blocks, (job%blocks)*pwBlock
		m1 := min(m0+pwBlock, M)
		dst := func(m int) []float32 { return out.Data[(b*M+m)*HW : (b*M+m+1)*HW] }
		if bias != nil {
			for m := m0; m < m1; m++ {
				d := dst(m)
				for i := range d {
					d[i] = bias[m]
				}
			}
		}
		if m1-m0 < pwBlock {
			for m := m0; m < m1; m++ {
				for c := range C {
					axpy(dst(m), x.Data[(b*C+c)*HW:(b*C+c+1)*HW], w.Data[m*C+c])
				}
			}
			return
		}
		d0, d1, d2, d3 := dst(m0), dst(m0+1), dst(m0+2), dst(m0+3)
		for c := range C {
			src := x.Data[(b*C+c)*HW : (b*C+c+1)*HW]
			w0, w1, w2, w3 := w.Data[m0*C+c], w.Data[(m0+1)*C+c], w.Data[(m0+2)*C+c], w.Data[(m0+3)*C+c]
			d0, d1, d2, d3 := d0[:len(src)], d1[:len(src)], d2[:len(src)], d3[:len(src)]
			for i, v := range src {
				d0[i] += w0 * v
				d1[i] += w1 * v
				d2[i] += w2 * v
				d3[i] += w3 * v
			}
		}
	})
}

// validRange is the range [lo, hi) of output columns o with 0 ≤ o·stride +
// off < in.
func validRange(outN, in, stride, off int) (lo, hi int) {
	lo = 0
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	hi = outN
	if last := (in - 1 - off); last < 0 {
		hi = 0
	} else if h := last/stride + 1; h < hi {
		hi = h
	}
	return lo, hi
}

// axpy adds a·x to y (len(x) ≥ len(y)).
func axpy(y, x []float32, a float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

// parallel runs f(0..n-1) on at most GOMAXPROCS goroutines, all of which
// have ended when it returns; it stops handing out jobs when ctx ends.
func parallel(ctx context.Context, n int, f func(int)) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if i%64 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			f(i)
		}
		return ctx.Err()
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				if ctx.Err() != nil {
					return
				}
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
	return ctx.Err()
}
