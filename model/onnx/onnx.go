// Package onnx exports a network description (model.Network) as an ONNX
// model with seeded random weights, for timing on ONNX Runtime and for the
// benchmark tools that take .onnx files. The graph follows OFA's modules
// layer by layer; only the weights are made up, so the latency is that of the
// real network, never its accuracy.
//
// Graph conventions: input "input" (batch×3×R×R float32), output "output"
// (batch×classes); opset 17 by default (13 and up are accepted: below 14,
// h_swish is written as x·HardSigmoid(x)); IR version 8. Batch
// normalisation is kept as BatchNormalization nodes with inference
// statistics, not folded into the convs, so the exported graph is what a
// framework export of the unfused model gives; ONNX Runtime folds them itself
// at optimisation level basic and above.
//
// Layer mapping (see model.Layer):
//
//	conv        Conv(K, stride, pad K/2, group) [+BN] [+act] [+Add identity]
//	mbconv      [Conv 1×1 + BN + act] → Conv K×K depthwise + BN + act →
//	            [GlobalAveragePool → Conv 1×1 (bias) → Relu → Conv 1×1 (bias)
//	            → HardSigmoid → Mul] → Conv 1×1 + BN [→ Add]
//	bottleneck  Conv 1×1 + BN + Relu → Conv 3×3 stride + BN + Relu → Conv 1×1
//	            + BN, plus the shortcut (identity, or [AveragePool(stride,
//	            ceil_mode) when stride > 1 →] Conv 1×1 + BN) → Add → Relu
//	maxpool     MaxPool(K, stride, pad K/2)
//	gap         GlobalAveragePool
//	linear      Flatten → Gemm (transB, bias)
//
// Activations: relu → Relu, relu6 → Clip(0, 6), h_swish → HardSwish, and the
// SE gate h_sigmoid → HardSigmoid(α=1/6, β=1/2) (both equal OFA's
// relu6(x+3)/6 forms).
//
// Weights: He-uniform convs (variance 2/fan-in), Gemm with variance
// 1/fan-in (values are windows of a 65,536-value random pool per scale, see
// graph.uniform), BN with mean ≈ 0, variance ≈ 1, γ ≈ 1, β ≈ 0, except that the last
// BN of every residual branch has γ ≈ 0.25 (as zero-γ initialisation does,
// less extreme) so that activations stay bounded through deep residual
// stacks. The generator is math/rand/v2 PCG seeded by Options.Seed (via
// model.NewRand): the same network and seed give the same bytes.
package onnx

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"

	"google.golang.org/protobuf/proto"

	"blockprof/model"
	"blockprof/model/onnx/onnxpb"
)

const (
	// DefaultOpset is the ONNX opset Export writes unless told otherwise.
	DefaultOpset = 17
	// MinOpset is the oldest opset Export can write.
	MinOpset = 13
	// IRVersion is the ONNX IR version of the exported models.
	IRVersion = 8
	// InputName and OutputName name the graph's input and output.
	InputName  = "input"
	OutputName = "output"
)

// residualGamma scales the γ of the last BN of a residual branch.
const residualGamma = 0.25

// Options are the export settings.
type Options struct {
	// Seed seeds the weight generator.
	Seed uint64
	// Batch is the (fixed) batch dimension; 0 means 1.
	Batch int
	// Opset is the ONNX opset version; 0 means DefaultOpset.
	Opset int
	// FoldBN writes every batch normalisation that follows a conv into the
	// conv (a bias; the weights' scale times γ), as ONNX Runtime does at
	// optimisation level basic and above: for such a runtime the graph it
	// runs is the same, and it has one copy of every conv's weights less to
	// make while it loads the model (the ort device). Off, the graph is
	// what a framework export of the unfused model gives.
	FoldBN bool
	// Rewrite, if set, rewrites the built model before it is written: a
	// runtime's own form of the same graph (devices/ort writes the NCHWc
	// layout ONNX Runtime would make of it). grow pads a weight of the
	// model where that form pads its channels. Initializers
	// that no node uses afterwards are dropped. Its error fails the export.
	Rewrite func(m *onnxpb.ModelProto, grow Grow) error
}

// Grow makes the weight initializer t of a model being rewritten
// (Options.Rewrite) a tensor of dims, each at least t's own and at most
// twice it (a runtime's form that pads channels up to whole blocks):
// values of the same distribution as its own, stored as the export stores
// its weights.
type Grow func(t *onnxpb.TensorProto, dims []int64) error

// Export writes net as a serialised ONNX ModelProto: the bytes
// proto.MarshalOptions{Deterministic: true} gives for Build's model, written
// once into a buffer of the final size, with every weight tensor copied from
// its value pool straight into that buffer (see write.go).
func Export(net *model.Network, opts Options) ([]byte, error) {
	var out fixedWriter
	_, err := write(net, opts, nil, func(total int) (io.Writer, error) {
		out.b = make([]byte, 0, total)
		return &out, nil
	})
	if err != nil {
		return nil, err
	}
	return out.b, nil
}

// Written describes a model Write wrote: its size and the graph's inputs
// and outputs (what a runtime needs to bind tensors without reading the
// model back).
type Written struct {
	Size            int64
	Inputs, Outputs []*onnxpb.ValueInfoProto
}

// Write streams Export's bytes to w in one sequential pass, without
// holding the model in memory: the small messages are buffered (up to
// 256 KiB), the weights are written from their pools in windows of at
// most 256 KiB. Say, to a file a runtime loads, so that the serialised
// model is never part of the process's memory (devices/ort). A failed
// write leaves w with a prefix of the model.
func Write(w io.Writer, net *model.Network, opts Options) (Written, error) {
	return writeStream(w, net, opts, nil)
}

// writeStream is Write, with the pooled weights in ext's file when ext is
// set (WriteExternal).
func writeStream(w io.Writer, net *model.Network, opts Options, ext *Weights) (Written, error) {
	var bw *bufio.Writer
	m, err := write(net, opts, ext, func(int) (io.Writer, error) {
		bw = bufio.NewWriterSize(w, writeBuffer)
		return bw, nil
	})
	if err != nil {
		return Written{}, err
	}
	if err := bw.Flush(); err != nil {
		return Written{}, fmt.Errorf("onnx export of %s: serialise: %w", net.Arch, err)
	}
	return m, nil
}

// writeBuffer is Write's buffer size: the size of a weight pool, so that a
// pool window is written in one call.
const writeBuffer = 4 * poolSize

// write builds net (its pooled weights in ext's file when ext is set) and
// serialises it to the writer open returns.
func write(net *model.Network, opts Options, ext *Weights, open func(total int) (io.Writer, error)) (Written, error) {
	g, m, err := build(net, opts, true, ext)
	if err != nil {
		return Written{}, err
	}
	if g.extErr != nil {
		return Written{}, fmt.Errorf("onnx export of %s: %w", net.Arch, g.extErr)
	}
	n, err := g.marshal(m, open)
	if err != nil {
		return Written{}, fmt.Errorf("onnx export of %s: serialise: %w", net.Arch, err)
	}
	return Written{Size: int64(n), Inputs: m.GetGraph().GetInput(), Outputs: m.GetGraph().GetOutput()}, nil
}

// Build returns net as an ONNX ModelProto (what Export serialises).
func Build(net *model.Network, opts Options) (*onnxpb.ModelProto, error) {
	_, m, err := build(net, opts, false, nil)
	return m, err
}

// build makes the model. With lazy set, the pooled weight tensors are left
// without raw data and g.fills says how to write them (Export); otherwise
// every tensor holds its bytes (Build). Both draw the same numbers.
func build(net *model.Network, opts Options, lazy bool, ext *Weights) (*graph, *onnxpb.ModelProto, error) {
	if net == nil {
		return nil, nil, fmt.Errorf("onnx export: no network")
	}
	if opts.Batch < 0 {
		return nil, nil, fmt.Errorf("onnx export of %s: batch %d: want ≥ 1 (0 = 1)", net.Arch, opts.Batch)
	}
	if opts.Batch == 0 {
		opts.Batch = 1
	}
	if opts.Opset == 0 {
		opts.Opset = DefaultOpset
	}
	if opts.Opset < MinOpset {
		return nil, nil, fmt.Errorf("onnx export of %s: opset %d: want %d or later", net.Arch, opts.Opset, MinOpset)
	}
	if net.Resolution <= 0 || len(net.Layers) == 0 {
		return nil, nil, fmt.Errorf("onnx export of %s: empty network (resolution %d, %d layers)", net.Arch, net.Resolution, len(net.Layers))
	}
	g := &graph{
		g:     &onnxpb.GraphProto{Name: proto.String(net.Arch)},
		rng:   model.NewRand(opts.Seed),
		lazy:  lazy,
		ext:   ext,
		fold:  opts.FoldBN,
		opset: opts.Opset,
		c:     3, h: net.Resolution, w: net.Resolution,
	}
	g.g.Input = []*onnxpb.ValueInfoProto{valueInfo(InputName, int64(opts.Batch), 3, int64(net.Resolution), int64(net.Resolution))}
	x := InputName
	for i := range net.Layers {
		l := &net.Layers[i]
		var err error
		if x, err = g.layer(x, l); err != nil {
			return nil, nil, fmt.Errorf("onnx export of %s: layer %d (%s, %s): %w", net.Arch, i+1, l.Name, l.Kind, err)
		}
	}
	// The last node's output becomes the graph output.
	last := g.g.Node[len(g.g.Node)-1]
	for i, o := range last.Output {
		if o == x {
			last.Output[i] = OutputName
		}
	}
	dims := []int64{int64(opts.Batch), int64(g.c)}
	if !g.flat {
		dims = append(dims, int64(g.h), int64(g.w))
	}
	g.g.Output = []*onnxpb.ValueInfoProto{valueInfo(OutputName, dims...)}

	m := &onnxpb.ModelProto{
		IrVersion:       proto.Int64(IRVersion),
		OpsetImport:     []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(int64(opts.Opset))}},
		ProducerName:    proto.String("blockprof"),
		ProducerVersion: proto.String("1"),
		DocString:       proto.String("random weights (seed " + fmt.Sprint(opts.Seed) + "): for latency, not accuracy"),
		Graph:           g.g,
		MetadataProps: []*onnxpb.StringStringEntryProto{
			{Key: proto.String("space"), Value: proto.String(net.Space)},
			{Key: proto.String("arch"), Value: proto.String(net.Arch)},
			{Key: proto.String("seed"), Value: proto.String(fmt.Sprint(opts.Seed))},
		},
	}
	if opts.Rewrite != nil {
		if err := opts.Rewrite(m, g.grow); err != nil {
			return nil, nil, fmt.Errorf("onnx export of %s: %w", net.Arch, err)
		}
		g.dropUnused()
	}
	return g, m, nil
}

// dropUnused removes the initializers no node reads (and their fills).
func (g *graph) dropUnused() {
	used := map[string]bool{}
	for _, n := range g.g.Node {
		for _, in := range n.Input {
			used[in] = true
		}
	}
	var inits []*onnxpb.TensorProto
	var fills []fill
	for i, t := range g.g.Initializer {
		if !used[t.GetName()] {
			continue
		}
		inits = append(inits, t)
		if i < len(g.fills) {
			fills = append(fills, g.fills[i])
		}
	}
	g.g.Initializer, g.fills = inits, fills
}

// graph builds the node list while tracking the running tensor shape
// (channels, height, width; flat after Flatten).
type graph struct {
	g       *onnxpb.GraphProto
	rng     *rand.Rand
	opset   int
	c, h, w int
	flat    bool
	clip    bool // the Clip bounds are in the initializers
	pools   map[float64][]byte
	// lazy leaves pooled tensors' raw data to the writer: fills[i] says
	// how to write Initializer[i] (n == 0: its RawData holds the bytes).
	lazy  bool
	fills []fill
	// ext, if set, holds the pooled tensors' values instead (WriteExternal);
	// extErr is the first error writing to it.
	ext    *Weights
	extErr error
	// fold folds batch normalisation into the convs (Options.FoldBN).
	fold bool
	// bounds holds each uniform initializer's bound, for grow.
	bounds map[string]float64
}

// fill is a pooled tensor's raw data: n bytes of pool from offset off,
// wrapping around to the pool's start as often as needed.
type fill struct {
	pool []byte
	off  int
	n    int
}

func (g *graph) layer(x string, l *model.Layer) (string, error) {
	if g.flat {
		return "", fmt.Errorf("follows the classifier")
	}
	if l.Kind != model.LayerLinear && (l.In != g.c || l.InH != g.h || l.InW != g.w) {
		return "", fmt.Errorf("input %d×%d×%d, but the previous layer gives %d×%d×%d", l.In, l.InH, l.InW, g.c, g.h, g.w)
	}
	if err := checkAct(l.Act); err != nil {
		return "", err
	}
	n := l.Name
	var y string
	switch l.Kind {
	case model.LayerConv:
		groups := max(l.Groups, 1)
		if l.K < 1 || l.Stride < 1 || l.In%groups != 0 || l.Out%groups != 0 {
			return "", fmt.Errorf("bad conv: k=%d stride=%d groups=%d for %d→%d channels", l.K, l.Stride, groups, l.In, l.Out)
		}
		if l.BN {
			gamma := 1.0
			if l.Residual {
				gamma = residualGamma
			}
			y = g.convBN(x, n+".conv", n+".bn", l.In, l.Out, l.K, l.Stride, groups, l.Bias, gamma)
		} else {
			y = g.conv(x, n+".conv", l.In, l.Out, l.K, l.Stride, groups, l.Bias)
		}
		y = g.act(y, n+".act", l.Act)
		if l.Residual {
			if l.In != l.Out || l.Stride != 1 {
				return "", fmt.Errorf("identity residual needs stride 1 and in = out (got stride %d, %d→%d)", l.Stride, l.In, l.Out)
			}
			y = g.node("Add", n+".add", []string{x, y})
		}
	case model.LayerMBConv:
		var err error
		if y, err = g.mbconv(x, l); err != nil {
			return "", err
		}
	case model.LayerBottleneck:
		var err error
		if y, err = g.bottleneck(x, l); err != nil {
			return "", err
		}
	case model.LayerMaxPool:
		if l.K < 1 || l.Stride < 1 {
			return "", fmt.Errorf("bad max pool: k=%d stride=%d", l.K, l.Stride)
		}
		p := int64(l.K / 2)
		y = g.node("MaxPool", n, []string{x},
			IntsAttr("kernel_shape", int64(l.K), int64(l.K)), IntsAttr("strides", int64(l.Stride), int64(l.Stride)), IntsAttr("pads", p, p, p, p))
	case model.LayerGAP:
		y = g.node("GlobalAveragePool", n, []string{x})
	case model.LayerLinear:
		if in := g.c * g.h * g.w; l.In != in {
			return "", fmt.Errorf("linear input %d, but the previous layer gives %d×%d×%d = %d", l.In, g.c, g.h, g.w, in)
		}
		f := g.node("Flatten", n+".flatten", []string{x}, IntAttr("axis", 1))
		w := g.weight(n+".weight", 1/float64(l.In), int64(l.Out), int64(l.In))
		b := g.uniform(n+".bias", 1/math.Sqrt(float64(l.In)), int64(l.Out))
		y = g.node("Gemm", n+".gemm", []string{f, w, b}, IntAttr("transB", 1))
		g.c, g.h, g.w, g.flat = l.Out, 1, 1, true
		return y, nil
	default:
		return "", fmt.Errorf("unknown layer kind %q", l.Kind)
	}
	if l.Kind != model.LayerLinear {
		g.c, g.h, g.w = l.Out, l.OutH, l.OutW
	}
	return y, nil
}

func (g *graph) mbconv(x string, l *model.Layer) (string, error) {
	n := l.Name
	if l.K < 1 || l.Stride < 1 || l.Mid < 1 {
		return "", fmt.Errorf("bad mbconv: k=%d stride=%d mid=%d", l.K, l.Stride, l.Mid)
	}
	if !l.Expand && l.Mid != l.In {
		return "", fmt.Errorf("mbconv without expansion has mid %d ≠ in %d", l.Mid, l.In)
	}
	y := x
	if l.Expand {
		y = g.convBN(y, n+".expand.conv", n+".expand.bn", l.In, l.Mid, 1, 1, 1, false, 1)
		y = g.act(y, n+".expand.act", l.Act)
	}
	y = g.convBN(y, n+".depthwise.conv", n+".depthwise.bn", l.Mid, l.Mid, l.K, l.Stride, l.Mid, false, 1)
	y = g.act(y, n+".depthwise.act", l.Act)
	if l.SE > 0 {
		s := g.node("GlobalAveragePool", n+".se.pool", []string{y})
		s = g.conv(s, n+".se.reduce", l.Mid, l.SE, 1, 1, 1, true)
		s = g.node("Relu", n+".se.relu", []string{s})
		s = g.conv(s, n+".se.expand", l.SE, l.Mid, 1, 1, 1, true)
		s = g.hardSigmoid(s, n+".se.gate")
		y = g.node("Mul", n+".se.mul", []string{y, s})
	}
	gamma := 1.0
	if l.Residual {
		gamma = residualGamma
	}
	y = g.convBN(y, n+".project.conv", n+".project.bn", l.Mid, l.Out, 1, 1, 1, false, gamma)
	if l.Residual {
		if l.In != l.Out || l.Stride != 1 {
			return "", fmt.Errorf("residual needs stride 1 and in = out (got stride %d, %d→%d)", l.Stride, l.In, l.Out)
		}
		y = g.node("Add", n+".add", []string{x, y})
	}
	return y, nil
}

func (g *graph) bottleneck(x string, l *model.Layer) (string, error) {
	n := l.Name
	if l.Stride < 1 || l.Mid < 1 {
		return "", fmt.Errorf("bad bottleneck: stride=%d mid=%d", l.Stride, l.Mid)
	}
	y := g.convBN(x, n+".conv1", n+".bn1", l.In, l.Mid, 1, 1, 1, false, 1)
	y = g.node("Relu", n+".relu1", []string{y})
	y = g.convBN(y, n+".conv2", n+".bn2", l.Mid, l.Mid, 3, l.Stride, 1, false, 1)
	y = g.node("Relu", n+".relu2", []string{y})
	y = g.convBN(y, n+".conv3", n+".bn3", l.Mid, l.Out, 1, 1, 1, false, residualGamma)
	short := x
	switch {
	case l.Downsample:
		if l.Stride > 1 {
			s := int64(l.Stride)
			// OFA's AvgPool2d(stride, stride, ceil_mode=True); padding 0,
			// so count_include_pad does not matter. At stride 1 the pool
			// is the identity and is left out.
			short = g.node("AveragePool", n+".downsample.pool", []string{short},
				IntsAttr("kernel_shape", s, s), IntsAttr("strides", s, s), IntAttr("ceil_mode", 1))
		}
		short = g.convBN(short, n+".downsample.conv", n+".downsample.bn", l.In, l.Out, 1, 1, 1, false, 1)
	case l.Residual:
		if l.In != l.Out || l.Stride != 1 {
			return "", fmt.Errorf("identity shortcut needs stride 1 and in = out (got stride %d, %d→%d)", l.Stride, l.In, l.Out)
		}
	default:
		return "", fmt.Errorf("bottleneck with neither an identity nor a downsample shortcut")
	}
	y = g.node("Add", n+".add", []string{short, y})
	return g.node("Relu", n+".relu", []string{y}), nil
}

func checkAct(a string) error {
	switch a {
	case "", "relu", "relu6", "h_swish":
		return nil
	}
	return fmt.Errorf("unknown activation %q (want relu, relu6, h_swish or none)", a)
}

// act appends the activation a ("" appends nothing).
func (g *graph) act(x, name, a string) string {
	switch a {
	case "relu":
		return g.node("Relu", name, []string{x})
	case "relu6":
		if !g.clip {
			g.g.Initializer = append(g.g.Initializer, floats("clip.min", []float32{0}), floats("clip.max", []float32{6}))
			g.clip = true
		}
		return g.node("Clip", name, []string{x, "clip.min", "clip.max"})
	case "h_swish":
		if g.opset >= 14 {
			return g.node("HardSwish", name, []string{x})
		}
		s := g.hardSigmoid(x, name+".gate")
		return g.node("Mul", name, []string{x, s})
	}
	return x
}

// hardSigmoid is OFA's h_sigmoid, relu6(x+3)/6.
func (g *graph) hardSigmoid(x, name string) string {
	return g.node("HardSigmoid", name, []string{x}, FloatAttr("alpha", 1.0/6), FloatAttr("beta", 0.5))
}

// node appends an op whose output tensor is named after the node.
func (g *graph) node(op, name string, in []string, attrs ...*onnxpb.AttributeProto) string {
	g.g.Node = append(g.g.Node, &onnxpb.NodeProto{
		OpType: proto.String(op), Name: proto.String(name), Input: in, Output: []string{name}, Attribute: attrs,
	})
	return name
}

// conv appends a K×K conv (padding K/2) with He-uniform weights.
func (g *graph) conv(x, name string, in, out, k, stride, groups int, bias bool) string {
	return g.convGain(x, name, in, out, k, stride, groups, bias, 1)
}

// convBN appends a conv and its batch normalisation (bnName, γ near
// gamma); with Options.FoldBN, the normalisation folded into the conv, as
// ONNX Runtime folds it: a conv with a bias whose weights' scale is
// multiplied by gamma (γ/σ of the normalisation it stands for).
func (g *graph) convBN(x, name, bnName string, in, out, k, stride, groups int, bias bool, gamma float64) string {
	if g.fold {
		return g.convGain(x, name, in, out, k, stride, groups, true, gamma)
	}
	return g.bn(g.conv(x, name, in, out, k, stride, groups, bias), bnName, out, gamma)
}

// convGain is conv with the weights' standard deviation multiplied by gain.
func (g *graph) convGain(x, name string, in, out, k, stride, groups int, bias bool, gain float64) string {
	fanIn := in / groups * k * k
	w := g.weight(name+".weight", gain*gain*2/float64(fanIn), int64(out), int64(in/groups), int64(k), int64(k))
	inputs := []string{x, w}
	if bias {
		inputs = append(inputs, g.uniform(name+".bias", 0.1, int64(out)))
	}
	p := int64(k / 2)
	return g.node("Conv", name, inputs,
		IntsAttr("kernel_shape", int64(k), int64(k)), IntsAttr("strides", int64(stride), int64(stride)),
		IntsAttr("pads", p, p, p, p), IntAttr("group", int64(groups)))
}

// bn appends BatchNormalization with inference statistics near the
// identity and γ near gamma.
func (g *graph) bn(x, name string, c int, gamma float64) string {
	scale, bias, mean, variance := make([]float32, c), make([]float32, c), make([]float32, c), make([]float32, c)
	for i := range c {
		scale[i] = float32(gamma * (0.9 + 0.2*g.rng.Float64()))
		bias[i] = float32(0.1 * (g.rng.Float64() - 0.5))
		mean[i] = float32(0.1 * (g.rng.Float64() - 0.5))
		variance[i] = float32(0.9 + 0.2*g.rng.Float64())
	}
	g.g.Initializer = append(g.g.Initializer,
		floats(name+".scale", scale, int64(c)), floats(name+".bias", bias, int64(c)),
		floats(name+".mean", mean, int64(c)), floats(name+".var", variance, int64(c)))
	return g.node("BatchNormalization", name, []string{x, name + ".scale", name + ".bias", name + ".mean", name + ".var"},
		FloatAttr("epsilon", 1e-5))
}

// weight adds a uniform initializer with the given variance.
func (g *graph) weight(name string, variance float64, dims ...int64) string {
	return g.uniform(name, math.Sqrt(3*variance), dims...)
}

// poolSize is the number of values in each weight pool.
const poolSize = 1 << 16

// uniform adds an initializer drawn uniformly from [-bound, bound).
//
// Values come from a pool of poolSize values per bound, drawn once from
// g.rng; a tensor is a window of its pool at a random offset, repeated for
// tensors larger than the pool. That keeps the weights random enough for
// timing (and numerically sane) while a ResNet50's 50 million of them cost
// a few memory copies, also under the race detector.
func (g *graph) uniform(name string, bound float64, dims ...int64) string {
	n := int64(1)
	for _, d := range dims {
		n *= d
	}
	t := &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT))}
	g.values(t, len(g.g.Initializer), bound, n)
	g.g.Initializer = append(g.g.Initializer, t)
	if g.bounds == nil {
		g.bounds = map[string]float64{}
	}
	g.bounds[name] = bound
	return name
}

// values gives t, Initializer[i], n values drawn uniformly from [-bound,
// bound): in the weight file (WriteExternal, but for small tensors), as a
// window of a pool for the writer (lazy), or as raw data.
func (g *graph) values(t *onnxpb.TensorProto, i int, bound float64, n int64) {
	if g.ext != nil {
		if 4*n < minExternal {
			t.RawData = g.draw(bound, int(n))
		} else if err := g.ext.external(t, g.rng, bound, int(n)); err != nil && g.extErr == nil {
			g.extErr = err
		}
		return
	}
	f := fill{pool: g.pool(bound), off: 4 * g.rng.IntN(poolSize), n: int(4 * n)}
	if g.lazy {
		// Initializers before the first pooled one hold their bytes.
		if len(g.fills) <= i {
			g.fills = append(g.fills, make([]fill, i+1-len(g.fills))...)
		}
		g.fills[i] = f
	} else {
		t.RawData = f.write(make([]byte, 0, f.n))
	}
}

// grow is the Grow of the model g builds.
func (g *graph) grow(t *onnxpb.TensorProto, dims []int64) error {
	bound, ok := g.bounds[t.GetName()]
	i := slices.Index(g.g.Initializer, t)
	if !ok || i < 0 {
		return fmt.Errorf("grow %q: not a weight of the export", t.GetName())
	}
	if len(dims) != len(t.Dims) {
		return fmt.Errorf("grow %q %v to %v: another rank", t.GetName(), t.Dims, dims)
	}
	n := int64(1)
	for k, d := range dims {
		if d < t.Dims[k] || d > maxGrow*t.Dims[k] {
			return fmt.Errorf("grow %q %v to %v: want each dimension from its own to %d times it", t.GetName(), t.Dims, dims, maxGrow)
		}
		n *= d
	}
	if slices.Equal(dims, t.Dims) {
		return nil
	}
	t.Dims = slices.Clone(dims)
	t.RawData, t.DataLocation, t.ExternalData = nil, nil, nil
	g.values(t, i, bound, n)
	return nil
}

// maxGrow bounds Grow: a runtime pads channels to a block, never more
// than doubling them.
const maxGrow = 2

// minExternal is the size in bytes from which WriteExternal refers a
// tensor to the weight file. ONNX Runtime opens, checks the path of, maps
// and unmaps the file for every external tensor (a dozen system calls);
// for the biases, which are smaller, that costs more than reading their
// bytes from the model: inline, a session of ofa-mbv3 is built 2-3 ms
// faster (docs/benchmarks.md, issue 14).
const minExternal = 4 << 10

// draw returns n little-endian float32 values drawn uniformly from
// [-bound, bound) with g.rng: a pool, or a small tensor's bytes.
func (g *graph) draw(bound float64, n int) []byte {
	b := make([]byte, 0, 4*n)
	for range n {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32((2*g.rng.Float64()-1)*bound)))
	}
	return b
}

// windows yields the tensor's raw data in windows of its pool: from off
// to the pool's end, then from the start, until n bytes are given.
func (f fill) windows(yield func([]byte) bool) {
	off := f.off
	for n := f.n; n > 0; {
		c := min(n, len(f.pool)-off)
		if !yield(f.pool[off : off+c]) {
			return
		}
		n -= c
		off = 0
	}
}

// write appends the tensor's raw data to b.
func (f fill) write(b []byte) []byte {
	for w := range f.windows {
		b = append(b, w...)
	}
	return b
}

// pool returns the little-endian float32 values of the pool for bound.
func (g *graph) pool(bound float64) []byte {
	if p, ok := g.pools[bound]; ok {
		return p
	}
	if g.pools == nil {
		g.pools = map[float64][]byte{}
	}
	p := g.draw(bound, poolSize)
	g.pools[bound] = p
	return p
}

func floats(name string, v []float32, dims ...int64) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), RawData: raw}
}

func valueInfo(name string, dims ...int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{
		Name: proto.String(name),
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: shape}}},
	}
}
