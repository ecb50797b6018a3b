package devices

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"blockprof/devices/lockfile"
)

// HostLockEnv names the environment variable that sets the host lock's
// file (default: HostLockPath).
const HostLockEnv = "BLOCKPROF_HOST_LOCK"

// HostLock serialises timing among the devices that share this machine's
// cores: within the process through a channel (waiters are served in
// turn), and across processes through a lock file (devices/lockfile) that
// every blockprof of the user takes while it times, so that two
// processes never time the CPU at once. Create one per process and hand
// it to every local device.
//
// The file lock dies with its process. Two users' processes do not see
// each other's lock unless both set BLOCKPROF_HOST_LOCK to one file they
// can both write.
type HostLock struct {
	ch   chan struct{}
	path string
	err  error // why the default path could not be found
	file *lockfile.Lock
}

// NewHostLock returns an unlocked host lock on HostLockPath's file.
func NewHostLock() *HostLock {
	path, err := HostLockPath()
	return &HostLock{ch: make(chan struct{}, 1), path: path, err: err}
}

// NewHostLockAt returns an unlocked host lock on the file path, or one
// for this process alone when path is "" (tests, and devices that do not
// time on this machine).
func NewHostLockAt(path string) *HostLock {
	return &HostLock{ch: make(chan struct{}, 1), path: path}
}

// HostLockPath is the host lock's file: $BLOCKPROF_HOST_LOCK if set, else
// blockprof/host.lock in the user cache directory (~/.cache on Linux).
func HostLockPath() (string, error) {
	if p := os.Getenv(HostLockEnv); p != "" {
		return p, nil
	}
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "blockprof", "host.lock"), nil
}

// Path is the lock file ("" for a process-only lock).
func (l *HostLock) Path() string { return l.path }

// Lock waits for the lock or for ctx to end; then the error wraps ctx's
// and, if another process held the file, names it.
func (l *HostLock) Lock(ctx context.Context) error {
	select {
	case l.ch <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	if l.path == "" && l.err == nil {
		return nil
	}
	f, err := l.lockFile(ctx)
	if err != nil {
		<-l.ch
		return err
	}
	l.file = f
	return nil
}

func (l *HostLock) lockFile(ctx context.Context) (*lockfile.Lock, error) {
	if l.err != nil {
		return nil, fmt.Errorf("host lock: %w (set %s to a lock file path that every blockprof on this machine uses)", l.err, HostLockEnv)
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return nil, fmt.Errorf("host lock: %w (set %s to another lock file path)", err, HostLockEnv)
	}
	f, err := lockfile.Wait(ctx, l.path, lockfile.Self())
	if err != nil {
		return nil, fmt.Errorf("host lock: %w", err)
	}
	return f, nil
}

// Unlock releases the lock.
func (l *HostLock) Unlock() {
	if l.file != nil {
		_ = l.file.Unlock() // closing the file releases it even if removing it failed
		l.file = nil
	}
	<-l.ch
}

// ErrStalledHost is wrapped by the error of a measurement whose deadline
// came while it held the host lock: every other local device waited for
// it the whole time, and would again on its next arch.
var ErrStalledHost = errors.New("timed out holding the host lock")

// Held is a host lock taken by Hold.
type Held struct {
	l        *HostLock
	ctx      context.Context
	once     sync.Once
	stop     func() bool
	released atomic.Bool // by Release, before ctx ended
}

// Hold takes the lock (a nil lock takes nothing) until Release or until
// ctx ends, whichever comes first: a device that hangs past its deadline
// lets the other devices time as soon as the deadline comes, not once
// whatever hung has been killed and reaped.
func (l *HostLock) Hold(ctx context.Context) (*Held, error) {
	if l == nil {
		return &Held{}, nil
	}
	if err := l.Lock(ctx); err != nil {
		return nil, err
	}
	h := &Held{l: l, ctx: ctx}
	h.stop = context.AfterFunc(ctx, h.unlock)
	return h, nil
}

// Release releases the lock if ctx has not already.
func (h *Held) Release() {
	if h.l == nil {
		return
	}
	if h.stop() {
		h.released.Store(true)
	}
	h.unlock()
}

func (h *Held) unlock() { h.once.Do(h.l.Unlock) }

// Stalled returns err, wrapping ErrStalledHost when err is not nil and
// ctx's deadline has passed with the lock still held (not Released).
func (h *Held) Stalled(err error) error {
	if err == nil || h.l == nil || h.released.Load() || !errors.Is(h.ctx.Err(), context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w (%w)", err, ErrStalledHost)
}
