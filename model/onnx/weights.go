package onnx

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"

	"google.golang.org/protobuf/proto"

	"blockprof/model"
	"blockprof/model/onnx/onnxpb"
)

// Weights is a file of weight values that the models WriteExternal writes
// refer to (ONNX external data) instead of holding their weights: for a
// runtime that loads many models of one space in turn, such as the ort
// device, each model is then a few hundred KB of graph, written in a few
// milliseconds, and ONNX Runtime maps the weights from the file (page
// aligned, so it maps rather than reads them) instead of parsing them out
// of the model.
//
// The file holds one region per weight bound on a ladder of bounds 2^(k/2)
// (a tensor's uniform bound is rounded to the nearest step, within 19%):
// the first n values of a deterministic stream for (seed, k), uniform in
// [-2^(k/2), 2^(k/2)). A tensor is a window of its step's stream at an
// offset drawn from the arch's generator; a window past the end of the
// region appends a longer region (at least twice as long, page aligned) to
// the file. The values at a stream index do not depend on which region
// holds them, so a model's weights depend only on the arch and the seed,
// not on the models written before it.
//
// A Weights is safe for concurrent use.
type Weights struct {
	mu      sync.Mutex
	seed    uint64
	file    io.WriterAt
	name    string
	size    int64
	regions map[int]weightRegion
}

// weightRegion is the file's longest region of a step's stream: n values
// from byte offset off.
type weightRegion struct {
	off int64
	n   int
}

// NewWeights starts a weight file in f, which must be empty. name is how
// models refer to it: a path relative to the models' directory.
func NewWeights(f io.WriterAt, name string, seed uint64) *Weights {
	return &Weights{file: f, name: name, seed: seed, regions: map[int]weightRegion{}}
}

// Size is the weight file's size in bytes.
func (w *Weights) Size() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.size
}

const (
	// weightPage aligns every region and every tensor's window in the
	// file, so that ONNX Runtime can map them.
	weightPage = 4096
	// windowStarts is the number of window offsets a tensor draws from
	// (in pages of its step's stream).
	windowStarts = 64
	// minRegion is the first region's length in values.
	minRegion = (windowStarts + 64) * weightPage / 4
)

// weightStep is the ladder step of a uniform bound.
func weightStep(bound float64) int { return int(math.Round(2 * math.Log2(bound))) }

// stepBound is step k's bound, 2^(k/2).
func stepBound(k int) float64 { return math.Exp2(float64(k) / 2) }

// window returns the byte offset in the file of values [start, start+n)
// of step k's stream, appending a longer region when the longest one ends
// before start+n.
func (w *Weights) window(k, start, n int) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r, ok := w.regions[k]
	if !ok || r.n < start+n {
		want := max(minRegion, start+n, 2*r.n)
		want = (want*4 + weightPage - 1) / weightPage * weightPage / 4
		off := (w.size + weightPage - 1) / weightPage * weightPage
		if err := w.writeRegion(k, off, want); err != nil {
			return 0, err
		}
		r = weightRegion{off: off, n: want}
		w.regions[k] = r
		w.size = off + 4*int64(want)
	}
	return r.off + 4*int64(start), nil
}

// writeRegion writes the first n values of step k's stream at off.
func (w *Weights) writeRegion(k int, off int64, n int) error {
	rng := rand.New(rand.NewPCG(w.seed, 0x77656967687473^uint64(int64(k)))) // "weights"
	bound := stepBound(k)
	buf := make([]byte, 0, 1<<18)
	for i := 0; i < n; {
		buf = buf[:0]
		for ; i < n && len(buf) < cap(buf); i++ {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(float32((2*rng.Float64()-1)*bound)))
		}
		if _, err := w.file.WriteAt(buf, off); err != nil {
			return fmt.Errorf("weight file %s: %w", w.name, err)
		}
		off += int64(len(buf))
	}
	return nil
}

// external makes t refer to a window of the weight file for a uniform
// tensor of n values with the given bound, drawing the window's start
// from rng.
func (w *Weights) external(t *onnxpb.TensorProto, rng *rand.Rand, bound float64, n int) error {
	start := weightPage / 4 * rng.IntN(windowStarts)
	off, err := w.window(weightStep(bound), start, n)
	if err != nil {
		return err
	}
	t.DataLocation = onnxpb.TensorProto_EXTERNAL.Enum()
	t.ExternalData = []*onnxpb.StringStringEntryProto{
		{Key: proto.String("location"), Value: proto.String(w.name)},
		{Key: proto.String("offset"), Value: proto.String(strconv.FormatInt(off, 10))},
		{Key: proto.String("length"), Value: proto.String(strconv.Itoa(4 * n))},
	}
	return nil
}

// WriteExternal writes net as Export does, except that every weight
// tensor drawn from a uniform distribution (conv and linear weights and
// biases) refers to a window of weights (see Weights) rather than holding
// its values; the small tensors (batch normalisation, clip bounds) are in
// the model. The model is only valid beside weights' file, and its weights
// are other numbers than Export's (same distributions up to the ladder's
// rounding of each bound): a runtime timing it times the same graph.
func WriteExternal(w io.Writer, net *model.Network, opts Options, weights *Weights) (Written, error) {
	if weights == nil {
		return Written{}, fmt.Errorf("onnx export of %s: no weight file", net.Arch)
	}
	return writeStream(w, net, opts, weights)
}
