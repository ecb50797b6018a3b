package devices

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The cross-process test re-executes the test binary as children
// (lockChild) that take the host lock in turn and log when they enter and
// leave it.
const (
	lockChildEnv = "BLOCKPROF_DEVICES_LOCK_CHILD" // the log file
	lockRounds   = 40
)

func TestMain(m *testing.M) {
	if log := os.Getenv(lockChildEnv); log != "" {
		os.Exit(lockChild(log))
	}
	os.Exit(m.Run())
}

// lockChild takes the host lock (BLOCKPROF_HOST_LOCK) lockRounds times;
// inside it appends "enter PID" and, after a pause, "leave PID" to log.
func lockChild(log string) int {
	lock := NewHostLock()
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer f.Close()
	pid := strconv.Itoa(os.Getpid())
	for range lockRounds {
		if err := lock.Lock(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Fprintln(f, "enter", pid)
		time.Sleep(2 * time.Millisecond) // widen the window another process could enter
		fmt.Fprintln(f, "leave", pid)
		lock.Unlock()
	}
	return 0
}

// TestHostLockAcrossProcesses: processes sharing a host lock file never
// hold it at once: every "enter" in the log is followed by the same
// process's "leave".
func TestHostLockAcrossProcesses(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	if err := os.WriteFile(log, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	const n = 3
	cmds := make([]*exec.Cmd, n)
	stderr := make([]strings.Builder, n)
	for i := range cmds {
		cmds[i] = exec.Command(os.Args[0], "-test.run=^$")
		cmds[i].Env = append(os.Environ(), lockChildEnv+"="+log, HostLockEnv+"="+filepath.Join(dir, "host.lock"))
		cmds[i].Stderr = &stderr[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatalf("child %d: %v: %s", i, err, stderr[i].String())
		}
	}
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var holder string
	lines, switches, last := 0, 0, ""
	for sc.Scan() {
		lines++
		what, pid, _ := strings.Cut(sc.Text(), " ")
		switch {
		case what == "enter" && holder == "":
			holder = pid
			if last != "" && last != pid {
				switches++
			}
			last = pid
		case what == "leave" && holder == pid:
			holder = ""
		default:
			t.Fatalf("line %d %q while %q held the lock: two processes held it at once", lines, sc.Text(), holder)
		}
	}
	if lines != 2*n*lockRounds {
		t.Errorf("%d log lines, want %d", lines, 2*n*lockRounds)
	}
	t.Logf("the lock went from one process to another %d times", switches)
}

// TestHoldReleasesAtTheDeadline: a holder past its deadline lets the next
// one in without releasing, and its error then wraps ErrStalledHost; a
// cancelled holder's does not; Release after either is harmless.
func TestHoldReleasesAtTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		name    string
		end     func(context.Context) (context.Context, context.CancelFunc)
		stalled bool
	}{
		{"deadline", func(c context.Context) (context.Context, context.CancelFunc) {
			return context.WithTimeout(c, 30*time.Millisecond)
		}, true},
		{"cancel", func(c context.Context) (context.Context, context.CancelFunc) {
			c, cancel := context.WithCancel(c)
			time.AfterFunc(30*time.Millisecond, cancel)
			return c, cancel
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lock := NewHostLockAt(filepath.Join(t.TempDir(), "host.lock"))
			ctx, cancel := tc.end(context.Background())
			defer cancel()
			held, err := lock.Hold(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// The holder hangs: it never releases before its context ends.
			<-ctx.Done()
			next, cancelNext := context.WithTimeout(context.Background(), time.Minute)
			defer cancelNext()
			if err := lock.Lock(next); err != nil {
				t.Fatalf("the lock stayed held after the holder's context ended: %v", err)
			}
			err = held.Stalled(ctx.Err())
			if errors.Is(err, ErrStalledHost) != tc.stalled || !errors.Is(err, ctx.Err()) {
				t.Errorf("Stalled: %v, want ErrStalledHost %v", err, tc.stalled)
			}
			if held.Stalled(nil) != nil {
				t.Error("Stalled(nil) is not nil")
			}
			held.Release() // must not release the next holder's lock
			released := make(chan struct{})
			go func() {
				other := NewHostLockAt(lock.Path())
				if err := other.Lock(context.Background()); err == nil {
					other.Unlock()
				}
				close(released)
			}()
			select {
			case <-released:
				t.Fatal("a late Release freed the next holder's lock")
			case <-time.After(50 * time.Millisecond):
			}
			lock.Unlock()
			<-released
		})
	}
}

// TestHoldNilAndRelease: a nil lock holds nothing; Release frees the lock
// for the next holder before any deadline.
func TestHoldNilAndRelease(t *testing.T) {
	var none *HostLock
	h, err := none.Hold(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h.Release()
	if err := h.Stalled(errors.New("x")); errors.Is(err, ErrStalledHost) {
		t.Error("a nil lock stalled")
	}
	lock := NewHostLockAt("")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	held, err := lock.Hold(ctx)
	if err != nil {
		t.Fatal(err)
	}
	held.Release()
	held.Release()
	if err := lock.Lock(ctx); err != nil {
		t.Fatalf("after Release: %v", err)
	}
	lock.Unlock()
}

// TestHostLockNamesTheOtherProcess: a wait for a file another holder has
// ends with its context and says who holds it.
func TestHostLockNamesTheOtherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "host.lock")
	a, b := NewHostLockAt(path), NewHostLockAt(path) // two processes' locks
	if err := a.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := b.Lock(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("waiting for a held host lock: %v", err)
	}
}

func TestHostLockPath(t *testing.T) {
	t.Setenv(HostLockEnv, "/x/y.lock")
	if p, err := HostLockPath(); err != nil || p != "/x/y.lock" {
		t.Errorf("with %s set: %q %v", HostLockEnv, p, err)
	}
	t.Setenv(HostLockEnv, "")
	t.Setenv("XDG_CACHE_HOME", "/cache")
	t.Setenv("HOME", "/home/u")
	p, err := HostLockPath()
	if err != nil || !strings.HasSuffix(p, filepath.Join("blockprof", "host.lock")) {
		t.Errorf("default: %q %v", p, err)
	}
	if lock := NewHostLock(); lock.Path() != p {
		t.Errorf("NewHostLock uses %q, want %q", lock.Path(), p)
	}
}
