//go:build cgo

package ort

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	onnxruntime "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"blockprof/model/onnx/onnxpb"
)

// Optimizations lists the graph optimisation levels, lowest first.
func Optimizations() []string { return []string{"disable", "basic", "extended", "all"} }

func optimizationLevel(s string) (onnxruntime.GraphOptimizationLevel, error) {
	switch s {
	case "disable":
		return onnxruntime.GraphOptimizationLevelDisableAll, nil
	case "basic":
		return onnxruntime.GraphOptimizationLevelEnableBasic, nil
	case "extended":
		return onnxruntime.GraphOptimizationLevelEnableExtended, nil
	case "", "all":
		return onnxruntime.GraphOptimizationLevelEnableAll, nil
	}
	return 0, fmt.Errorf("optimization %q: want one of %s", s, strings.Join(Optimizations(), ", "))
}

// Options are a session's settings.
type Options struct {
	// IntraOpThreads is the number of threads one operator may use; 0
	// leaves ONNX Runtime's default (one per physical core).
	IntraOpThreads int
	// InterOpThreads runs independent operators in parallel; 0 means 1
	// (sequential execution, the setting for latency measurements).
	InterOpThreads int
	// Optimization is the graph optimisation level: disable, basic,
	// extended or all ("" means all).
	Optimization string
	// Batch fills a symbolic first dimension of the inputs and outputs; 0
	// means 1. Fixed dimensions in the model are used as they are.
	Batch int
	// SharedArena has the session allocate from the process's shared CPU
	// arena (registerSharedArena) instead of an arena of its own, where
	// the runtime has one.
	SharedArena bool

	// tune applies extra session settings (benchmarks compare them).
	tune func(*onnxruntime.SessionOptions) error
}

// Validate checks the options.
func (o Options) Validate() error {
	if o.IntraOpThreads < 0 || o.InterOpThreads < 0 {
		return fmt.Errorf("threads: want ≥ 0 (0 = default), got intra-op %d, inter-op %d", o.IntraOpThreads, o.InterOpThreads)
	}
	if o.Batch < 0 {
		return fmt.Errorf("batch: want ≥ 1 (0 = 1), got %d", o.Batch)
	}
	_, err := optimizationLevel(o.Optimization)
	return err
}

func (o Options) batch() int64 {
	if o.Batch == 0 {
		return 1
	}
	return int64(o.Batch)
}

// Tensor is one float32 input or output of a session. Data aliases the
// memory ONNX Runtime reads (inputs) or writes (outputs); it stays valid
// until the session is closed.
type Tensor struct {
	Name  string
	Shape []int64
	Data  []float32
}

// Session is a loaded model with its input and output tensors allocated
// once, so that Run does nothing but inference. The inputs hold
// deterministic pseudo-random values in [-1, 1). A Session is not safe for
// concurrent use.
type Session struct {
	sess    *onnxruntime.AdvancedSession
	runOpts *onnxruntime.RunOptions
	ins     []*onnxruntime.Tensor[float32]
	outs    []*onnxruntime.Tensor[float32]
	inputs  []Tensor
	outputs []Tensor
	// terminate is the method value s.stop, bound once so that Run
	// allocates nothing for it; stopped receives after each call.
	terminate func()
	stopped   chan struct{}
	// heap may return glibc's free heap once the session is released.
	heap *heapTrim
}

// NewSession loads an ONNX model (serialised ModelProto) with opts. Only
// float32 inputs and outputs are supported.
func (r *Runtime) NewSession(model []byte, opts Options) (*Session, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("onnxruntime session: %w", err)
	}
	ins, outs, err := graphIO(model)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime session: %w", err)
	}
	return newSession(r, ins, outs, opts, func(inNames, outNames []string, inVals, outVals []onnxruntime.Value, so *onnxruntime.SessionOptions) (*onnxruntime.AdvancedSession, error) {
		return onnxruntime.NewAdvancedSessionWithONNXData(model, inNames, outNames, inVals, outVals, so)
	})
}

// NewSessionFile loads the ONNX model in the file at path, whose graph
// inputs and outputs are ins and outs (as onnx.Write reports them), with
// opts. ONNX Runtime reads the file itself, so the serialised model never
// has to be in this process's memory beside the session ONNX Runtime
// builds from it.
func (r *Runtime) NewSessionFile(path string, ins, outs []*onnxpb.ValueInfoProto, opts Options) (*Session, error) {
	if err := opts.Validate(); err != nil {
		return nil, fmt.Errorf("onnxruntime session: %w", err)
	}
	return newSession(r, ins, outs, opts, func(inNames, outNames []string, inVals, outVals []onnxruntime.Value, so *onnxruntime.SessionOptions) (*onnxruntime.AdvancedSession, error) {
		return onnxruntime.NewAdvancedSession(path, inNames, outNames, inVals, outVals, so)
	})
}

// create makes the ONNX Runtime session that binds the named tensors.
type create func(inNames, outNames []string, inVals, outVals []onnxruntime.Value, so *onnxruntime.SessionOptions) (*onnxruntime.AdvancedSession, error)

// newSession allocates the tensors of ins and outs, sets opts and calls
// create; r's heapTrim is told when the session is closed.
func newSession(r *Runtime, ins, outs []*onnxpb.ValueInfoProto, opts Options, create create) (_ *Session, err error) {
	// s is released on every error return (which sets the named result
	// to nil, so the cleanup must not go through it).
	s := &Session{heap: &r.heap, stopped: make(chan struct{}, 1)}
	s.terminate = s.stop
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	var inVals, outVals []onnxruntime.Value
	var inNames, outNames []string
	for _, io := range [2]struct {
		vis    []*onnxpb.ValueInfoProto
		input  bool
		ts     *[]*onnxruntime.Tensor[float32]
		views  *[]Tensor
		vals   *[]onnxruntime.Value
		names  *[]string
		prefix string
	}{
		{ins, true, &s.ins, &s.inputs, &inVals, &inNames, "input"},
		{outs, false, &s.outs, &s.outputs, &outVals, &outNames, "output"},
	} {
		for _, vi := range io.vis {
			shape, err := tensorShape(vi, opts.batch())
			if err != nil {
				return nil, fmt.Errorf("onnxruntime session: %s %q: %w", io.prefix, vi.GetName(), err)
			}
			t, err := onnxruntime.NewEmptyTensor[float32](onnxruntime.NewShape(shape...))
			if err != nil {
				return nil, fmt.Errorf("onnxruntime session: allocate %s %q %v: %w", io.prefix, vi.GetName(), shape, err)
			}
			*io.ts = append(*io.ts, t)
			data := t.GetData()
			if io.input {
				for i := range data {
					data[i] = float32(rng.Float64()*2 - 1)
				}
			}
			*io.views = append(*io.views, Tensor{Name: vi.GetName(), Shape: shape, Data: data})
			*io.vals = append(*io.vals, t)
			*io.names = append(*io.names, vi.GetName())
		}
	}

	so, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("onnxruntime session options: %w", err)
	}
	defer so.Destroy()
	level, _ := optimizationLevel(opts.Optimization)
	inter, mode := opts.InterOpThreads, onnxruntime.ExecutionMode(onnxruntime.ExecutionModeSequential)
	if inter == 0 {
		inter = 1
	}
	if inter > 1 {
		mode = onnxruntime.ExecutionModeParallel
	}
	for _, set := range []struct {
		what string
		err  func() error
	}{
		{"graph optimisation level", func() error { return so.SetGraphOptimizationLevel(level) }},
		{"intra-op threads", func() error { return so.SetIntraOpNumThreads(opts.IntraOpThreads) }},
		{"inter-op threads", func() error { return so.SetInterOpNumThreads(inter) }},
		{"execution mode", func() error { return so.SetExecutionMode(mode) }},
		// ONNX Runtime repeats its layout-level passes until the graph
		// stops changing; on these graphs the repeat changes nothing
		// (TestLoopLevelIsWhatORTRuns) and costs 2-20% of building a
		// session.
		{"optimisation loop", func() error { return so.AddSessionConfigEntry("session.graph_optimizations_loop_level", "0") }},
		{"shared arena", func() error {
			if !r.shares(opts) {
				return nil
			}
			return so.AddSessionConfigEntry("session.use_env_allocators", "1")
		}},
		{"tuning", func() error {
			if opts.tune == nil {
				return nil
			}
			return opts.tune(so)
		}},
	} {
		if err := set.err(); err != nil {
			return nil, fmt.Errorf("onnxruntime session: set %s: %w", set.what, err)
		}
	}
	if s.runOpts, err = onnxruntime.NewRunOptions(); err != nil {
		return nil, fmt.Errorf("onnxruntime run options: %w", err)
	}
	s.sess, err = create(inNames, outNames, inVals, outVals, so)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: create session: %w", err)
	}
	return s, nil
}

// Inputs are the session's inputs in graph order.
func (s *Session) Inputs() []Tensor { return s.inputs }

// Outputs are the session's outputs in graph order, written by Run.
func (s *Session) Outputs() []Tensor { return s.outputs }

// Run runs inference once on the session's tensors. It is cheap to call in a
// timing loop (no allocation beyond a context registration). If ctx ends
// during the run, ONNX Runtime is asked to stop and Run returns ctx's error.
func (s *Session) Run(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	unregister := context.AfterFunc(ctx, s.terminate)
	err := s.sess.RunWithOptions(s.runOpts)
	if !unregister() {
		// s.stop ran or is running: wait for it, then clear the flag so
		// that the session can run again.
		<-s.stopped
		if uerr := s.runOpts.UnsetTerminate(); uerr != nil {
			return errors.Join(ctx.Err(), uerr)
		}
		return ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("onnxruntime run: %w", err)
	}
	return nil
}

// stop asks the run in progress to terminate.
func (s *Session) stop() {
	_ = s.runOpts.Terminate()
	s.stopped <- struct{}{}
}

// Close releases the session and its tensors, then lets the process's
// heapTrim return glibc's free heap if it has grown. It is safe to call
// twice.
func (s *Session) Close() error {
	var errs []error
	released := s.sess != nil
	if released {
		errs = append(errs, s.sess.Destroy())
		s.sess = nil
	}
	if s.runOpts != nil {
		errs = append(errs, s.runOpts.Destroy())
		s.runOpts = nil
	}
	for _, t := range slices.Concat(s.ins, s.outs) {
		errs = append(errs, t.Destroy())
	}
	s.ins, s.outs, s.inputs, s.outputs = nil, nil, nil, nil
	if released && s.heap != nil {
		s.heap.afterSession()
	}
	return errors.Join(errs...)
}

// tensorShape is vi's float32 tensor shape with a symbolic first dimension
// set to batch.
func tensorShape(vi *onnxpb.ValueInfoProto, batch int64) ([]int64, error) {
	tt := vi.GetType().GetTensorType()
	if tt == nil {
		return nil, errors.New("not a tensor")
	}
	if et := onnxpb.TensorProto_DataType(tt.GetElemType()); et != onnxpb.TensorProto_FLOAT {
		return nil, fmt.Errorf("element type %s: only FLOAT (float32) is supported", et)
	}
	if tt.GetShape() == nil {
		return nil, errors.New("no shape in the model")
	}
	dims := tt.GetShape().GetDim()
	shape := make([]int64, len(dims))
	for i, d := range dims {
		switch {
		case d.GetDimValue() > 0:
			shape[i] = d.GetDimValue()
		case i == 0:
			shape[i] = batch
		default:
			return nil, fmt.Errorf("dimension %d is symbolic (%q): only the first (batch) may be", i, d.GetDimParam())
		}
	}
	return shape, nil
}

// graphIO reads the graph's inputs (minus initializers) and outputs from a
// serialised ModelProto without decoding the weights.
func graphIO(model []byte) (ins, outs []*onnxpb.ValueInfoProto, err error) {
	const (
		modelGraph       = 7  // ModelProto.graph
		graphInitializer = 5  // GraphProto.initializer
		graphInput       = 11 // GraphProto.input
		graphOutput      = 12 // GraphProto.output
		tensorName       = 8  // TensorProto.name
	)
	var graph []byte
	if err := walk(model, func(num protowire.Number, b []byte) error {
		if num == modelGraph {
			graph = b // the last one wins, as in proto.Unmarshal
		}
		return nil
	}); err != nil {
		return nil, nil, fmt.Errorf("read the ONNX model: %w", err)
	}
	if graph == nil {
		return nil, nil, errors.New("read the ONNX model: it has no graph")
	}
	inits := map[string]bool{}
	err = walk(graph, func(num protowire.Number, b []byte) error {
		switch num {
		case graphInitializer:
			return walk(b, func(num protowire.Number, b []byte) error {
				if num == tensorName {
					inits[string(b)] = true
				}
				return nil
			})
		case graphInput, graphOutput:
			vi := &onnxpb.ValueInfoProto{}
			if err := proto.Unmarshal(b, vi); err != nil {
				return err
			}
			if num == graphInput {
				ins = append(ins, vi)
			} else {
				outs = append(outs, vi)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read the ONNX graph: %w", err)
	}
	ins = slices.DeleteFunc(ins, func(vi *onnxpb.ValueInfoProto) bool { return inits[vi.GetName()] })
	if len(ins) == 0 || len(outs) == 0 {
		return nil, nil, fmt.Errorf("the ONNX graph has %d inputs and %d outputs, want at least one of each", len(ins), len(outs))
	}
	return ins, outs, nil
}

// walk calls f with the bytes of every length-delimited field of the
// message b, skipping the others.
func walk(b []byte, f func(protowire.Number, []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			if err := f(num, v); err != nil {
				return err
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}
