// Package lockfile takes advisory locks on files that say who holds them.
// A lock is an exclusive flock(2) (LockFileEx on Windows) on the file
// PATH, whose content is the holder's Owner as one JSON line: its pid,
// command line, host and since when it holds the lock, so that a process
// that finds the lock taken can name the other one.
//
// The kernel drops the lock when the holder's file is closed, which
// happens when the holder dies however it dies (kill -9 included): a file
// left behind by a dead process is not a lock, and the next process takes
// it over. On Unix Unlock also removes the file; a process that opened it
// just before checks, once it holds the lock, that the path still names
// the file it locked, and starts over otherwise.
package lockfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"
)

// Owner is what a lock file says about its holder.
type Owner struct {
	PID     int       `json:"pid"`
	Command string    `json:"command"`
	Host    string    `json:"host"`
	Since   time.Time `json:"since"`
}

// maxCommand caps the command line a lock file keeps.
const maxCommand = 300

// Self is this process as a holder from now on.
func Self() Owner {
	host, _ := os.Hostname()
	return Owner{PID: os.Getpid(), Command: clean(strings.Join(os.Args, " "), maxCommand), Host: host, Since: time.Now().UTC()}
}

// Describe names the holder for a message, with how long it has held the
// lock at now: "pid 4242 (blockprof profile --store run.db) on host ws1
// since 2025-12-02 16:20:01 UTC, 3m12s ago".
func (o Owner) Describe(now time.Time) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "pid %d", o.PID)
	if c := clean(o.Command, maxCommand); c != "" {
		fmt.Fprintf(&sb, " (%s)", c)
	}
	if h := clean(o.Host, 100); h != "" {
		fmt.Fprintf(&sb, " on host %s", h)
	}
	if !o.Since.IsZero() {
		fmt.Fprintf(&sb, " since %s", o.Since.UTC().Format("2006-01-02 15:04:05 MST"))
		if d := now.Sub(o.Since); d >= 0 {
			fmt.Fprintf(&sb, ", %s ago", d.Round(time.Second))
		}
	}
	return sb.String()
}

// clean makes text read from a lock file safe to print: control
// characters become '?', and it is cut to about n bytes.
func clean(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return '?'
		}
		return r
	}, strings.TrimSpace(s))
	if len(s) > n {
		cut := n
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// maxOwnerBytes bounds what is read of a lock file.
const maxOwnerBytes = 4096

// ParseOwner reads a lock file's content. An empty file (a holder that
// has not written yet) or one that is not an owner line is an error.
func ParseOwner(data []byte) (Owner, error) {
	var o Owner
	line, _, _ := strings.Cut(string(data), "\n")
	if strings.TrimSpace(line) == "" {
		return o, errors.New("the lock file is empty")
	}
	if err := json.Unmarshal([]byte(line), &o); err != nil {
		return Owner{}, fmt.Errorf("the lock file does not hold an owner line: %w", err)
	}
	if o.PID <= 0 {
		return Owner{}, fmt.Errorf("the lock file names pid %d", o.PID)
	}
	return o, nil
}

// ErrHeld is wrapped by the error of TryLock on a lock another process
// (or another Lock of this process) holds.
var ErrHeld = errors.New("locked by another process")

// HeldError says who holds a lock. Known is false when the holder has not
// written its Owner (it is taking the lock right now) or wrote something
// else.
type HeldError struct {
	Path  string
	Owner Owner
	Known bool
	// At is when the lock was found held (for Describe's "ago").
	At time.Time
}

func (e *HeldError) Error() string {
	if !e.Known {
		return fmt.Sprintf("%s is locked by another process (it does not say which)", e.Path)
	}
	return fmt.Sprintf("%s is locked by %s", e.Path, e.Owner.Describe(e.At))
}

func (e *HeldError) Unwrap() error { return ErrHeld }

// Lock is a held lock file.
type Lock struct {
	f    *os.File
	path string
}

// Path is the lock file's path.
func (l *Lock) Path() string { return l.path }

// TryLock takes the lock at path for owner without waiting, creating the
// file (mode 0644; its directory must exist). A lock held elsewhere is a
// *HeldError.
func TryLock(path string, owner Owner) (*Lock, error) {
	for range 100 {
		l, again, err := tryOnce(path, owner)
		if !again {
			return l, err
		}
	}
	// Only a file removed and recreated 100 times in a row gets here.
	return nil, fmt.Errorf("lock file %s keeps being replaced while it is taken; is another program removing it?", path)
}

// tryOnce makes one attempt; again asks for another when the file was
// removed between its opening and its locking.
func tryOnce(path string, owner Owner) (l *Lock, again bool, err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, false, fmt.Errorf("lock file: %w", err)
	}
	ok, err := lockNB(f)
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock file %s: %w", path, err)
	}
	if !ok {
		held := &HeldError{Path: path, At: time.Now()}
		if data, rerr := io.ReadAll(io.LimitReader(f, maxOwnerBytes)); rerr == nil {
			if o, perr := ParseOwner(data); perr == nil {
				held.Owner, held.Known = o, true
			}
		}
		f.Close()
		return nil, false, held
	}
	same, err := samePath(f, path)
	if err != nil || !same {
		f.Close() // drops the lock on the removed file
		return nil, true, nil
	}
	line, err := json.Marshal(owner)
	if err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock file %s: %w", path, err)
	}
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock file %s: %w", path, err)
	}
	if _, err := f.WriteAt(append(line, '\n'), 0); err != nil {
		f.Close()
		return nil, false, fmt.Errorf("lock file %s: %w", path, err)
	}
	return &Lock{f: f, path: path}, false, nil
}

// Poll bounds: a waiter tries again after MinPoll, doubling up to MaxPoll.
// A lock is held for seconds (a measurement), so a waiter costs a few
// system calls per 10 ms and finds a released lock within 10 ms.
const (
	MinPoll = time.Millisecond
	MaxPoll = 10 * time.Millisecond
)

// Wait takes the lock at path for owner, waiting while another process
// holds it, until ctx ends.
func Wait(ctx context.Context, path string, owner Owner) (*Lock, error) {
	poll := MinPoll
	var t *time.Timer
	for {
		l, err := TryLock(path, owner)
		if err == nil || !errors.Is(err, ErrHeld) {
			return l, err
		}
		if t == nil {
			t = time.NewTimer(poll)
			defer t.Stop()
		} else {
			t.Reset(poll)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("gave up waiting: %w: %w", err, ctx.Err())
		case <-t.C:
		}
		poll = min(2*poll, MaxPoll)
	}
}

// Unlock releases the lock: on Unix it removes the file first (while it
// still holds it, so no other process can be holding it), then closes it.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	rerr := removeHeld(l.f, l.path)
	cerr := l.f.Close()
	l.f = nil
	if err := errors.Join(rerr, cerr); err != nil {
		return fmt.Errorf("lock file %s: %w", l.path, err)
	}
	return nil
}
