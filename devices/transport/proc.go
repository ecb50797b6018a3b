package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"time"
)

// waitDelay bounds how long a finished or killed process's pipes may stay
// open (held by a child that escaped the kill) before Wait gives up.
const waitDelay = 3 * time.Second

// launcher turns a target argv into a local process: the argv itself
// (local), or the ssh or adb client that runs it on the target.
type launcher struct {
	target string
	// wrap returns the local argv that runs argv on the target;
	// interactive asks for a session whose stdin is kept (Start).
	wrap func(argv []string, interactive bool) []string
	// classify turns a failed exit (code, stderr) of the local process
	// into an error about the connection, or returns nil when the target
	// command itself failed.
	classify func(code int, stderr string) error
}

// base is what every transport shares: the launcher, the processes it
// started and its run directory.
type base struct {
	launcher
	mu     sync.Mutex
	dir    string
	closed bool
	procs  map[*Process]struct{}
}

// newBase makes a transport's base. Each new transport first removes the
// local run directories and staging files that dead blockprof processes
// left behind (SweepStale): the next start cleans up after a kill -9.
func newBase(l launcher) base {
	SweepStale("")
	return base{launcher: l, procs: map[*Process]struct{}{}}
}

// ErrClosed is returned by a transport used after Close.
var ErrClosed = errors.New("transport closed")

func (b *base) String() string { return b.target }

// Start implements Transport.
func (b *base) Start(ctx context.Context, argv []string) (*Process, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, fmt.Errorf("%s: %w", b.target, ErrClosed)
	}
	p, err := b.start(ctx, argv)
	if err != nil {
		return nil, err
	}
	b.procs[p] = struct{}{}
	go func() {
		<-p.done
		b.mu.Lock()
		delete(b.procs, p)
		b.mu.Unlock()
	}()
	return p, nil
}

// Run implements Transport.
func (b *base) Run(ctx context.Context, argv []string) (Result, error) {
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return Result{Code: -1}, fmt.Errorf("%s: %w", b.target, ErrClosed)
	}
	return b.run(ctx, argv)
}

// closeProcs marks the transport closed, kills its processes and returns
// the run directory to remove ("" if none).
func (b *base) closeProcs() string {
	b.mu.Lock()
	b.closed = true
	procs := make([]*Process, 0, len(b.procs))
	for p := range b.procs {
		procs = append(procs, p)
	}
	dir := b.dir
	b.dir = ""
	b.mu.Unlock()
	for _, p := range procs {
		p.Kill()
	}
	return dir
}

// command builds the local exec.Cmd for a target argv, in a process
// group of its own (group) whose close must follow the command's end.
func (l *launcher) command(ctx context.Context, argv []string, interactive bool) (*exec.Cmd, *group, error) {
	if err := checkArgv(argv); err != nil {
		return nil, nil, err
	}
	largv := l.wrap(argv, interactive)
	cmd := exec.CommandContext(ctx, largv[0], largv[1:]...)
	cmd.WaitDelay = waitDelay
	g, err := newGroup(cmd)
	if err != nil {
		return nil, nil, fmt.Errorf("%s on %s: %w", describeArgv(argv), l.target, err)
	}
	return cmd, g, nil
}

// run runs argv to completion.
func (l *launcher) run(ctx context.Context, argv []string) (Result, error) {
	res := Result{Code: -1}
	cmd, g, err := l.command(ctx, argv, false)
	if err != nil {
		return res, err
	}
	var out outputs
	cmd.Stdout = out.writer(&out.stdout)
	cmd.Stderr = out.writer(&out.stderr)
	err = runLocked(cmd, g)
	res.Stdout, res.Stderr, res.Output = out.stdout.Bytes(), out.stderr.Bytes(), out.all.Bytes()
	if cmd.ProcessState != nil {
		res.Code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		return res, fmt.Errorf("%s on %s stopped: %w", describeArgv(argv), l.target, ctx.Err())
	}
	var ee *exec.ExitError
	switch {
	case err == nil, errors.Is(err, exec.ErrWaitDelay) && res.Code == 0:
		return res, nil
	case errors.As(err, &ee):
		if l.classify != nil {
			if cerr := l.classify(res.Code, string(res.Stderr)); cerr != nil {
				return res, fmt.Errorf("%s: %w", describeArgv(argv), cerr)
			}
		}
		return res, &ExitError{Target: l.target, Argv: argv, Code: res.Code, Tail: tail(res.Output, 1024)}
	}
	return res, fmt.Errorf("%s on %s: %w", describeArgv(argv), l.target, err)
}

// runLocked runs cmd on a locked OS thread (see deathSignal) and closes
// its group.
func runLocked(cmd *exec.Cmd, g *group) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer g.close()
	return cmd.Run()
}

// start starts argv with pipes.
func (l *launcher) start(ctx context.Context, argv []string) (*Process, error) {
	cmd, g, err := l.command(ctx, argv, true)
	if err != nil {
		return nil, err
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		g.close()
		return nil, fmt.Errorf("transport: pipe: %w", err)
	}
	p := &Process{target: l.target, argv: argv, cmd: cmd, group: g, stdout: pr, done: make(chan struct{}), classify: l.classify}
	cmd.Stdout = pw
	cmd.Stderr = &p.stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		g.close()
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("transport: stdin pipe: %w", err)
	}
	// One goroutine starts and waits for the process on a locked OS
	// thread (see deathSignal).
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			g.close()
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		g.close()
		p.err = p.exitErr(ctx, err)
		close(p.done)
	}()
	if err := <-started; err != nil {
		pr.Close()
		pw.Close()
		return nil, fmt.Errorf("%s on %s: %w", describeArgv(argv), l.target, err)
	}
	pw.Close() // the child holds the write end now
	p.Stdin, p.Stdout = stdin, pr
	return p, nil
}

// Process is a process started on a target.
type Process struct {
	// Stdin is the process's standard input; closing it sends EOF.
	Stdin io.WriteCloser
	// Stdout is the process's standard output. It ends (io.EOF) when the
	// process and everything it started have closed it.
	Stdout io.Reader

	target   string
	argv     []string
	cmd      *exec.Cmd
	group    *group
	stdout   *os.File
	stderr   tailWriter
	classify func(code int, stderr string) error

	done   chan struct{}
	err    error
	killed bool
	mu     sync.Mutex
}

// ErrKilled is the Wait error of a process ended by Kill or Close.
var ErrKilled = errors.New("process killed")

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Wait waits for the process to exit: nil for status 0, an *ExitError, an
// error wrapping ErrDisconnected (the connection to the target dropped),
// ErrKilled, or one wrapping the context's error.
func (p *Process) Wait() error {
	<-p.done
	return p.err
}

// Stderr is the end of what the process wrote to stderr so far (about
// 4 KiB at most).
func (p *Process) Stderr() string { return p.stderr.String() }

// Kill kills the process (and the processes it started on this machine),
// waits for it and closes its pipes. A killed ssh or adb client drops its
// connection; the remote command then sees its input end.
func (p *Process) Kill() {
	p.mu.Lock()
	select {
	case <-p.done:
	default:
		p.killed = true
		_ = p.group.kill()
	}
	p.mu.Unlock()
	<-p.done
	p.Stdin.Close()
	p.stdout.Close()
}

func (p *Process) exitErr(ctx context.Context, err error) error {
	code := -1
	if p.cmd.ProcessState != nil {
		code = p.cmd.ProcessState.ExitCode()
	}
	p.mu.Lock()
	killed := p.killed
	p.mu.Unlock()
	switch {
	case killed:
		return fmt.Errorf("%s on %s: %w", describeArgv(p.argv), p.target, ErrKilled)
	case ctx.Err() != nil:
		return fmt.Errorf("%s on %s stopped: %w", describeArgv(p.argv), p.target, ctx.Err())
	case err == nil, errors.Is(err, exec.ErrWaitDelay) && code == 0:
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if p.classify != nil {
			if cerr := p.classify(code, p.stderr.String()); cerr != nil {
				return fmt.Errorf("%s: %w", describeArgv(p.argv), cerr)
			}
		}
		return &ExitError{Target: p.target, Argv: p.argv, Code: code, Tail: p.stderr.String()}
	}
	return fmt.Errorf("%s on %s: %w", describeArgv(p.argv), p.target, err)
}

// outputs collects a process's stdout, stderr and both interleaved.
type outputs struct {
	mu                  sync.Mutex
	stdout, stderr, all bytes.Buffer
}

func (o *outputs) writer(b *bytes.Buffer) io.Writer { return outWriter{o, b} }

type outWriter struct {
	o *outputs
	b *bytes.Buffer
}

func (w outWriter) Write(p []byte) (int, error) {
	w.o.mu.Lock()
	defer w.o.mu.Unlock()
	capped(w.b, p)
	capped(&w.o.all, p)
	return len(p), nil
}

func capped(b *bytes.Buffer, p []byte) {
	if room := MaxOutput - b.Len(); room > 0 {
		b.Write(p[:min(len(p), room)])
	}
}

// tailWriter keeps the last tailSize bytes written.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 4096

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > tailSize {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
