package ort

import (
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"blockprof/model/onnx"
	"blockprof/model/onnx/infer"
	"blockprof/model/onnx/onnxpb"
)

// NCHWc pre-layout. At optimisation level "all" on an x86 CPU, ONNX
// Runtime rewrites a model's convs and pools into its NCHWc ops (domain
// com.microsoft.nchwc: the channels in blocks of 8 with AVX2, 16 with
// AVX-512, the activation and a residual sum fused into the conv), reorders
// every conv's weights into that layout (padding channels up to whole
// blocks), and inserts ReorderInput/ReorderOutput where an NCHW op (the
// squeeze-and-excitation Mul, Flatten, a pool of padded channels) needs the
// plain layout. For
// these networks that rewrite is half of building a session, and its
// weight copies are most of the session's peak memory (docs/benchmarks.md,
// issue 14). prelayNCHWc writes the graph in that form already, so ONNX
// Runtime has nothing left to rewrite and loads the weights as they are:
// the graph it runs is the one it would have made (TestPrelaidIsWhatORTRuns
// compares the two on every space; Device checks it once per space on the
// machine it runs on, see prelayer). The weights are other random
// numbers in the same distribution (a reordering of random draws is random
// draws), which does not change what is timed.

// nchwcDomain is the domain of ONNX Runtime's NCHWc ops.
const nchwcDomain = "com.microsoft.nchwc"

// nchwcChannels is the channel multiple the pre-layout requires of every
// conv but a first one on the image: ONNX Runtime pads such channel counts
// up to its block (TestPrelaidIsWhatORTRuns), others it may rewrite
// differently, so such a net is left plain.
const nchwcChannels = 8

// errNotPrelaid says a graph has a node the pre-layout does not rewrite the
// way ONNX Runtime would; the model is then exported plain.
var errNotPrelaid = errors.New("not pre-laid in NCHWc")

// prelaid returns the export's Rewrite into the NCHWc form ONNX Runtime
// makes of a model on a CPU whose NCHWc block is block (prelayNCHWc).
func prelaid(block int64) func(*onnxpb.ModelProto, onnx.Grow) error {
	return func(m *onnxpb.ModelProto, grow onnx.Grow) error { return prelayNCHWc(m, grow, block) }
}

// prelayNCHWc rewrites m, a model/onnx export, into the NCHWc form ONNX
// Runtime makes of it on a CPU whose NCHWc block is block (see above),
// with grow padding the weights of convs whose channels are not whole
// blocks; it fails, leaving m as it was, for a graph it cannot rewrite so
// (an error of grow fails it as it is: the export then fails).
func prelayNCHWc(m *onnxpb.ModelProto, grow onnx.Grow, block int64) error {
	if block != 8 && block != 16 {
		return fmt.Errorf("%w: NCHWc block %d (ONNX Runtime's are 8 and 16)", errNotPrelaid, block)
	}
	g := m.GetGraph()
	r := &relayout{
		block:     block,
		inits:     map[string]*onnxpb.TensorProto{},
		producer:  map[string]*onnxpb.NodeProto{},
		consumers: map[string][]*onnxpb.NodeProto{},
		output:    map[string]bool{},
		blocked:   map[string]string{},
		plain:     map[string]bool{},
		chans:     map[string]int64{},
		skip:      map[*onnxpb.NodeProto]bool{},
		sumInto:   map[*onnxpb.NodeProto]*onnxpb.NodeProto{},
	}
	for _, t := range g.GetInitializer() {
		r.inits[t.GetName()] = t
	}
	for _, in := range g.GetInput() {
		r.plain[in.GetName()] = true
	}
	for _, o := range g.GetOutput() {
		r.output[o.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			r.producer[o] = n
		}
		for _, in := range n.GetInput() {
			if _, init := r.inits[in]; !init && in != "" {
				r.consumers[in] = append(r.consumers[in], n)
			}
		}
	}
	r.planSums(g.GetNode())
	for _, n := range g.GetNode() {
		if r.skip[n] {
			continue
		}
		if err := r.node(n); err != nil {
			return fmt.Errorf("%w: node %s (%s): %v", errNotPrelaid, n.GetName(), n.GetOpType(), err)
		}
	}
	for o := range r.output {
		if err := r.toPlain(o); err != nil {
			return fmt.Errorf("%w: output %s: %v", errNotPrelaid, o, err)
		}
	}
	// Only a graph that can be rewritten has its weights padded.
	for _, p := range r.pads {
		if grow == nil {
			return fmt.Errorf("%w: %s: padding %v to %v needs the export's weights", errNotPrelaid, p.t.GetName(), p.t.GetDims(), p.dims)
		}
	}
	for _, p := range r.pads {
		if err := grow(p.t, p.dims); err != nil {
			return err
		}
	}
	g.Node = r.out
	m.OpsetImport = append(m.OpsetImport, &onnxpb.OperatorSetIdProto{Domain: proto.String(nchwcDomain), Version: proto.Int64(1)})
	return nil
}

// relayout is prelayNCHWc's state: the graph's tensors as read, and the
// nodes written so far with the layouts each tensor is available in.
type relayout struct {
	block     int64 // ONNX Runtime's NCHWc block on the CPU
	inits     map[string]*onnxpb.TensorProto
	producer  map[string]*onnxpb.NodeProto
	consumers map[string][]*onnxpb.NodeProto // the nodes reading each (non-initializer) tensor
	output    map[string]bool                // the graph's outputs

	out     []*onnxpb.NodeProto
	blocked map[string]string // tensor → the name of its NCHWc twin
	plain   map[string]bool   // tensors available in NCHW
	chans   map[string]int64  // channels of the blocked tensors
	skip    map[*onnxpb.NodeProto]bool
	// sumInto maps a conv to the Add it absorbs as its Sum input.
	sumInto map[*onnxpb.NodeProto]*onnxpb.NodeProto
	// pads are the weights to pad to whole blocks once the graph is
	// rewritten.
	pads []pad
	n    int
}

// pad is a weight initializer to grow to dims.
type pad struct {
	t    *onnxpb.TensorProto
	dims []int64
}

// roundUp rounds c up to whole blocks.
func roundUp(c, block int64) int64 { return (c + block - 1) / block * block }

// planSums picks, for every residual Add, the conv that absorbs it: as
// ONNX Runtime does, the first of its inputs made by a conv that feeds
// nothing else (and so carries no activation).
func (r *relayout) planSums(nodes []*onnxpb.NodeProto) {
	for _, n := range nodes {
		if n.GetOpType() != "Add" || len(n.Input) != 2 {
			continue
		}
		for _, in := range n.Input {
			p := r.producer[in]
			if p != nil && p.GetOpType() == "Conv" && len(r.consumers[in]) == 1 && !r.output[in] && len(p.Input) == 3 {
				r.sumInto[p] = n
				break
			}
		}
	}
}

func (r *relayout) name(base string) string {
	r.n++
	return fmt.Sprintf("%s.nchwc%d", base, r.n)
}

func (r *relayout) emit(domain, op, name string, in, out []string, attrs ...*onnxpb.AttributeProto) {
	r.out = append(r.out, &onnxpb.NodeProto{Domain: proto.String(domain), OpType: proto.String(op), Name: proto.String(name),
		Input: in, Output: out, Attribute: attrs})
}

// toBlocked returns x's NCHWc twin, reordering x into it first if need be.
func (r *relayout) toBlocked(x string) (string, error) {
	if b, ok := r.blocked[x]; ok {
		return b, nil
	}
	if !r.plain[x] {
		return "", fmt.Errorf("tensor %s is not available", x)
	}
	b := r.name(x)
	r.emit(nchwcDomain, "ReorderInput", b, []string{x}, []string{b}, onnx.IntAttr("channels_last", 0))
	r.blocked[x] = b
	return b, nil
}

// toPlain makes x available in NCHW, reordering its twin if need be.
func (r *relayout) toPlain(x string) error {
	if r.plain[x] {
		return nil
	}
	b, ok := r.blocked[x]
	if !ok {
		return fmt.Errorf("tensor %s is not available", x)
	}
	if r.chans[x] <= 0 {
		return fmt.Errorf("tensor %s has no known channel count", x)
	}
	r.emit(nchwcDomain, "ReorderOutput", r.name(x), []string{b}, []string{x}, onnx.IntAttr("channels", r.chans[x]), onnx.IntAttr("channels_last", 0))
	r.plain[x] = true
	return nil
}

// only returns the single node reading x, or nil.
func (r *relayout) only(x string) *onnxpb.NodeProto {
	if c := r.consumers[x]; len(c) == 1 && !r.output[x] {
		return c[0]
	}
	return nil
}

func (r *relayout) node(n *onnxpb.NodeProto) error {
	if n.GetDomain() != "" {
		return errors.New("not an ONNX op")
	}
	switch n.GetOpType() {
	case "Conv":
		return r.conv(n)
	case "GlobalAveragePool", "MaxPool", "AveragePool":
		if len(n.Input) != 1 || len(n.Output) != 1 {
			return errors.New("pool with other than one input and output")
		}
		x, y := n.Input[0], n.Output[0]
		b, ok := r.blocked[x]
		if !ok {
			break // a pool of an NCHW tensor stays one
		}
		attrs := append([]*onnxpb.AttributeProto(nil), n.Attribute...)
		switch n.GetOpType() {
		case "MaxPool":
			attrs = withDefault(attrs, onnx.StringAttr("auto_pad", "NOTSET"), onnx.IntAttr("ceil_mode", 0), onnx.IntAttr("storage_order", 0))
		case "AveragePool":
			attrs = withDefault(attrs, onnx.StringAttr("auto_pad", "NOTSET"), onnx.IntAttr("ceil_mode", 0), onnx.IntAttr("count_include_pad", 0))
		}
		if r.chans[x]%r.block != 0 {
			// ONNX Runtime's NCHWc pools take whole blocks only: this
			// one stays NCHW, its defaults written out.
			n = proto.Clone(n).(*onnxpb.NodeProto)
			n.Attribute = attrs
			return r.plainOp(n)
		}
		yb := r.name(y)
		r.emit(nchwcDomain, n.GetOpType(), n.GetName()+"_nchwc", []string{b}, []string{yb}, attrs...)
		r.blocked[y], r.chans[y] = yb, r.chans[x]
		return nil
	}
	if n.GetOpType() == "Add" && len(n.Input) == 2 && len(n.Output) == 1 {
		// A residual Add no conv absorbed: ONNX Runtime adds the blocked
		// tensors (of the same shape) as they are.
		a, aok := r.blocked[n.Input[0]]
		b, bok := r.blocked[n.Input[1]]
		if aok && bok && r.chans[n.Input[0]] == r.chans[n.Input[1]] {
			y := n.Output[0]
			yb := r.name(y)
			r.emit("", "Add", n.GetName()+"_nchwc", []string{a, b}, []string{yb})
			r.blocked[y], r.chans[y] = yb, r.chans[n.Input[0]]
			return nil
		}
	}
	return r.plainOp(n)
}

// plainOp writes n, an op that reads and writes NCHW, reordering its
// inputs back to NCHW where need be.
func (r *relayout) plainOp(n *onnxpb.NodeProto) error {
	for _, in := range n.Input {
		if _, init := r.inits[in]; init || in == "" {
			continue
		}
		if err := r.toPlain(in); err != nil {
			return err
		}
	}
	if n.GetOpType() == "Gemm" {
		// ONNX Runtime writes a Gemm's defaults out.
		n = proto.Clone(n).(*onnxpb.NodeProto)
		n.Attribute = withDefault(n.Attribute, onnx.FloatAttr("alpha", 1), onnx.FloatAttr("beta", 1), onnx.IntAttr("transA", 0), onnx.IntAttr("transB", 0))
	}
	r.out = append(r.out, n)
	for _, o := range n.Output {
		r.plain[o] = true
	}
	return nil
}

// conv writes an NchwcConv for the conv n, with the activation or the
// residual Add (and a Relu after it) that follow it fused in.
func (r *relayout) conv(n *onnxpb.NodeProto) error {
	if len(n.Input) < 2 || len(n.Output) != 1 {
		return errors.New("conv without weights")
	}
	w := r.inits[n.Input[1]].GetDims()
	if len(w) != 4 {
		return fmt.Errorf("weights %s are not a 4-d initializer", n.Input[1])
	}
	if s := string(onnx.Attr(n, "auto_pad").GetS()); s != "" && s != "NOTSET" {
		return fmt.Errorf("auto_pad %s", s)
	}
	for _, d := range onnx.AttrInts(n, "dilations") {
		if d != 1 {
			return errors.New("dilated conv")
		}
	}
	group := onnx.AttrInt(n, "group", 1)
	out, in, blk := w[0], w[1], r.block
	first := group == 1 && in < blk // on the image: NCHW input
	depthwise := group > 1 && in == 1 && group == out
	// ONNX Runtime pads channels up to whole blocks: a conv's output
	// channels, its input channels but on the image, and a depthwise
	// conv's groups.
	switch {
	case out%nchwcChannels != 0:
		return fmt.Errorf("%d output channels", out)
	case !first && !depthwise && (group != 1 || in%nchwcChannels != 0):
		return fmt.Errorf("%d input channels in %d groups", in*group, group)
	}
	pw := slices.Clone(w)
	pw[0] = roundUp(out, blk)
	if !first && !depthwise {
		pw[1] = roundUp(in, blk)
	}
	attrs := withDefault(append([]*onnxpb.AttributeProto(nil), n.Attribute...), onnx.StringAttr("auto_pad", "NOTSET"))
	if depthwise && pw[0] != group {
		attrs = slices.DeleteFunc(attrs, func(a *onnxpb.AttributeProto) bool { return a.GetName() == "group" })
		attrs = append(attrs, onnx.IntAttr("group", pw[0]))
	}
	if !slices.Equal(pw, w) {
		r.pads = append(r.pads, pad{r.inits[n.Input[1]], pw})
		if len(n.Input) > 2 && n.Input[2] != "" {
			b := r.inits[n.Input[2]]
			if !slices.Equal(b.GetDims(), []int64{out}) {
				return fmt.Errorf("bias %s is not a %d-vector initializer", n.Input[2], out)
			}
			r.pads = append(r.pads, pad{b, pw[:1]})
		}
	}
	x := n.Input[0]
	if first {
		if err := r.toPlain(x); err != nil {
			return err
		}
	} else {
		var err error
		if x, err = r.toBlocked(x); err != nil {
			return err
		}
	}
	inputs := append([]string{x}, n.Input[1:]...)
	y := n.Output[0]
	add, sums := r.sumInto[n]
	other := ""
	if sums {
		other = add.Input[0]
		if other == y {
			other = add.Input[1]
		}
		// ONNX Runtime fuses the sum only of NCHWc tensors of the same
		// channels.
		_, blocked := r.blocked[other]
		sums = blocked && r.chans[other] == out
	}
	if sums {
		sum, err := r.toBlocked(other)
		if err != nil {
			return err
		}
		inputs = append(inputs, sum)
		r.skip[add] = true
		y = add.Output[0]
		if next := r.only(y); next != nil && next.GetOpType() == "Relu" {
			r.skip[next] = true
			y = next.Output[0]
			attrs = append(attrs, onnx.StringAttr("activation", "Relu"))
		}
	} else if next := r.only(y); next != nil {
		act, err := r.activation(next)
		if err != nil {
			return err
		}
		if act != nil {
			r.skip[next] = true
			y = next.Output[0]
			attrs = append(attrs, act...)
		}
	}
	yb := r.name(y)
	r.emit(nchwcDomain, "Conv", n.GetName()+"_nchwc", inputs, []string{yb}, attrs...)
	r.blocked[y], r.chans[y] = yb, out
	return nil
}

// activation returns the attributes that fuse the activation node n into
// a conv, nil for a node that is not an activation.
func (r *relayout) activation(n *onnxpb.NodeProto) ([]*onnxpb.AttributeProto, error) {
	switch n.GetOpType() {
	case "Relu", "HardSwish":
		return []*onnxpb.AttributeProto{onnx.StringAttr("activation", n.GetOpType())}, nil
	case "HardSigmoid":
		alpha, beta := onnx.AttrFloat(n, "alpha", 0.2), onnx.AttrFloat(n, "beta", 0.5) // ONNX's defaults
		return []*onnxpb.AttributeProto{onnx.StringAttr("activation", "HardSigmoid"), onnx.FloatsAttr("activation_params", alpha, beta)}, nil
	case "Clip":
		if len(n.Input) != 3 {
			return nil, errors.New("clip without both bounds")
		}
		lo, err := r.scalar(n.Input[1])
		if err != nil {
			return nil, err
		}
		hi, err := r.scalar(n.Input[2])
		if err != nil {
			return nil, err
		}
		return []*onnxpb.AttributeProto{onnx.StringAttr("activation", "Clip"), onnx.FloatsAttr("activation_params", lo, hi)}, nil
	}
	return nil, nil
}

// scalar reads a one-element float initializer.
func (r *relayout) scalar(name string) (float32, error) {
	t := r.inits[name]
	if t == nil {
		return 0, fmt.Errorf("%s is not an initializer", name)
	}
	v, err := infer.Decode(t)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if len(v.Data) != 1 {
		return 0, fmt.Errorf("%s holds %d values, not one", name, len(v.Data))
	}
	return v.Data[0], nil
}

// withDefault appends each of defs whose name attrs lacks.
func withDefault(attrs []*onnxpb.AttributeProto, defs ...*onnxpb.AttributeProto) []*onnxpb.AttributeProto {
next:
	for _, d := range defs {
		for _, a := range attrs {
			if a.GetName() == d.GetName() {
				continue next
			}
		}
		attrs = append(attrs, d)
	}
	return attrs
}
