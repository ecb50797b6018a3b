//go:build cgo

package ort

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
	"golang.org/x/sys/cpu"
	"google.golang.org/protobuf/proto"

	"blockprof/model"
	"blockprof/model/onnx"
	"blockprof/model/onnx/onnxpb"
)

// prelayer decides, per space, whether the device writes its models
// pre-laid in NCHWc (prelayNCHWc). It does for an fp32 model at
// optimisation level "all" on an x86-64 CPU with AVX2 (ONNX Runtime's
// NCHWc block is then 8, or 16 with AVX-512: the blocks the pre-layout is
// written and tested for), and for a space only once ONNX Runtime, on this
// machine, has run the pre-laid graph of the space's first net as it runs
// the plain one (check). Otherwise it exports plain models, which ONNX
// Runtime rewrites itself: the same graph is timed either way.
type prelayer struct {
	// block is ONNX Runtime's NCHWc block the models are laid in; 0 when
	// they are written plain.
	block   int64
	mu      sync.Mutex
	checked map[string]error // space → nil when its check passed
}

// nchwcBlock is the NCHWc block ONNX Runtime sets on this CPU (MLAS: 16
// with AVX-512F, 8 with AVX2), 0 on a CPU the pre-layout is not written
// for.
func nchwcBlock() int64 {
	switch {
	case runtime.GOARCH != "amd64" || !cpu.X86.HasAVX2:
		return 0
	case cpu.X86.HasAVX512F:
		return 16
	}
	return 8
}

// use says whether net's model is written pre-laid, checking its space
// first if that was not done yet (a failed check leaves the space plain;
// its error is kept for Device.Prelaid).
func (p *prelayer) use(ctx context.Context, net *model.Network, check func() error) bool {
	if p.block == 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	err, ok := p.checked[net.Space]
	if !ok {
		if err = check(); ctx.Err() != nil {
			return false // not decided: a later net checks again
		}
		if p.checked == nil {
			p.checked = map[string]error{}
		}
		p.checked[net.Space] = err
	}
	return err == nil
}

// state reports the spaces checked so far: nil for those pre-laid, the
// reason for the others.
func (p *prelayer) state() map[string]error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.checked)
}

// prelayOrPlain returns the export's Rewrite for NCHWc block block: the
// NCHWc form where the pre-layout knows how ONNX Runtime would rewrite the
// graph, the plain graph otherwise (prelayNCHWc leaves a graph it refuses
// as it was).
func prelayOrPlain(block int64) func(*onnxpb.ModelProto, onnx.Grow) error {
	return func(m *onnxpb.ModelProto, grow onnx.Grow) error {
		if err := prelayNCHWc(m, grow, block); err != nil && !errors.Is(err, errNotPrelaid) {
			return err
		}
		return nil
	}
}

// samePrelaid exports net plain and pre-laid into w, has ONNX Runtime (rt,
// session options so) optimise each and save what it would run, and
// returns an error unless the two are the same graph (describeGraph). A
// check that passed before with the same inputs (passed) is not run again.
func (w *workDir) samePrelaid(ctx context.Context, rt *Runtime, net *model.Network, eo onnx.Options, so Options, passed passedChecks, block int64) error {
	if so.tune != nil {
		passed = passedChecks{} // settings checkKey cannot name
	}
	var key string
	if passed.dir != "" {
		var err error
		if key, err = w.checkKey(rt, net, eo, so, block); err != nil {
			return fmt.Errorf("NCHWc pre-layout check on %s: %w", net.Arch, err)
		}
		if passed.has(key) {
			return nil
		}
	}
	var graphs [2]string
	for i, rewrite := range []func(*onnxpb.ModelProto, onnx.Grow) error{nil, prelaid(block)} {
		if err := ctx.Err(); err != nil {
			return err
		}
		o := eo
		o.Rewrite = rewrite
		g, err := w.optimized(rt, net, o, so)
		if err != nil {
			return fmt.Errorf("NCHWc pre-layout check on %s: %w", net.Arch, err)
		}
		graphs[i] = g
	}
	if graphs[0] != graphs[1] {
		return fmt.Errorf("NCHWc pre-layout check on %s: ONNX Runtime runs another graph for the pre-laid model", net.Arch)
	}
	passed.add(key)
	return nil
}

// passedChecks remembers, across processes, the pre-layout checks that
// passed: an empty file per check in dir, named by its key (checkKey), so
// that a later run with the same models, library, CPU and settings skips
// the check's two sessions (110-150 ms per space). dir "" remembers
// nothing. Only passes are kept: a failed or interrupted check runs again
// next time. Removing the directory forgets them all.
type passedChecks struct{ dir string }

// defaultPassedChecks is the user's cache directory for passed checks
// ($XDG_CACHE_HOME/blockprof/prelay or ~/.cache/blockprof/prelay on
// Linux); without one, nothing is remembered.
func defaultPassedChecks() passedChecks {
	dir, err := os.UserCacheDir()
	if err != nil || dir == "" {
		return passedChecks{}
	}
	return passedChecks{filepath.Join(dir, "blockprof", "prelay")}
}

func (p passedChecks) has(key string) bool {
	if p.dir == "" {
		return false
	}
	info, err := os.Lstat(filepath.Join(p.dir, key))
	return err == nil && info.Mode().IsRegular()
}

// add records a passed check; a cache it cannot write is only a check
// run again next time.
func (p passedChecks) add(key string) {
	if p.dir == "" || os.MkdirAll(p.dir, 0o700) != nil {
		return
	}
	if f, err := os.OpenFile(filepath.Join(p.dir, key), os.O_WRONLY|os.O_CREATE, 0o600); err == nil {
		f.Close()
	}
}

// checkVersion names what checkKey hashes; a change to the check itself
// bumps it.
const checkVersion = "blockprof NCHWc pre-layout check 2"

// checkKey names, by SHA-256, everything the check of net depends on: the
// plain and the pre-laid model (as written, the offsets of their weights
// in w's file left out: the file's layout depends on the models written
// before, the values at an offset do not), the ONNX Runtime library (its
// version, path, size and modification time), the CPU features that set
// its NCHWc block, and the session settings.
func (w *workDir) checkKey(rt *Runtime, net *model.Network, eo onnx.Options, so Options, block int64) (string, error) {
	h := sha256.New()
	lib, err := os.Stat(rt.Path())
	if err != nil {
		return "", fmt.Errorf("the ONNX Runtime library: %w", err)
	}
	fmt.Fprintf(h, "%s\nonnxruntime %s %s %d %d\ncpu %s avx2=%v avx512f=%v block=%d\nsession %d %d %s %d %v\n", checkVersion,
		rt.Version(), rt.Path(), lib.Size(), lib.ModTime().UnixNano(),
		runtime.GOARCH, cpu.X86.HasAVX2, cpu.X86.HasAVX512F, block,
		so.IntraOpThreads, so.InterOpThreads, so.Optimization, so.Batch, rt.shares(so))
	for _, rewrite := range []func(*onnxpb.ModelProto, onnx.Grow) error{nil, prelaid(block)} {
		o := eo
		o.Rewrite = rewrite
		var buf bytes.Buffer
		if _, err := onnx.WriteExternal(&buf, net, o, w.weights); err != nil {
			return "", err
		}
		var m onnxpb.ModelProto
		if err := proto.Unmarshal(buf.Bytes(), &m); err != nil {
			return "", fmt.Errorf("read back the exported model: %w", err)
		}
		for _, t := range m.GetGraph().GetInitializer() {
			for _, e := range t.GetExternalData() {
				if e.GetKey() == "offset" {
					e.Value = nil
				}
			}
		}
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&m)
		if err != nil {
			return "", fmt.Errorf("hash the exported model: %w", err)
		}
		fmt.Fprintf(h, "model %d\n", len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// optimized exports net with eo into w and describes the graph ONNX
// Runtime optimises it into (saved beside it, its weights in a file of
// their own, then removed).
func (w *workDir) optimized(rt *Runtime, net *model.Network, eo onnx.Options, so Options) (string, error) {
	f, done, err := w.modelFile()
	if err != nil {
		return "", err
	}
	defer done()
	m, err := onnx.WriteExternal(f, net, eo, w.weights)
	if err != nil {
		return "", err
	}
	opt := f.Name() + ".optimized"
	data := filepath.Base(opt) + ".weights"
	defer os.Remove(opt)
	defer os.Remove(filepath.Join(w.path, data))
	s, err := rt.NewSessionFile(f.Name(), m.Inputs, m.Outputs, savingOptimized(so, opt, data))
	if err != nil {
		return "", err
	}
	s.Close()
	return savedGraph(opt)
}

// savingOptimized returns so set to have ONNX Runtime also save, at path,
// the model it optimises (with its initializers of 1 KiB or more in the
// file weights beside it, unless weights is "").
func savingOptimized(so Options, path, weights string) Options {
	tune := so.tune
	so.tune = func(s *onnxruntime.SessionOptions) error {
		if tune != nil {
			if err := tune(s); err != nil {
				return err
			}
		}
		if weights != "" {
			if err := s.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", weights); err != nil {
				return err
			}
			if err := s.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024"); err != nil {
				return err
			}
		}
		return s.SetOptimizedModelFilePath(path)
	}
	return so
}

// savedGraph describes (describeGraph) the optimised model ONNX Runtime
// saved at path.
func savedGraph(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("the optimised model ONNX Runtime saved: %w", err)
	}
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(b, &mp); err != nil {
		return "", fmt.Errorf("the optimised model ONNX Runtime saved: %w", err)
	}
	return describeGraph(mp.GetGraph()), nil
}

// describeGraph describes a graph as ONNX Runtime runs it: one line per
// node (domain, op, attributes, and what feeds each input: the producing
// node's op, an initializer's shape or the graph input), sorted, and the
// initializers' shapes, sorted. Two graphs with the same description run
// the same kernels on the same shapes.
func describeGraph(g *onnxpb.GraphProto) string {
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
