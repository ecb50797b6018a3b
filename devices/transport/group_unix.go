//go:build unix

package transport

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// group is the process group a transport's process runs in, so that a
// kill (ctx, Kill, Close) ends everything it started on this machine and
// the terminal's Ctrl-C reaches blockprof, not the device's processes.
//
// The group's leader is a watchdog: /bin/sh running watchdogScript, which
// waits for end of file on a pipe whose write end only blockprof holds,
// then kills its own group. The write end closes when blockprof closes
// the group or dies, however it dies (kill -9 included), so no process of
// the group outlives blockprof: not the tool, which on Linux also gets
// SIGKILL as its parent-death signal, nor what the tool started, which no
// parent-death signal reaches. As a member of the group the watchdog also
// keeps its id from being reused while it may still signal it. The script
// is fixed text: no argument of the device ever reaches a shell.
type group struct {
	cmd  *exec.Cmd
	dog  *exec.Cmd
	w    *os.File // the pipe's write end; closing it ends the group
	pgid int

	mu     sync.Mutex
	closed bool // the watchdog is reaped: pgid may name another group
}

// watchdogScript kills the watchdog's group (kill's pid 0) once its
// standard input ends.
const watchdogScript = "read -r line; kill -s KILL 0"

// newGroup starts the watchdog and sets cmd, not yet started, to run in
// its group, killed with it when ctx ends. close must follow cmd's end.
func newGroup(cmd *exec.Cmd) (*group, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("transport: watchdog pipe: %w", err)
	}
	dog := exec.Command("/bin/sh", "-c", watchdogScript)
	dog.Stdin = r
	dog.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = dog.Start()
	r.Close()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("transport: starting the process-group watchdog /bin/sh: %w", err)
	}
	g := &group{cmd: cmd, dog: dog, w: w, pgid: dog.Process.Pid}
	attr := &syscall.SysProcAttr{Setpgid: true, Pgid: g.pgid}
	deathSignal(attr)
	cmd.SysProcAttr = attr
	cmd.Cancel = g.kill
	return g, nil
}

// kill kills the whole group, the watchdog included.
func (g *group) kill() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return os.ErrProcessDone
	}
	return g.killLocked()
}

func (g *group) killLocked() error {
	err := syscall.Kill(-g.pgid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return os.ErrProcessDone
	}
	return err
}

// close kills what is left of the group once its process has ended (what
// the process left running goes with it) and reaps the watchdog.
func (g *group) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return
	}
	_ = g.killLocked()
	g.w.Close()
	_ = g.dog.Wait()
	g.closed = true
}

// signalable reports whether a process with this id exists (it may
// belong to another user, or be a zombie).
func signalable(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// ownedByMe reports whether this user owns the file.
func ownedByMe(fi os.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid()
}
