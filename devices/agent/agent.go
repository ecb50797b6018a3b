// Package agent is the "agent" device: a long-lived program on the target
// (by default torch_agent.py, shipped here and copied to the target) that
// builds each network from the JSON description blockprof sends and times
// it, speaking the agent protocol (JSON lines, see protocol.go and
// docs/design.md). The agent runs through a transport (local, ssh or adb); it
// is started on first use, and again after it died or the connection
// dropped.
//
// Errors: an error reply from the agent, a garbled or missing reply, or a
// timeout is a device error (the raw reply is quoted, truncated, in the
// message); an agent that exits or a connection that drops mid-request is
// transient (it wraps devices.ErrTransient) and the next Measure starts a
// new agent.
package agent

import (
	"bufio"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/devices/transport"
	"blockprof/model"
)

// Script is torch_agent.py, copied to the target when the agent command
// names {agent}.
//
//go:embed torch_agent.py
var Script []byte

// ScriptName is the name of the copied script on the target.
const ScriptName = "torch_agent.py"

// DefaultCommand runs the shipped script with the target's python3.
var DefaultCommand = []string{"python3", "{agent}"}

// Options are agent settings beyond devices.Config.
type Options struct {
	// ChannelsLast runs the network in channels-last memory format.
	ChannelsLast bool
	// Seed seeds the random weights and input (they do not change the
	// latency).
	Seed uint64
}

// Device is the agent device.
type Device struct {
	name     string
	tr       transport.Transport
	argv     []string
	protocol devices.Protocol
	timeout  time.Duration
	lock     *devices.HostLock
	req      Request // the settings every request carries

	// reqMu serialises requests: the protocol has one in flight.
	reqMu sync.Mutex

	mu     sync.Mutex // guards what follows
	sess   *session
	info   devices.Info
	hello  *Hello
	closed bool
	nextID int64
	starts int
	script string // the script's path on the target, once copied
}

// Open opens the agent device cfg describes, with its transport. lock is
// the process's host lock, held while a local agent times.
func Open(cfg devices.Config, lock *devices.HostLock, opts Options) (*Device, error) {
	tr, err := transport.Open(cfg)
	if err != nil {
		return nil, err
	}
	d, err := New(cfg, tr, lock, opts)
	if err != nil {
		tr.Close()
		return nil, err
	}
	return d, nil
}

// New returns the agent device of cfg on the transport tr, which it owns
// (Close closes it). Nothing starts until Measure, Check or Count.
func New(cfg devices.Config, tr transport.Transport, lock *devices.HostLock, opts Options) (*Device, error) {
	if cfg.Kind != "" && cfg.Kind != "agent" {
		return nil, fmt.Errorf("device %s: kind %q is not agent", cfg.Name, cfg.Kind)
	}
	fail := func(format string, args ...any) (*Device, error) {
		return nil, fmt.Errorf("device %s: "+format, append([]any{cfg.Name}, args...)...)
	}
	argv := cfg.Command
	if len(argv) == 0 {
		argv = DefaultCommand
	}
	for _, a := range argv {
		if err := checkPlaceholders(a); err != nil {
			return fail("command: %v", err)
		}
	}
	target := cfg.Target
	if target == "" {
		target = "cuda"
	}
	if target != "cuda" && target != "cpu" {
		return fail("target %q: want cuda or cpu", cfg.Target)
	}
	mode := cfg.Mode
	if mode == "" {
		mode = "graph"
		if target == "cpu" {
			mode = "eager"
		}
	}
	if mode != "graph" && mode != "eager" {
		return fail("mode %q: want graph (CUDA graph replay) or eager", cfg.Mode)
	}
	if mode == "graph" && target == "cpu" {
		return fail("mode graph needs target cuda (CUDA graphs); set mode = \"eager\" for target cpu")
	}
	precision := cfg.Precision
	if precision == "" {
		precision = "fp32"
	}
	if precision != "fp32" && precision != "fp16" {
		return fail("precision %q: want fp32 or fp16", cfg.Precision)
	}
	if precision == "fp16" && target == "cpu" {
		return fail("precision fp16 needs target cuda")
	}
	batch, protocol, timeout, err := cfg.Timing()
	if err != nil {
		return nil, err
	}
	d := &Device{name: cfg.Name, tr: tr, argv: slices.Clone(argv), protocol: protocol, timeout: timeout, lock: lock}
	d.req = Request{
		Batch: batch, Warmup: protocol.Warmup, Repeat: protocol.MinRuns, MaxRepeat: protocol.MaxRuns,
		TargetSpread: protocol.TargetSpread, Precision: precision, Mode: mode, Target: target,
		ChannelsLast: opts.ChannelsLast, Threads: cfg.Threads, Seed: opts.Seed,
	}
	d.info = devices.Info{
		Name:       cfg.Name,
		Kind:       "agent",
		Host:       tr.String(),
		Runtime:    "agent",
		Threads:    cfg.Threads,
		Precision:  precision,
		Batch:      batch,
		Mode:       d.modeLabel(""),
		Provenance: devices.Measured,
		Label:      string(devices.Measured),
		Local:      tr.Local(),
	}
	return d, nil
}

// modeLabel describes how the device times, e.g. "cuda-graph, fp32,
// batch 1 (torch_agent.py 1.0.0)".
func (d *Device) modeLabel(agent string) string {
	m := d.req.Target + "-" + d.req.Mode
	if d.req.Target == "cuda" && d.req.Mode == "graph" {
		m = "cuda-graph"
	}
	s := fmt.Sprintf("%s, %s, batch %d", m, d.req.Precision, d.req.Batch)
	if d.req.ChannelsLast {
		s += ", channels-last"
	}
	if agent != "" {
		s += " (" + agent + ")"
	}
	return s
}

// placeholders are the names an agent command may use: {agent} (the
// copied script) and {dir} (the run directory on the target).
var placeholders = []string{"agent", "dir"}

func checkPlaceholders(arg string) error {
	for rest := arg; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			return nil
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil
		}
		name := rest[i+1 : i+j]
		if isIdent(name) && !slices.Contains(placeholders, name) {
			return fmt.Errorf("unknown placeholder {%s} in %q (known: {agent}, {dir})", name, arg)
		}
		rest = rest[i+j+1:]
	}
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// Name is the device's configured name.
func (d *Device) Name() string { return d.name }

// Info describes the device; after the agent's hello it names the
// runtime, its version, the threads and the GPU or CPU.
func (d *Device) Info() devices.Info {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.info
}

// Starts is how many times the agent was started (a restart after a drop
// counts).
func (d *Device) Starts() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.starts
}

// Hello is the last hello the agent sent (nil before the first start).
func (d *Device) Hello() *Hello {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.hello == nil {
		return nil
	}
	h := *d.hello
	return &h
}

// exitGrace is how long an agent whose output ended may take to exit
// before it is killed.
const exitGrace = 3 * time.Second

// errTimeout is the cause of a context ended by the device timeout.
var errTimeout = errors.New("device timeout")

// Check starts the agent if needed and reports what its hello said. It
// fails if the agent cannot time on the configured target.
func (d *Device) Check(ctx context.Context) (devices.Info, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, d.timeout, errTimeout)
	defer cancel()
	d.reqMu.Lock()
	defer d.reqMu.Unlock()
	if _, err := d.session(ctx); err != nil {
		return devices.Info{}, d.ctxErr(ctx, "", "starting the agent", err)
	}
	h := d.Hello()
	if len(h.Targets) > 0 && !slices.Contains(h.Targets, d.req.Target) {
		return d.Info(), fmt.Errorf("device %s: the agent on %s cannot time on %s (it offers %s); set target = %q or check the drivers",
			d.name, d.tr, d.req.Target, strings.Join(h.Targets, ", "), h.Targets[0])
	}
	return d.Info(), nil
}

// Measure times net on the agent with the device's protocol settings.
func (d *Device) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	if net == nil {
		return devices.Measurement{}, fmt.Errorf("device %s: no network", d.name)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, d.timeout, errTimeout)
	defer cancel()
	var lock *devices.HostLock
	if d.tr.Local() {
		lock = d.lock
	}
	// Held from the agent's start, which uses the cores too, to its reply;
	// released at the deadline (the error then wraps ErrStalledHost).
	held, err := lock.Hold(ctx)
	if err != nil {
		return devices.Measurement{}, d.ctxErr(ctx, net.Arch, "waiting for the host lock", err)
	}
	defer held.Release()
	req := d.req
	req.Arch, req.Network = net.Arch, net
	r, err := d.roundTrip(ctx, net.Arch, false, func(id int64) any { req.ID = id; return req })
	if err != nil {
		return devices.Measurement{}, held.Stalled(err)
	}
	return devices.Measurement{SamplesMs: r.SamplesMs, Warmup: r.Warmup, Mode: r.Mode}, nil
}

// Count is what the agent counts in the network it builds from net.
type Count struct {
	MACs, Params int64
	Layers       int
}

// Count asks the agent for the MACs and parameters of the network it
// builds from net (and has it check every layer's output shape): a check
// that the agent builds what the Go side describes.
func (d *Device) Count(ctx context.Context, net *model.Network) (Count, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, d.timeout, errTimeout)
	defer cancel()
	r, err := d.roundTrip(ctx, net.Arch, true, func(id int64) any { return CountRequest{ID: id, Count: true, Network: net} })
	if err != nil {
		return Count{}, err
	}
	return Count{MACs: r.MACs, Params: r.Params, Layers: r.Layers}, nil
}

// roundTrip sends one request and reads its reply, starting the agent if
// it is not running.
func (d *Device) roundTrip(ctx context.Context, arch string, count bool, build func(id int64) any) (Response, error) {
	d.reqMu.Lock()
	defer d.reqMu.Unlock()
	s, err := d.session(ctx)
	if err != nil {
		return Response{}, d.ctxErr(ctx, arch, "starting the agent", err)
	}
	d.mu.Lock()
	d.nextID++
	id := d.nextID
	d.mu.Unlock()
	line, err := json.Marshal(build(id))
	if err != nil {
		return Response{}, fmt.Errorf("device %s: %s: encode request: %w", d.name, arch, err)
	}
	// Whatever ends ctx kills the agent: a request cannot be taken back,
	// and a new agent is cheaper than finding the stream's place again.
	// AfterFunc runs drop in its own goroutine, which may not have run
	// when this returns: drop again here, synchronously, so the next
	// request never picks up the agent that is being killed.
	stop := context.AfterFunc(ctx, func() { d.drop(s) })
	defer func() {
		if !stop() || ctx.Err() != nil {
			d.drop(s)
		}
	}()
	if _, err := s.proc.Stdin.Write(append(line, '\n')); err != nil {
		if ctx.Err() != nil {
			return Response{}, d.ctxErr(ctx, arch, "sending the request", err)
		}
		return Response{}, d.died(s, arch, "while taking the request", err)
	}
	var reply []byte
	select {
	case m := <-s.lines:
		if m.err != nil {
			d.drop(s)
			return Response{}, fmt.Errorf("device %s: %s: %w", d.name, arch, replyErr(m.line, "%v", m.err))
		}
		reply = m.line
	case <-s.eof:
		if ctx.Err() != nil {
			return Response{}, d.ctxErr(ctx, arch, "waiting for the reply", ctx.Err())
		}
		return Response{}, d.died(s, arch, "before answering", s.readErr)
	case <-ctx.Done():
		return Response{}, d.ctxErr(ctx, arch, "waiting for the reply", ctx.Err())
	}
	r, err := ParseResponse(reply, id, count)
	if err != nil {
		d.drop(s) // out of step with the agent: start afresh next time
		return Response{}, fmt.Errorf("device %s: %s: %w", d.name, arch, err)
	}
	if r.Error != "" {
		return Response{}, fmt.Errorf("device %s: %s: the agent on %s failed: %s", d.name, arch, d.tr, r.Error)
	}
	return r, nil
}

// ctxErr explains an error that may come from ctx ending.
func (d *Device) ctxErr(ctx context.Context, arch, when string, err error) error {
	what := d.name
	if arch != "" {
		what += ": " + arch
	}
	if ctx.Err() == nil {
		return fmt.Errorf("device %s: %w", what, err)
	}
	if errors.Is(context.Cause(ctx), errTimeout) {
		return fmt.Errorf("device %s: no reply within the device timeout %v (%s; the agent on %s was stopped; raise `timeout` in its [[devices]] entry): %w",
			what, d.timeout, when, d.tr, ctx.Err())
	}
	return fmt.Errorf("device %s: stopped %s: %w", what, when, ctx.Err())
}

// died reports an agent that exited or lost its connection mid-request:
// transient, and the next request starts a new agent.
func (d *Device) died(s *session, arch, when string, cause error) error {
	// Let the process finish on its own first: its exit says why (ssh's
	// status 255 is a dropped connection).
	select {
	case <-s.proc.Done():
	case <-time.After(exitGrace):
	}
	d.drop(s)
	exit := s.proc.Wait()
	msg := fmt.Sprintf("device %s: %s: the agent on %s stopped %s", d.name, arch, d.tr, when)
	e := &diedError{causes: []error{devices.ErrTransient}}
	switch {
	case exit != nil && !errors.Is(exit, transport.ErrKilled):
		msg += ": " + exit.Error()
		e.causes = append(e.causes, exit)
	case cause != nil && !errors.Is(cause, io.EOF):
		msg += ": " + cause.Error()
	}
	if t := safetext.Escape(strings.TrimSpace(s.proc.Stderr())); t != "" && !strings.Contains(msg, t) {
		msg += "; its stderr ends: " + safetext.Line(transport.Excerpt(lastLines(t, 5), 600))
	}
	e.msg = msg + " (transient: the next measurement starts a new agent)"
	return e
}

// diedError is a transient error that wraps its causes without repeating
// their text.
type diedError struct {
	msg    string
	causes []error
}

func (e *diedError) Error() string   { return e.msg }
func (e *diedError) Unwrap() []error { return e.causes }

func lastLines(s string, n int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

// Close stops the agent and closes the transport (removing the run
// directory on the target).
func (d *Device) Close() error {
	d.mu.Lock()
	d.closed = true
	s := d.sess
	d.sess = nil
	d.mu.Unlock()
	if s != nil {
		s.kill()
	}
	return d.tr.Close()
}

// ---- the agent process ----

// session is one running agent.
type session struct {
	proc  *transport.Process
	lines chan lineMsg
	eof   chan struct{} // closed when stdout ends
	quit  chan struct{} // closed by kill
	once  sync.Once
	// readErr is why stdout ended (read after eof is closed).
	readErr error
}

type lineMsg struct {
	line []byte
	err  error
}

func newSession(p *transport.Process) *session {
	s := &session{proc: p, lines: make(chan lineMsg), eof: make(chan struct{}), quit: make(chan struct{})}
	go s.read()
	return s
}

func (s *session) read() {
	r := bufio.NewReaderSize(s.proc.Stdout, 64<<10)
	for {
		line, err := readLine(r)
		if errors.Is(err, errLineTooLong) {
			select {
			case s.lines <- lineMsg{line: line, err: err}:
			case <-s.quit:
			}
			s.readErr = err
			close(s.eof)
			return
		}
		if len(line) > 0 || err == nil {
			select {
			case s.lines <- lineMsg{line: line}:
			case <-s.quit:
				s.readErr = errors.New("agent stopped")
				close(s.eof)
				return
			}
		}
		if err != nil {
			s.readErr = err
			close(s.eof)
			return
		}
	}
}

func (s *session) kill() {
	s.once.Do(func() {
		close(s.quit)
		s.proc.Kill()
	})
}

// drop kills s and forgets it if it is the current session.
func (d *Device) drop(s *session) {
	d.mu.Lock()
	if d.sess == s {
		d.sess = nil
	}
	d.mu.Unlock()
	s.kill()
}

// session returns the running agent, starting one (and reading its
// hello) if there is none. The caller holds reqMu.
func (d *Device) session(ctx context.Context) (*session, error) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil, errors.New("device closed")
	}
	var dead *session
	if s := d.sess; s != nil {
		select {
		case <-s.eof:
			dead, d.sess = s, nil // died between requests
		default:
			d.mu.Unlock()
			return s, nil
		}
	}
	d.mu.Unlock()
	if dead != nil {
		dead.kill()
	}

	argv, err := d.command(ctx)
	if err != nil {
		return nil, err
	}
	// The agent lives beyond this request: it is stopped by Close, by a
	// failed request or when it dies, not when ctx ends.
	p, err := d.tr.Start(context.WithoutCancel(ctx), argv)
	if err != nil {
		return nil, fmt.Errorf("start the agent: %w", err)
	}
	s := newSession(p)
	stop := context.AfterFunc(ctx, s.kill)
	defer stop()
	h, err := d.readHello(ctx, s)
	if err != nil {
		s.kill()
		d.mu.Lock()
		d.script = "" // copy it again next time, in case it was what failed
		d.mu.Unlock()
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		s.kill()
		return nil, errors.New("device closed")
	}
	d.sess, d.hello = s, &h
	d.starts++
	d.updateInfo(h)
	return s, nil
}

// command is the agent's argv with {agent} and {dir} filled in, copying
// the script to the target if the command names it.
func (d *Device) command(ctx context.Context) ([]string, error) {
	var needScript, needDir bool
	for _, a := range d.argv {
		needScript = needScript || strings.Contains(a, "{agent}")
		needDir = needDir || strings.Contains(a, "{dir}")
	}
	var dir string
	if needDir {
		var err error
		if dir, err = d.tr.Dir(ctx); err != nil {
			return nil, err
		}
	}
	d.mu.Lock()
	script := d.script
	d.mu.Unlock()
	if needScript && script == "" {
		path, err := d.tr.Put(ctx, ScriptName, Script)
		if err != nil {
			return nil, fmt.Errorf("copy %s to %s: %w", ScriptName, d.tr, err)
		}
		d.mu.Lock()
		d.script, script = path, path
		d.mu.Unlock()
	}
	argv := make([]string, len(d.argv))
	for i, a := range d.argv {
		argv[i] = strings.NewReplacer("{agent}", script, "{dir}", dir).Replace(a)
	}
	return argv, nil
}

// readHello waits for the agent's first line.
func (d *Device) readHello(ctx context.Context, s *session) (Hello, error) {
	select {
	case m := <-s.lines:
		if m.err != nil {
			return Hello{}, replyErr(m.line, "%v", m.err)
		}
		h, err := ParseHello(m.line)
		if err != nil {
			return Hello{}, err
		}
		if h.Error != "" {
			return Hello{}, fmt.Errorf("the agent on %s cannot run: %s", d.tr, h.Error)
		}
		return h, nil
	case <-s.eof:
		if ctx.Err() != nil {
			return Hello{}, ctx.Err()
		}
		select {
		case <-s.proc.Done():
		case <-time.After(exitGrace):
			s.kill()
		}
		exit := s.proc.Wait()
		msg := fmt.Sprintf("the agent (%s) on %s exited before its hello", transport.QuoteArgs(d.argv), d.tr)
		if t := safetext.Escape(strings.TrimSpace(s.proc.Stderr())); t != "" {
			msg += "; its stderr ends: " + safetext.Line(transport.Excerpt(lastLines(t, 5), 600))
		}
		if errors.Is(exit, transport.ErrDisconnected) {
			return Hello{}, fmt.Errorf("%s: %w", msg, exit)
		}
		if exit != nil {
			msg += " (" + exit.Error() + ")"
		}
		return Hello{}, errors.New(msg)
	case <-ctx.Done():
		return Hello{}, ctx.Err()
	}
}

// updateInfo fills Info from a hello. The caller holds mu.
func (d *Device) updateInfo(h Hello) {
	i := &d.info
	if h.Runtime != "" {
		i.Runtime = h.Runtime
	}
	i.Version = h.RuntimeVersion
	if h.Host != "" && !d.tr.Local() {
		i.Host = d.tr.String() + " (" + h.Host + ")"
	} else if h.Host != "" {
		i.Host = h.Host
	}
	i.Hardware = h.CPU
	if d.req.Target == "cuda" && h.GPU != "" {
		i.Hardware = h.GPU
		if h.CUDAVersion != "" {
			i.Hardware += ", CUDA " + h.CUDAVersion
		}
	}
	if d.req.Threads == 0 {
		i.Threads = h.Threads
	}
	agent := h.Agent
	if h.Version != "" {
		agent += " " + h.Version
	}
	i.Mode = d.modeLabel(strings.TrimSpace(agent))
}

// Request returns the settings every request carries (the protocol,
// batch, precision, mode and target), for logs and tests.
func (d *Device) Request() Request { return d.req }

var (
	_ devices.Device  = (*Device)(nil)
	_ devices.Checker = (*Device)(nil)
)
