//go:build linux

package transport

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"blockprof/devices/lockfile"
)

// The death tests re-execute the test binary as a child (deathChild) that
// starts a shell through a local transport, reports the shell's and its
// background child's pids and waits to be killed with SIGKILL.
const deathChildEnv = "BLOCKPROF_TRANSPORT_CHILD" // "start", "run" or "grouped"

func TestMain(m *testing.M) {
	if mode := os.Getenv(deathChildEnv); mode != "" {
		os.Exit(deathChild(mode))
	}
	os.Exit(m.Run())
}

// familyScript reports the shell's pid and its background child's, one
// "name pid" line each, to the file $1 or stdout, then sleeps.
const familyScript = `out=${1:-/dev/stdout}; sleep 300 >/dev/null 2>&1 & echo "grandchild $!" >>"$out"; echo "tool $$" >>"$out"; sleep 300`

func deathChild(mode string) int {
	ctx := context.Background()
	tr := NewLocal()
	dir, err := tr.Dir(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("dir %s\n", dir)
	switch mode {
	case "start":
		p, err := tr.Start(ctx, []string{"sh", "-c", familyScript})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		sc := bufio.NewScanner(p.Stdout)
		for sc.Scan() {
			fmt.Println(sc.Text())
		}
	case "run", "grouped":
		pids := filepath.Join(dir, "pids")
		go func() {
			// Relay the pids once the shell has written both.
			for {
				data, _ := os.ReadFile(pids)
				if strings.Count(string(data), "\n") >= 2 {
					fmt.Print(string(data))
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		var err error
		if mode == "run" {
			_, err = tr.Run(ctx, []string{"sh", "-c", familyScript, "sh", pids})
		} else { // a local helper that is not a device (an accuracy evaluator)
			err = RunGrouped(exec.CommandContext(ctx, "sh", "-c", familyScript, "sh", pids))
		}
		fmt.Fprintln(os.Stderr, "run ended:", err)
	}
	return 2
}

// family is what a death child reported.
type family struct {
	dir            string
	tool, grandkid int
	watchdog       int // the tool's process group
	child          *exec.Cmd
}

// startDeathChild starts a death child with TMPDIR=tmp and reads what it
// reports.
func startDeathChild(t *testing.T, mode, tmp string) *family {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), deathChildEnv+"="+mode, "TMPDIR="+tmp)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	f := &family{child: cmd}
	deadline := time.After(30 * time.Second)
	for f.dir == "" || f.tool == 0 || f.grandkid == 0 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("the child ended before reporting its processes (stderr: %s)", stderr.String())
			}
			k, v, _ := strings.Cut(line, " ")
			switch k {
			case "dir":
				f.dir = v
			case "tool":
				f.tool, _ = strconv.Atoi(v)
			case "grandchild":
				f.grandkid, _ = strconv.Atoi(v)
			}
		case <-deadline:
			t.Fatalf("the child reported nothing within 30s (stderr: %s)", stderr.String())
		}
	}
	f.watchdog = pgrp(t, f.tool)
	return f
}

// pgrp is a running process's group, from /proc/PID/stat.
func pgrp(t *testing.T, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(string(data), ')')
	fields := strings.Fields(string(data[i+1:]))
	g, err := strconv.Atoi(fields[2]) // state, ppid, pgrp
	if err != nil {
		t.Fatalf("pgrp of %d in %q: %v", pid, data, err)
	}
	return g
}

// survivors waits up to 20 s for the processes to end (zombies count as
// ended: the container's init may never reap them) and returns those that
// still run.
func survivors(pids ...int) []int {
	deadline := time.Now().Add(20 * time.Second)
	for {
		var alive []int
		for _, p := range pids {
			if pidAlive(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKill9LeavesNoOrphans: blockprof killed with SIGKILL while a
// transport's process runs (started, or run to completion) leaves no
// process behind, neither the tool nor the child it started; its run
// directory stays, and the next local transport removes it.
func TestKill9LeavesNoOrphans(t *testing.T) {
	for _, mode := range []string{"start", "run", "grouped"} {
		t.Run(mode, func(t *testing.T) {
			tmp := t.TempDir()
			f := startDeathChild(t, mode, tmp)
			if f.watchdog == f.tool || f.watchdog == f.child.Process.Pid || f.watchdog <= 1 {
				t.Fatalf("tool %d runs in group %d, want its watchdog's own group", f.tool, f.watchdog)
			}
			if g := pgrp(t, f.grandkid); g != f.watchdog {
				t.Errorf("the tool's child runs in group %d, want %d", g, f.watchdog)
			}
			if !pidAlive(f.tool) || !pidAlive(f.grandkid) || !pidAlive(f.watchdog) {
				t.Fatalf("the processes should run before the kill: tool %v, child %v, watchdog %v",
					pidAlive(f.tool), pidAlive(f.grandkid), pidAlive(f.watchdog))
			}
			if err := f.child.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			f.child.Wait()
			if alive := survivors(f.tool, f.grandkid, f.watchdog); len(alive) != 0 {
				for _, p := range alive {
					syscallKill(p)
				}
				t.Fatalf("orphans after kill -9 of their blockprof: %v (tool %d, child %d, watchdog %d)", alive, f.tool, f.grandkid, f.watchdog)
			}
			if _, err := os.Stat(f.dir); err != nil {
				t.Fatalf("the killed process's run directory should still be there: %v", err)
			}
			if !strings.HasPrefix(filepath.Base(f.dir), "blockprof."+strconv.Itoa(f.child.Process.Pid)+".") {
				t.Errorf("run directory %s is not named after its process %d", f.dir, f.child.Process.Pid)
			}
			t.Setenv("TMPDIR", tmp)
			next := NewLocal()
			defer next.Close()
			dir, err := next.Dir(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(f.dir); !os.IsNotExist(err) {
				t.Errorf("the dead process's run directory %s is still there after the next start (%v)", f.dir, err)
			}
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("the new run directory: %v", err)
			}
		})
	}
}

func syscallKill(pid int) { _ = exec.Command("kill", "-9", strconv.Itoa(pid)).Run() }

// TestGroupEndsWithItsProcess: what a process left running when it ended,
// was killed or ran past its context is killed with it.
func TestGroupEndsWithItsProcess(t *testing.T) {
	tr := NewLocal()
	defer tr.Close()
	bg := `sleep 300 >/dev/null 2>&1 & echo $!`
	for _, tc := range []struct {
		name string
		do   func(ctx context.Context, out string) error
	}{
		{"run exits", func(ctx context.Context, out string) error {
			res, err := tr.Run(ctx, []string{"sh", "-c", bg + " >" + out})
			if err != nil || res.Code != 0 {
				return fmt.Errorf("run: %v (code %d)", err, res.Code)
			}
			return nil
		}},
		{"run past its deadline", func(ctx context.Context, out string) error {
			c, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				for !fileHasLine(out) {
					time.Sleep(10 * time.Millisecond)
				}
				cancel()
			}()
			if _, err := tr.Run(c, []string{"sh", "-c", bg + " >" + out + "; sleep 300"}); err == nil {
				return fmt.Errorf("a cancelled run succeeded")
			}
			return nil
		}},
		{"start exits", func(ctx context.Context, out string) error {
			p, err := tr.Start(ctx, []string{"sh", "-c", bg + " >" + out})
			if err != nil {
				return err
			}
			return p.Wait()
		}},
		{"start killed", func(ctx context.Context, out string) error {
			p, err := tr.Start(ctx, []string{"sh", "-c", bg + " >" + out + "; sleep 300"})
			if err != nil {
				return err
			}
			for !fileHasLine(out) {
				time.Sleep(10 * time.Millisecond)
			}
			p.Kill()
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "pid")
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := tc.do(ctx, out); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
			if err != nil {
				t.Fatalf("pid file %q: %v", data, err)
			}
			if alive := survivors(pid); len(alive) != 0 {
				syscallKill(pid)
				t.Errorf("the background child %d outlived its process", pid)
			}
		})
	}
}

func fileHasLine(path string) bool {
	data, _ := os.ReadFile(path)
	return strings.HasSuffix(string(data), "\n")
}

// TestSweepStale: only this user's run directories and staging files of
// dead processes go; live ones, this process's, links and other names
// stay.
func TestSweepStale(t *testing.T) {
	dir := t.TempDir()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	d, me := strconv.Itoa(dead.Process.Pid), strconv.Itoa(os.Getpid())
	if pidAlive(dead.Process.Pid) {
		t.Skipf("pid %s was reused at once", d)
	}
	elsewhere := t.TempDir()
	mk := func(name string, kind byte) string {
		p := filepath.Join(dir, name)
		var err error
		switch kind {
		case 'd':
			if err = os.Mkdir(p, 0o700); err == nil {
				err = os.WriteFile(filepath.Join(p, "model.onnx"), []byte("x"), 0o600)
			}
		case 'f':
			err = os.WriteFile(p, []byte("x"), 0o600)
		case 'l':
			err = os.Symlink(elsewhere, p)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	gone := []string{mk("blockprof."+d+".123", 'd'), mk("blockprof-put."+d+".456", 'f')}
	kept := []string{
		mk("blockprof."+me+".1", 'd'),      // this process
		mk("blockprof.1.2", 'd'),           // init runs
		mk("blockprof."+d+".7x", 'd'),      // not a name blockprof makes
		mk("blockprof.abcdef12", 'd'),      // an older blockprof's mktemp name
		mk("other."+d+".1", 'd'),           // someone else's
		mk("blockprof."+d+".9", 'l'),       // a link is never followed
		mk("blockprof-put-"+d+".3", 'f'),   // not a name blockprof makes
		mk("blockprof.99999999999.1", 'd'), // no such pid
		mk("blockprof."+d+".55", 'd'),      // held by a process this one cannot see (below)
	}
	held, err := lockfile.TryLock(filepath.Join(dir, "blockprof."+d+".55", runDirLock), lockfile.Self())
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()
	removed := SweepStale(dir)
	slices.Sort(removed)
	slices.Sort(gone)
	if !slices.Equal(removed, gone) {
		t.Errorf("removed %q, want %q", removed, gone)
	}
	for _, p := range gone {
		if _, err := os.Lstat(p); !os.IsNotExist(err) {
			t.Errorf("%s still there", p)
		}
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	if _, err := os.Stat(elsewhere); err != nil {
		t.Errorf("the link's target went: %v", err)
	}
}

func TestProcState(t *testing.T) {
	for _, tc := range []struct {
		in    string
		state byte
		ok    bool
	}{
		{"24619 (sleep) Z 1 24608 7424 0", 'Z', true},
		{"7 (a) b) (c) S 1 7 7", 'S', true},
		{"7 (x) R", 'R', true},
		{"7 (x)", 0, false},
		{"7 (x)R 1", 0, false},
		{"no parenthesis", 0, false},
		{"", 0, false},
	} {
		s, ok := procState([]byte(tc.in))
		if s != tc.state || ok != tc.ok {
			t.Errorf("procState(%q) = %q %v, want %q %v", tc.in, s, ok, tc.state, tc.ok)
		}
	}
	if !pidAlive(os.Getpid()) {
		t.Error("this process is not alive")
	}
}

func FuzzProcState(f *testing.F) {
	f.Add([]byte("24619 (sleep) Z 1 24608 7424 0"))
	f.Add([]byte("7 (a) b) S"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, ok := procState(data)
		if ok && !bytes.Contains(data, []byte{')', ' ', s}) {
			t.Fatalf("state %q not after a \") \" in %q", s, data)
		}
	})
}
