//go:build linux && cgo

package ort

import (
	"context"
	"runtime"
	"syscall"
	"testing"

	"blockprof/model/modeltest"
	"blockprof/model/onnx"
)

// TestTimedRunsMapNothing: with the malloc settings this package sets
// (malloc_glibc.go: mmap threshold fixed at 4 MiB), a warmed-up session's
// runs take every buffer from the session's arena, so that the timed runs
// fault in no new memory, on the smallest and largest net of every space.
// What fails it: a session without ONNX Runtime's arena (its buffers are
// then allocated, mapped and faulted in on every run: 2,500 faults a run
// for ofa-mbv3/max).
func TestTimedRunsMapNothing(t *testing.T) {
	rt := testRuntime(t)
	work := testWorkDir(t)
	const runs = 5
	for _, e := range modeltest.Extremes(t) {
		t.Run(e.Name(), func(t *testing.T) {
			// RUSAGE_THREAD counts this thread's faults: ONNX Runtime
			// runs a 1-thread session on the calling thread.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			s, err := work.load(context.Background(), rt, e.Network(t), onnx.Options{Seed: weightSeed, FoldBN: true}, cpuOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			// The device's warm-up: ONNX Runtime plans its memory in the
			// first run and allocates by that plan from the second on.
			for range 2 {
				if err := s.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			before := threadFaults(t)
			for range runs {
				if err := s.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			// A mapped buffer of 4 MiB or more would fault 1024 pages a run.
			if n := threadFaults(t) - before; n > 8*runs {
				t.Errorf("%d page faults in %d warmed-up runs (want ≤ %d): timed runs map memory", n, runs, 8*runs)
			}
		})
	}
}

// threadFaults is the calling thread's minor page faults so far.
func threadFaults(t *testing.T) int64 {
	t.Helper()
	const rusageThread = 1 // RUSAGE_THREAD
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		t.Skipf("getrusage(RUSAGE_THREAD): %v", err)
	}
	return ru.Minflt
}
