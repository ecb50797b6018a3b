package lockfile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The cross-process test re-executes the test binary as a child that
// takes a lock, says so on stdout and holds it until its stdin ends.
const childEnv = "BLOCKPROF_LOCKFILE_CHILD" // the lock path

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(child(path))
	}
	os.Exit(m.Run())
}

func child(path string) int {
	l, err := TryLock(path, Self())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("locked")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	if err := l.Unlock(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	return 0
}

func testOwner(pid int) Owner {
	return Owner{PID: pid, Command: "blockprof profile --store run.db", Host: "ws1", Since: time.Date(2025, 12, 2, 16, 20, 1, 0, time.UTC)}
}

// TestTryLockNamesTheHolder: a second lock on the same file, even in the
// same process, is refused with the first holder's owner; after Unlock
// the file is gone and the lock free.
func TestTryLockNamesTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db.lock")
	first, err := TryLock(path, testOwner(111))
	if err != nil {
		t.Fatal(err)
	}
	_, err = TryLock(path, testOwner(222))
	var held *HeldError
	if !errors.As(err, &held) || !errors.Is(err, ErrHeld) {
		t.Fatalf("second lock: %v, want a *HeldError", err)
	}
	if !held.Known || held.Owner.PID != 111 || held.Owner.Host != "ws1" || !held.Owner.Since.Equal(testOwner(111).Since) {
		t.Errorf("holder %+v, want the first owner", held)
	}
	for _, want := range []string{path, "pid 111", "blockprof profile --store run.db", "host ws1", "2025-12-02 16:20:01 UTC"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" {
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("lock file left after Unlock: %v", err)
		}
	}
	again, err := TryLock(path, testOwner(222))
	if err != nil {
		t.Fatalf("after Unlock: %v", err)
	}
	again.Unlock()
	if err := (*Lock)(nil).Unlock(); err != nil {
		t.Errorf("nil lock: %v", err)
	}
}

// TestStaleFileIsNotALock: a file that names a holder but that nobody
// holds open (its process died) is taken over and rewritten.
func TestStaleFileIsNotALock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "host.lock")
	if err := os.WriteFile(path, []byte(`{"pid":999999,"command":"blockprof","host":"ws1","since":"2025-12-02T16:20:01Z"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	me := testOwner(333)
	l, err := TryLock(path, me)
	if err != nil {
		t.Fatalf("stale file: %v", err)
	}
	defer l.Unlock()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseOwner(data)
	if err != nil || got.PID != 333 {
		t.Errorf("lock file now says %q (%v), want pid 333", data, err)
	}
}

// TestWaitTakesTheLockOnRelease: Wait blocks while the lock is held,
// gives up when its context ends, and takes the lock once released.
func TestWaitTakesTheLockOnRelease(t *testing.T) {
	path := filepath.Join(t.TempDir(), "host.lock")
	held, err := TryLock(path, testOwner(1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Wait(ctx, path, testOwner(2)); !errors.Is(err, context.Canceled) || !errors.Is(err, ErrHeld) {
		t.Fatalf("Wait on a held lock with an ended context: %v", err)
	}
	got := make(chan error, 1)
	go func() {
		l, err := Wait(context.Background(), path, testOwner(2))
		if err == nil {
			err = l.Unlock()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Wait returned while the lock was held: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatalf("Wait after the release: %v", err)
	}
}

// TestSamePath: a file removed or replaced after it was opened is not the
// one the path names.
func TestSamePath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.lock")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if same, err := samePath(f, path); err != nil || !same {
		t.Fatalf("fresh file: %v %v", same, err)
	}
	if runtime.GOOS == "windows" {
		return
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if same, err := samePath(f, path); err != nil || same {
		t.Errorf("removed file: %v %v", same, err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if same, err := samePath(f, path); err != nil || same {
		t.Errorf("replaced file: %v %v", same, err)
	}
}

// TestLockAcrossProcesses: another process's lock is refused with its
// pid, and once that process is killed with SIGKILL (no Unlock) the lock
// is free.
func TestLockAcrossProcesses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db.lock")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "locked\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child: %q %v (stderr %s)", line, err, stderr.String())
	}
	_, err = TryLock(path, Self())
	var held *HeldError
	if !errors.As(err, &held) || !held.Known || held.Owner.PID != cmd.Process.Pid {
		t.Fatalf("lock held by child %d: got %v", cmd.Process.Pid, err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(cmd.Process.Pid)) {
		t.Errorf("%q does not name the child's pid", err)
	}
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: the child never unlocks
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the killed child's lock file should remain: %v", err)
	}
	l, err := TryLock(path, Self())
	if err != nil {
		t.Fatalf("after the holder died: %v", err)
	}
	l.Unlock()
}

func TestParseOwner(t *testing.T) {
	for _, tc := range []struct {
		in   string
		pid  int
		fail bool
	}{
		{in: `{"pid":42,"command":"blockprof","host":"h","since":"2025-12-02T16:20:01Z"}` + "\n", pid: 42},
		{in: `{"pid":7}`, pid: 7},
		{in: "", fail: true},
		{in: "\n", fail: true},
		{in: "not json", fail: true},
		{in: `{"pid":0}`, fail: true},
		{in: `{"pid":-3}`, fail: true},
		{in: `{"pid":"42"}`, fail: true},
		{in: `{"pid":42,"since":"yesterday"}`, fail: true},
	} {
		o, err := ParseOwner([]byte(tc.in))
		if (err != nil) != tc.fail || o.PID != tc.pid {
			t.Errorf("ParseOwner(%q) = %+v, %v", tc.in, o, err)
		}
	}
}

func TestDescribe(t *testing.T) {
	since := time.Date(2025, 12, 2, 16, 20, 1, 0, time.UTC)
	for _, tc := range []struct {
		o    Owner
		now  time.Time
		want string
	}{
		{o: Owner{PID: 42, Command: "blockprof profile", Host: "ws1", Since: since}, now: since.Add(192 * time.Second),
			want: "pid 42 (blockprof profile) on host ws1 since 2025-12-02 16:20:01 UTC, 3m12s ago"},
		{o: Owner{PID: 42}, now: since, want: "pid 42"},
		{o: Owner{PID: 42, Command: "evil\x1b[2J\ncmd", Since: since}, now: since.Add(-time.Hour),
			want: "pid 42 (evil?[2J?cmd) since 2025-12-02 16:20:01 UTC"},
		{o: Owner{PID: 1, Command: strings.Repeat("é", 400)}, now: since, want: "pid 1 (" + strings.Repeat("é", maxCommand/2) + "…)"},
	} {
		if got := tc.o.Describe(tc.now); got != tc.want {
			t.Errorf("Describe(%+v) =\n%q\nwant\n%q", tc.o, got, tc.want)
		}
	}
}

// FuzzParseOwner: whatever a lock file holds, parsing and describing it
// never panics, and a parsed owner prints without control characters.
func FuzzParseOwner(f *testing.F) {
	f.Add([]byte(`{"pid":42,"command":"blockprof profile","host":"ws1","since":"2025-12-02T16:20:01Z"}` + "\n"))
	f.Add([]byte(""))
	f.Add([]byte(`{"pid":1,"command":"\u001b[31mred"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		o, err := ParseOwner(data)
		if err != nil {
			return
		}
		if o.PID <= 0 {
			t.Fatalf("accepted pid %d", o.PID)
		}
		d := o.Describe(time.Now())
		for _, r := range d {
			if r < ' ' || r == 0x7f {
				t.Fatalf("control character %q in %q", r, d)
			}
		}
	})
}
