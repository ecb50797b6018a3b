package engine

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"blockprof/engine/store"
	"blockprof/model"
)

// The kill test re-executes the test binary as a child that profiles with
// a slow fake device and reports each measurement once it is committed.
const (
	killChildEnv = "BLOCKPROF_ENGINE_KILL_CHILD" // the store path
)

func TestMain(m *testing.M) {
	if path := os.Getenv(killChildEnv); path != "" {
		os.Exit(killChild(path))
	}
	if path := os.Getenv(profilerChildEnv); path != "" {
		os.Exit(profilerChild(path))
	}
	os.Exit(m.Run())
}

const killPlanSize = 40

func killChild(path string) int {
	ctx := context.Background()
	st, err := store.Open(ctx, path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	sp, err := loadTestSpace()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ps := model.PlanSpec{Uniform: killPlanSize, Resolution: 160, Seed: 3}
	plan, err := sp.Plan(ps)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	r, err := Prepare(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(&fake{name: "slow", delay: 15 * time.Millisecond}),
		Store: st, Options: Options{EventBuffer: 10 * killPlanSize}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	sub := r.Subscribe(ctx)
	r.Start(ctx)
	for e := range sub {
		if m, ok := e.(Measured); ok {
			fmt.Println(m.Arch) // committed before the event is published
		}
	}
	return 0
}

// TestKillMidRunThenResume: a profiling process killed with SIGKILL
// mid-run, then run again, finishes the plan with no duplicate and no
// lost measurement.
func TestKillMidRunThenResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reported := map[string]bool{}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		reported[sc.Text()] = true
		if len(reported) == 12 {
			cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed (%v, %d reported):\n%s", cmd.ProcessState, len(reported), stderr.String())
	}
	if len(reported) >= killPlanSize {
		t.Fatalf("child finished the plan before it was killed")
	}

	ctx := context.Background()
	st := openStore(t, path)
	firstRun := planCounts(t, st)["slow"]
	for a := range reported {
		if firstRun[a] != 1 {
			t.Errorf("reported %s but the store holds it %d times", a, firstRun[a])
		}
	}
	if len(firstRun) > len(reported)+1 {
		t.Errorf("store holds %d measurements, the child reported %d (at most one more can be committed unreported)", len(firstRun), len(reported))
	}

	// Run again: only the rest is measured.
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, killPlanSize, 0)
	d := &fake{name: "slow"}
	r, err := Start(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Targets: targets(d), Store: st, Options: fastOptions()})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Wait().Devices[0]
	if s.State != StateDone || s.Resumed != len(firstRun) || s.Measured != killPlanSize-len(firstRun) {
		t.Errorf("resumed run: %+v (first run stored %d)", s, len(firstRun))
	}
	for _, c := range d.Calls() {
		if firstRun[c] > 0 {
			t.Errorf("%s measured again", c)
		}
	}
	final := planCounts(t, st)["slow"]
	for _, c := range distinct(plan) {
		if final[c] != 1 {
			t.Errorf("%s stored %d times, want 1", c, final[c])
		}
	}
	if len(final) != len(distinct(plan)) {
		t.Errorf("store holds %d archs, plan has %d", len(final), len(distinct(plan)))
	}
	t.Logf("killed after %d reported measurements (%d stored); the re-run measured %d", len(reported), len(firstRun), s.Measured)
}
