package model

import (
	"errors"
	"fmt"
	"math"
)

// LayerKind names what a network layer computes.
type LayerKind string

const (
	// LayerConv is a conv (K×K, stride, groups) with optional BN, bias,
	// activation and identity residual.
	LayerConv LayerKind = "conv"
	// LayerMBConv is an inverted residual: optional 1×1 expansion to Mid,
	// K×K depthwise, optional squeeze-and-excite (Mid→SE→Mid), 1×1
	// projection; every conv has BN; Residual adds the input.
	LayerMBConv LayerKind = "mbconv"
	// LayerBottleneck is a ResNet bottleneck: 1×1 In→Mid, 3×3 Mid→Mid with
	// the stride, 1×1 Mid→Out, each with BN; the shortcut is the identity or,
	// when Downsample is set, AvgPool(stride, ceil) + 1×1 conv + BN; ReLU
	// after the add.
	LayerBottleneck LayerKind = "bottleneck"
	// LayerMaxPool is a K×K max pool with the stride and padding K/2.
	LayerMaxPool LayerKind = "maxpool"
	// LayerGAP is a global average pool to 1×1.
	LayerGAP LayerKind = "gap"
	// LayerLinear is a fully connected classifier with bias.
	LayerLinear LayerKind = "linear"
)

// Layer is one layer of a network with its tensor shapes. It is the
// description that every backend builds from: the ONNX exporter, the PyTorch
// agent (as JSON) and the latency tables.
type Layer struct {
	Kind LayerKind `json:"kind"`
	// Name is stable and readable: "stem", "first", "u2.l3", "head.conv1",
	// "classifier".
	Name string `json:"name"`
	// Unit and Index are 1-based positions in the body (0 outside it).
	Unit  int `json:"unit,omitempty"`
	Index int `json:"layer,omitempty"`
	// Block is the block key at a body layer.
	Block string `json:"block,omitempty"`

	In     int `json:"in"`
	Out    int `json:"out"`
	Mid    int `json:"mid,omitempty"`
	SE     int `json:"se,omitempty"`
	K      int `json:"k,omitempty"`
	Stride int `json:"stride,omitempty"`
	Groups int `json:"groups,omitempty"`
	// Expand says an MBConv layer has its 1×1 expansion conv (expansion > 1).
	Expand     bool   `json:"expand,omitempty"`
	BN         bool   `json:"bn,omitempty"`
	Bias       bool   `json:"bias,omitempty"`
	Act        string `json:"act,omitempty"`
	Residual   bool   `json:"residual,omitempty"`
	Downsample bool   `json:"downsample,omitempty"`

	InH  int `json:"in_h"`
	InW  int `json:"in_w"`
	OutH int `json:"out_h"`
	OutW int `json:"out_w"`

	MACs   int64 `json:"macs"`
	Params int64 `json:"params"`
}

// Network is an architecture expanded into layers.
type Network struct {
	Space      string  `json:"space"`
	Arch       string  `json:"arch"`
	Resolution int     `json:"resolution"`
	Classes    int     `json:"classes"`
	Layers     []Layer `json:"layers"`
}

// MACs is the number of multiply-accumulates of every conv and linear layer
// (SE convs included; BN, activations, pooling and adds excluded).
func (n *Network) MACs() int64 {
	var t int64
	for _, l := range n.Layers {
		t += l.MACs
	}
	return t
}

// Params counts every learnable tensor element: conv and linear weights and
// biases, BN weight and bias (running statistics are not learnable).
func (n *Network) Params() int64 {
	var t int64
	for _, l := range n.Layers {
		t += l.Params
	}
	return t
}

// Network expands a into its layers. a must lie in the space (see Check).
func (s *Space) Network(a Arch) (*Network, error) {
	if err := s.Check(a); err != nil {
		return nil, err
	}
	n := &Network{Space: s.Name, Arch: a.String(), Resolution: a.Resolution, Classes: s.Classes}
	b := &builder{n: n, h: a.Resolution, w: a.Resolution, c: 3}
	if s.Family == Bottleneck {
		s.bottleneckNet(b, a)
	} else {
		s.mbconvNet(b, a)
	}
	convs := 0
	for _, h := range s.Head {
		switch h.Kind {
		case "conv":
			convs++
			b.conv(Layer{Name: fmt.Sprintf("head.conv%d", convs), Out: s.Width(h.Width), K: 1, Stride: 1, BN: h.BN, Bias: h.Bias, Act: act(h.Act)})
		case "gap":
			b.add(Layer{Kind: LayerGAP, Name: "head.pool", In: b.c, Out: b.c}, 1, 1)
		case "linear":
			out := h.Width
			l := Layer{Kind: LayerLinear, Name: "classifier", In: int(b.mul(int64(b.c), int64(b.h), int64(b.w))), Out: out, Bias: true}
			l.MACs = b.mul(int64(l.In), int64(out))
			l.Params = b.sum(l.MACs, int64(out))
			b.add(l, 1, 1)
			b.c = out
		}
	}
	var macs, params int64
	for _, l := range n.Layers {
		macs, params = b.sum(macs, l.MACs), b.sum(params, l.Params)
	}
	if b.overflow != "" {
		return nil, fmt.Errorf("arch %s: %w at layer %s: the space's widths, expansions or resolution are too large to count (see the bounds in docs/config-bounds.md)", a, ErrOverflow, b.overflow)
	}
	return n, nil
}

// ErrOverflow is wrapped by Network's error when a network's MACs or
// parameters do not fit in an int64: they are never wrapped around.
var ErrOverflow = errors.New("MACs or parameter count overflows int64")

func act(a string) string {
	if a == "none" {
		return ""
	}
	return a
}

// builder tracks the running tensor shape while layers are appended. Its
// counts go through mul and sum, which note the first layer whose
// arithmetic overflows int64 (or meets a negative factor) in overflow.
type builder struct {
	n        *Network
	c, h, w  int
	overflow string
}

// mul multiplies non-negative factors, noting an overflow.
func (b *builder) mul(xs ...int64) int64 {
	p := int64(1)
	for _, x := range xs {
		if x < 0 || x != 0 && p > math.MaxInt64/x {
			b.fail()
			return 0
		}
		p *= x
	}
	return p
}

// sum adds non-negative terms, noting an overflow.
func (b *builder) sum(xs ...int64) int64 {
	var t int64
	for _, x := range xs {
		if x < 0 || t > math.MaxInt64-x {
			b.fail()
			return 0
		}
		t += x
	}
	return t
}

// fail notes the layer being built as the first that overflowed.
func (b *builder) fail() {
	if b.overflow == "" {
		b.overflow = fmt.Sprint(len(b.n.Layers) + 1)
		if len(b.n.Layers) > 0 {
			b.overflow += " (after " + b.n.Layers[len(b.n.Layers)-1].Name + ")"
		}
	}
}

func outSize(h, k, s int) int {
	p := k / 2
	return (h+2*p-k)/s + 1
}

func (b *builder) add(l Layer, oh, ow int) {
	l.InH, l.InW, l.OutH, l.OutW = b.h, b.w, oh, ow
	b.n.Layers = append(b.n.Layers, l)
	b.h, b.w = oh, ow
}

// conv appends a plain conv from the current shape.
func (b *builder) conv(l Layer) {
	l.Kind = LayerConv
	l.In = b.c
	if l.Groups == 0 {
		l.Groups = 1
	}
	oh, ow := outSize(b.h, l.K, l.Stride), outSize(b.w, l.K, l.Stride)
	w := b.mul(int64(l.Out), int64(l.In/l.Groups), int64(l.K), int64(l.K))
	l.MACs = b.mul(w, int64(oh), int64(ow))
	l.Params = w
	if l.Bias {
		l.Params = b.sum(l.Params, int64(l.Out))
	}
	if l.BN {
		l.Params = b.sum(l.Params, b.mul(2, int64(l.Out)))
	}
	b.add(l, oh, ow)
	b.c = l.Out
}

func (s *Space) mbconvNet(b *builder, a Arch) {
	b.conv(Layer{Name: "stem", Out: s.Width(s.Stem.Width), K: 3, Stride: s.Stem.Stride, BN: true, Act: s.Stem.Act})
	if s.Stem.FirstBlock > 0 {
		b.mbconv(Layer{Name: "first", Out: s.Width(s.Stem.FirstBlock), K: 3, Stride: 1, Act: s.Stem.FirstBlockAct}, 1, false)
	}
	for i, blocks := range a.Units {
		u := s.Units[i]
		for j, blk := range blocks {
			stride := 1
			if j == 0 {
				stride = u.Stride
			}
			b.mbconv(Layer{Name: fmt.Sprintf("u%d.l%d", i+1, j+1), Unit: i + 1, Index: j + 1, Block: blk.Key(),
				Out: s.Width(u.Width), K: blk.K, Stride: stride, Act: u.Act}, blk.E, u.SE)
		}
	}
}

// mbconv appends an inverted residual with OFA's channel arithmetic:
// mid = make_divisible(round(in·e), 8), SE width make_divisible(mid/4, 8).
func (b *builder) mbconv(l Layer, e float64, se bool) {
	l.Kind = LayerMBConv
	l.In = b.c
	in, out, k := int64(l.In), int64(l.Out), int64(l.K)
	mid := int64(l.In)
	if e != 1 {
		mid = int64(MakeDivisible(roundHalfEven(float64(l.In)*e), 8))
		l.Expand = true
	}
	l.Mid = int(mid)
	l.BN = true
	oh, ow := outSize(b.h, l.K, l.Stride), outSize(b.w, l.K, l.Stride)
	hw, ohw := b.mul(int64(b.h), int64(b.w)), b.mul(int64(oh), int64(ow))
	var macs, params int64
	if l.Expand {
		macs = b.mul(in, mid, hw)
		params = b.sum(b.mul(in, mid), b.mul(2, mid))
	}
	macs = b.sum(macs, b.mul(mid, k, k, ohw))
	params = b.sum(params, b.mul(mid, k, k), b.mul(2, mid))
	if se {
		r := int64(MakeDivisible(float64(mid/4), 8))
		l.SE = int(r)
		macs = b.sum(macs, b.mul(2, mid, r))
		params = b.sum(params, b.mul(2, mid, r), r, mid)
	}
	macs = b.sum(macs, b.mul(mid, out, ohw))
	params = b.sum(params, b.mul(mid, out), b.mul(2, out))
	l.MACs, l.Params = macs, params
	l.Residual = l.Stride == 1 && l.In == l.Out
	b.add(l, oh, ow)
	b.c = l.Out
}

// roundHalfEven is Python 3's round(), which OFA uses for channel counts.
func roundHalfEven(x float64) float64 {
	t := float64(int64(x))
	d := x - t
	switch {
	case d > 0.5:
		return t + 1
	case d < 0.5:
		return t
	case int64(t)%2 == 0:
		return t
	}
	return t + 1
}

func (s *Space) bottleneckNet(b *builder, a Arch) {
	ratios := s.Stem.Ratios
	inCh := MakeDivisible(float64(s.Stem.Width)*ratios[a.StemW1], 8)
	mid := MakeDivisible(float64(MakeDivisible(float64(s.Stem.Width)*ratios[a.StemW0], 8)/2), 8)
	b.conv(Layer{Name: "stem.conv1", Out: mid, K: 3, Stride: s.Stem.Stride, BN: true, Act: "relu"})
	if a.StemDepth > 0 {
		b.conv(Layer{Name: "stem.conv2", Out: mid, K: 3, Stride: 1, BN: true, Act: "relu", Residual: true})
	}
	b.conv(Layer{Name: "stem.conv3", Out: inCh, K: 3, Stride: 1, BN: true, Act: "relu"})
	b.add(Layer{Kind: LayerMaxPool, Name: "stem.pool", In: b.c, Out: b.c, K: 3, Stride: 2}, outSize(b.h, 3, 2), outSize(b.w, 3, 2))
	for i, blocks := range a.Units {
		u := s.Units[i]
		for j, blk := range blocks {
			stride := 1
			if j == 0 {
				stride = u.Stride
			}
			out := s.UnitWidth(i, blk.W)
			b.bottleneck(Layer{Name: fmt.Sprintf("u%d.l%d", i+1, j+1), Unit: i + 1, Index: j + 1, Block: blk.Key(),
				Out: out, K: 3, Stride: stride, Act: "relu"}, blk.E)
		}
	}
}

func (b *builder) bottleneck(l Layer, e float64) {
	l.Kind = LayerBottleneck
	l.In = b.c
	l.BN = true
	in, out := int64(l.In), int64(l.Out)
	mid := int64(MakeDivisible(roundHalfEven(float64(l.Out)*e), 8))
	l.Mid = int(mid)
	oh, ow := outSize(b.h, 3, l.Stride), outSize(b.w, 3, l.Stride)
	hw, ohw := b.mul(int64(b.h), int64(b.w)), b.mul(int64(oh), int64(ow))
	macs := b.sum(b.mul(in, mid, hw), b.mul(mid, mid, 9, ohw), b.mul(mid, out, ohw))
	params := b.sum(b.mul(in, mid), b.mul(2, mid), b.mul(mid, mid, 9), b.mul(2, mid), b.mul(mid, out), b.mul(2, out))
	if l.Stride == 1 && l.In == l.Out {
		l.Residual = true
	} else {
		l.Downsample = true
		// AvgPool(stride, ceil_mode) keeps ceil(h/stride) rows.
		macs = b.sum(macs, b.mul(in, out, ohw))
		params = b.sum(params, b.mul(in, out), b.mul(2, out))
	}
	l.MACs, l.Params = macs, params
	b.add(l, oh, ow)
	b.c = l.Out
}
