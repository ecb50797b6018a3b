package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"blockprof/devices"
	"blockprof/devices/sim"
	"blockprof/engine/store"
	"blockprof/model"
)

// The claim tests re-execute the test binary as profiler children
// (profilerChild) that profile a plan on the sim device into one store.
const (
	profilerChildEnv = "BLOCKPROF_ENGINE_PROFILER" // the store path
	profilerGateEnv  = "BLOCKPROF_ENGINE_GATE"     // "1": wait for a line on stdin between Prepare and Start
)

const claimPlanSize = 200

// profilerChild profiles claimPlanSize archs on a sim device. It prints
// "prepared" once it holds the store and "measured N" at the end, or
// "refused ERROR" (exit 3) when another profiler holds the store.
func profilerChild(path string) int {
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer st.Close()
	sp, err := loadTestSpace()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ps := model.PlanSpec{Uniform: claimPlanSize, Resolution: 160, Seed: 5}
	plan, err := sp.Plan(ps)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	cfg := devices.Config{Name: "sim", Kind: "sim", Sim: devices.SimConfig{Preset: "npu"}}
	dev, err := sim.Open(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: []Target{{Device: dev, Config: cfg}}, Store: st})
	if errors.Is(err, store.ErrInUse) {
		fmt.Printf("refused %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
		return 3
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Println("prepared")
	if os.Getenv(profilerGateEnv) == "1" {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	}
	if err := r.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("measured %d\n", r.Wait().Devices[0].Measured)
	return 0
}

// profiler is a started profiler child.
type profiler struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *strings.Builder
}

func startProfiler(t *testing.T, path string, gate bool) *profiler {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), profilerChildEnv+"="+path, profilerGateEnv+"="+map[bool]string{true: "1"}[gate])
	p := &profiler{cmd: cmd, lines: make(chan string, 4), stderr: &strings.Builder{}}
	cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		p.stdin.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return p
}

// next is the child's next line ("" when it ended without one).
func (p *profiler) next() string { return <-p.lines }

// finish waits for the child and returns its last line and exit code.
func (p *profiler) finish(t *testing.T) (string, int) {
	t.Helper()
	p.stdin.Close()
	last := ""
	for l := range p.lines {
		last = l
	}
	p.cmd.Wait()
	code := p.cmd.ProcessState.ExitCode()
	if code != 0 && code != 3 {
		t.Fatalf("profiler %d exited %d: %s", p.cmd.Process.Pid, code, p.stderr.String())
	}
	return last, code
}

// duplicates counts the plan archs stored more than once per device.
func duplicates(t *testing.T, path string) (archs, dups int) {
	t.Helper()
	st := openStore(t, path)
	for _, byArch := range planCounts(t, st) {
		for _, n := range byArch {
			archs++
			dups += n - 1
		}
	}
	return archs, dups
}

// TestSecondProfilerRefused: while one process profiles into a store, a
// second one is refused with a message naming the first (pid, command,
// host, since when) and measures nothing; the first measures the plan
// once.
func TestSecondProfilerRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db")
	first := startProfiler(t, path, true)
	if l := first.next(); l != "prepared" {
		t.Fatalf("first profiler: %q (%s)", l, first.stderr.String())
	}
	second := startProfiler(t, path, false)
	last, code := second.finish(t)
	if code != 3 || !strings.HasPrefix(last, "refused ") {
		t.Fatalf("second profiler: exit %d, %q; want it refused", code, last)
	}
	for _, want := range []string{"pid " + strconv.Itoa(first.cmd.Process.Pid), os.Args[0], "on host", "since", "another profiler", "--store"} {
		if !strings.Contains(last, want) {
			t.Errorf("refusal %q does not say %q", last, want)
		}
	}
	if _, err := io.WriteString(first.stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	if last, code := first.finish(t); code != 0 || last != "measured "+strconv.Itoa(claimPlanSize) {
		t.Fatalf("first profiler: exit %d, %q", code, last)
	}
	if archs, dups := duplicates(t, path); archs != claimPlanSize || dups != 0 {
		t.Errorf("store holds %d archs with %d measured twice; want %d, none twice", archs, dups, claimPlanSize)
	}
}

// TestConcurrentProfilers: profilers started together on one store never
// measure an arch twice: each either profiles (or resumes what another
// finished) or is refused.
func TestConcurrentProfilers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run.db")
	// Create the store first so that the children do not race to create
	// its schema.
	openStore(t, path).Close()
	const n = 3
	ps := make([]*profiler, n)
	for i := range ps {
		ps[i] = startProfiler(t, path, false)
	}
	var mu sync.Mutex
	var ran, refused, measured int
	var wg sync.WaitGroup
	for _, p := range ps {
		wg.Go(func() {
			last, code := p.finish(t)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case code == 3:
				refused++
			case strings.HasPrefix(last, "measured "):
				ran++
				k, _ := strconv.Atoi(strings.TrimPrefix(last, "measured "))
				measured += k
			}
		})
	}
	wg.Wait()
	if ran+refused != n || ran == 0 || measured != claimPlanSize {
		t.Errorf("%d profiled (%d archs in all), %d refused; want every one to profile or be refused, %d archs measured once", ran, measured, refused, claimPlanSize)
	}
	if archs, dups := duplicates(t, path); archs != claimPlanSize || dups != 0 {
		t.Errorf("store holds %d archs with %d measured twice; want %d, none twice", archs, dups, claimPlanSize)
	}
	t.Logf("%d profiled, %d refused", ran, refused)
}
