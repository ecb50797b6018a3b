//go:build linux

package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/devices/transport"
	"blockprof/model"
)

// The kill test re-executes the test binary as a child (hangChild) that
// measures with a command device whose tool hangs.
const hangChildEnv = "BLOCKPROF_COMMAND_HANG_CHILD" // the host lock file

func TestMain(m *testing.M) {
	if lock := os.Getenv(hangChildEnv); lock != "" {
		os.Exit(hangChild(lock))
	}
	os.Exit(m.Run())
}

// hangScript starts a sleeping child, writes its pid and its own to the
// files bg and tool in the run directory $1, and sleeps.
const hangScript = `sleep 300 >/dev/null 2>&1 & echo $! >"$1/bg.tmp" && mv "$1/bg.tmp" "$1/bg"; echo $$ >"$1/tool.tmp" && mv "$1/tool.tmp" "$1/tool"; sleep 300`

func hangConfig() devices.Config {
	return devices.Config{Name: "hang", Kind: "command", Parser: "regex", Regex: `latency (\S+)`, Unit: "ms", Timeout: "10m", Format: "onnx",
		Argv: []string{"sh", "-c", hangScript, "sh", "{dir}", "{model}"}}
}

// loadSpace is testSpace for the child, which has no testing.T.
func loadSpace() (*model.Space, error) {
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		return nil, err
	}
	ss, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		return nil, err
	}
	return ss.Get("ofa-mbv3")
}

func hangChild(lockPath string) int {
	sp, err := loadSpace()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	net, err := sp.Network(sp.MinArch(160))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d, err := New(hangConfig(), transport.NewLocal(), devices.NewHostLockAt(lockPath))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	_, err = d.Measure(context.Background(), net)
	fmt.Fprintln(os.Stderr, "the hanging tool returned:", err)
	return 2
}

// waitPID waits up to a minute for a file holding a pid.
func waitPID(t *testing.T, path string) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		data, err := os.ReadFile(path)
		if err == nil {
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatalf("%s: %q", path, data)
			}
			return pid
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s after a minute", path)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// running reports whether pid runs (a zombie does not: the container's
// init may never reap it).
func running(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z' && s[i+2] != 'X'
}

// stillRunning waits up to 20 s for the processes to end and returns
// those still running (killing them, so that a failed test leaves none).
func stillRunning(pids ...int) []int {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var alive []int
		for _, p := range pids {
			if running(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			for _, p := range alive {
				_ = exec.Command("kill", "-9", strconv.Itoa(p)).Run()
			}
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expiring is a context whose deadline passes when expire is called.
type expiring struct {
	context.Context
	once sync.Once
	done chan struct{}
}

func newExpiring() *expiring {
	return &expiring{Context: context.Background(), done: make(chan struct{})}
}
func (e *expiring) expire()               { e.once.Do(func() { close(e.done) }) }
func (e *expiring) Done() <-chan struct{} { return e.done }
func (e *expiring) Err() error {
	select {
	case <-e.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// TestHungToolReleasesTheHostLock: a local tool that hangs past its
// deadline is killed with everything it started, the host lock is free
// for the other devices, and the error says it stalled them
// (devices.ErrStalledHost, which makes the engine stop the device).
func TestHungToolReleasesTheHostLock(t *testing.T) {
	sp := testSpace(t)
	lock := devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock"))
	t.Setenv("TMPDIR", t.TempDir())
	d := newDevice(t, hangConfig(), transport.NewLocal())
	d.lock = lock
	ctx := newExpiring()
	type result struct{ err error }
	got := make(chan result, 1)
	go func() {
		_, err := d.Measure(ctx, network(t, sp, sp.MinArch(160)))
		got <- result{err}
	}()
	dir, err := d.tr.Dir(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tool, bg := waitPID(t, filepath.Join(dir, "tool")), waitPID(t, filepath.Join(dir, "bg"))
	// The tool holds the host lock while it runs.
	other := devices.NewHostLockAt(lock.Path())
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := other.Lock(short); err == nil {
		other.Unlock()
		t.Fatal("another process took the host lock while the tool ran")
	}
	ctx.expire()
	r := <-got
	if !errors.Is(r.err, context.DeadlineExceeded) || !errors.Is(r.err, devices.ErrStalledHost) || !strings.Contains(r.err.Error(), "running sh") {
		t.Errorf("Measure of a hung tool: %v, want a deadline on the host lock while running sh", r.err)
	}
	if alive := stillRunning(tool, bg); len(alive) != 0 {
		t.Errorf("still running after the deadline: %v (tool %d, its child %d)", alive, tool, bg)
	}
	free, cancelFree := context.WithTimeout(context.Background(), time.Minute)
	defer cancelFree()
	if err := other.Lock(free); err != nil {
		t.Fatalf("the host lock after the hung tool: %v", err)
	}
	other.Unlock()
}

// TestKill9LeavesNoOrphans: blockprof killed with SIGKILL while a command
// device's tool hangs with a child of its own leaves neither running,
// nor the host lock held; the next command device removes the dead
// process's run directory.
func TestKill9LeavesNoOrphans(t *testing.T) {
	tmp := t.TempDir()
	lockPath := filepath.Join(t.TempDir(), "host.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), hangChildEnv+"="+lockPath, "TMPDIR="+tmp)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	var runDir string
	deadline := time.Now().Add(time.Minute)
	for runDir == "" {
		matches, _ := filepath.Glob(filepath.Join(tmp, "blockprof."+strconv.Itoa(cmd.Process.Pid)+".*", "bg"))
		if len(matches) > 0 {
			runDir = filepath.Dir(matches[0])
		} else if time.Now().After(deadline) {
			t.Fatalf("the child's tool wrote no pids within a minute (stderr: %s)", stderr.String())
		} else {
			time.Sleep(10 * time.Millisecond)
		}
	}
	tool, bg := waitPID(t, filepath.Join(runDir, "tool")), waitPID(t, filepath.Join(runDir, "bg"))
	if !running(tool) || !running(bg) {
		t.Fatalf("tool %d or its child %d not running before the kill", tool, bg)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if alive := stillRunning(tool, bg); len(alive) != 0 {
		t.Errorf("orphans after kill -9 of blockprof: %v (tool %d, its child %d)", alive, tool, bg)
	}
	lock := devices.NewHostLockAt(lockPath)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := lock.Lock(ctx); err != nil {
		t.Fatalf("the killed process's host lock: %v", err)
	}
	lock.Unlock()
	if _, err := os.Stat(runDir); err != nil {
		t.Fatalf("the killed process's run directory should still be there: %v", err)
	}
	// The next start (a command device measuring) removes it.
	t.Setenv("TMPDIR", tmp)
	sp := testSpace(t)
	d := newDevice(t, fakeConfig(t), transport.NewLocal())
	if _, err := d.Measure(context.Background(), network(t, sp, sp.MinArch(160))); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(runDir); !os.IsNotExist(err) {
		t.Errorf("run directory %s of the killed process still there after the next start (%v)", runDir, err)
	}
}
