package transport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"

	"blockprof/devices/lockfile"
)

// Local runs processes on this machine, argv executed directly (no shell).
type Local struct {
	base
	owner *lockfile.Lock // on the run directory's runDirLock, under mu
}

// runDirLock is the file in a local run directory that its transport
// holds locked (devices/lockfile) while it lives: a process whose pid this
// system does not show (another container sharing /tmp) still keeps its
// directory from SweepStale.
const runDirLock = ".blockprof.lock"

// NewLocal returns the local transport.
func NewLocal() *Local {
	return &Local{base: newBase(launcher{
		target: "local",
		wrap:   func(argv []string, _ bool) []string { return slices.Clone(argv) },
	})}
}

// Local reports true.
func (*Local) Local() bool { return true }

// Dir implements Transport: a directory under os.TempDir.
func (t *Local) Dir(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return "", fmt.Errorf("local: %w", ErrClosed)
	}
	if t.dir == "" {
		dir, err := os.MkdirTemp("", localTempPrefix("blockprof."))
		if err != nil {
			return "", fmt.Errorf("local: run directory: %w", err)
		}
		owner, err := lockfile.TryLock(filepath.Join(dir, runDirLock), lockfile.Self())
		if err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("local: run directory: %w", err)
		}
		t.dir, t.owner = dir, owner
	}
	return t.dir, nil
}

// localTempPrefix names a local run directory or staging file after this
// process: PREFIX.PID.RANDOM, so that the next blockprof can tell which
// ones a dead process left behind (SweepStale).
func localTempPrefix(prefix string) string { return prefix + strconv.Itoa(os.Getpid()) + "." }

// localTempRE matches the names localTempPrefix makes (RANDOM is decimal).
var localTempRE = regexp.MustCompile(`^blockprof(?:\.|-put\.)([0-9]{1,10})\.[0-9]+$`)

// SweepStale removes from dir (os.TempDir() when "") the run directories
// and staging files that blockprof processes of this user left when they
// died without closing their transports (kill -9, a power cut): those
// named after a process id that is no longer running, and for a run
// directory, whose runDirLock no process holds. It returns what it
// removed; what it cannot remove or check is left.
func SweepStale(dir string) []string {
	if dir == "" {
		dir = os.TempDir()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range entries {
		m := localTempRE.FindStringSubmatch(e.Name())
		if m == nil {
			continue
		}
		pid, err := strconv.Atoi(m[1])
		if err != nil || pid <= 0 || pid == os.Getpid() || pidAlive(pid) {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(path)
		if err != nil || !ownedByMe(fi) || fi.Mode()&os.ModeSymlink != 0 {
			continue
		}
		var owner *lockfile.Lock
		if fi.IsDir() {
			if owner, err = lockfile.TryLock(filepath.Join(path, runDirLock), lockfile.Self()); err != nil {
				continue // held: its process lives where this one cannot see it
			}
		}
		if err := os.RemoveAll(path); err == nil {
			removed = append(removed, path)
		}
		owner.Unlock()
	}
	return removed
}

// Put implements Transport.
func (t *Local) Put(ctx context.Context, name string, data []byte) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	dir, err := t.Dir(ctx)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("local: %w", err)
	}
	return path, nil
}

// Close implements Transport.
func (t *Local) Close() error {
	dir := t.closeProcs()
	t.mu.Lock()
	owner := t.owner
	t.owner = nil
	t.mu.Unlock()
	defer owner.Unlock() // after the removal: the directory is never unlocked while it exists
	if dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("local: remove run directory: %w", err)
		}
	}
	return nil
}

var _ Transport = (*Local)(nil)
