//go:build linux && cgo

package ort

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
	"syscall"
	"testing"

	"blockprof/model/modeltest"
	"blockprof/model/onnx"
)

// TestTimedRunsMapNothing: with the malloc settings this package sets
// (malloc_glibc.go: mmap threshold fixed at 8 MiB), a warmed-up session's
// runs take every buffer from the arena it shares with the probe session
// (registerSharedArena), so that the timed runs, between which the device
// runs the probe, fault in no new memory, on the smallest and largest net
// of every space, with the shared arena and with an arena of its own. What
// fails it: a session without ONNX Runtime's arena (its buffers are then
// allocated, mapped and faulted in on every run: 2,500 faults a run for
// ofa-mbv3/max).
func TestTimedRunsMapNothing(t *testing.T) {
	rt := testRuntime(t)
	if !rt.sharedArena {
		t.Fatal("the runtime has no shared arena: registerSharedArena failed")
	}
	work := testWorkDir(t)
	probeNet, err := ProbeNetwork()
	if err != nil {
		t.Fatal(err)
	}
	eo := onnx.Options{Seed: weightSeed, FoldBN: true}
	const runs = 5
	for _, shared := range []bool{true, false} {
		opts := cpuOptions()
		opts.SharedArena = shared
		probe, err := work.load(context.Background(), rt, probeNet, eo, opts)
		if err != nil {
			t.Fatal(err)
		}
		for range probeWarmup { // as newProbe
			if err := probe.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		for _, e := range modeltest.Extremes(t) {
			t.Run(fmt.Sprintf("%s/shared=%v", e.Name(), shared), func(t *testing.T) {
				// RUSAGE_THREAD counts this thread's faults: ONNX Runtime
				// runs a 1-thread session on the calling thread.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				s, err := work.load(context.Background(), rt, e.Network(t), eo, opts)
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				// The device's warm-up: ONNX Runtime plans its memory in
				// the first run and allocates by that plan from the second
				// on; the probe runs before the first timed run.
				for _, run := range []*Session{s, s} {
					if err := run.Run(context.Background()); err != nil {
						t.Fatal(err)
					}
				}
				before := threadFaults(t)
				for range runs {
					for _, run := range []*Session{probe, s} {
						if err := run.Run(context.Background()); err != nil {
							t.Fatal(err)
						}
					}
				}
				// A mapped buffer of 8 MiB or more would fault 2048 pages a run.
				if n := threadFaults(t) - before; n > 8*runs {
					t.Errorf("%d page faults in %d warmed-up runs and as many probe runs (want ≤ %d): timed runs map memory", n, runs, 8*runs)
				}
			})
		}
		probe.Close()
	}
}

// TestSharedArenaWarmsFirstRuns: a session that takes its buffers from the
// shared arena faults in less memory in its first runs (the device's
// warm-up) than one with an arena of its own, once sessions before it
// grew the arena: with its own arena it maps and faults in every buffer
// anew. Compared on the largest ofa-mbv3 net, each way's second session.
// glibc's free heap is returned after the first session either way
// (heapTrim.beforeRuns, the trim the device makes): without it, whether
// the second own arena reused the first one's freed (already faulted) heap
// depended on the heap's history, and the own arena once faulted 11 pages
// under -race.
func TestSharedArenaWarmsFirstRuns(t *testing.T) {
	rt := testRuntime(t)
	if !rt.sharedArena {
		t.Fatal("the runtime has no shared arena: registerSharedArena failed")
	}
	work := testWorkDir(t)
	sp := modeltest.Space(t, "ofa-mbv3")
	net, err := sp.Network(sp.MaxArch(sp.Resolutions[len(sp.Resolutions)-1]))
	if err != nil {
		t.Fatal(err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	faults := map[bool]int64{}
	for _, shared := range []bool{false, true} {
		opts := cpuOptions()
		opts.SharedArena = shared
		for i := range 2 {
			s, err := work.load(context.Background(), rt, net, onnx.Options{Seed: weightSeed, FoldBN: true}, opts)
			if err != nil {
				t.Fatal(err)
			}
			before := threadFaults(t)
			for range 2 {
				if err := s.Run(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			if i == 1 {
				faults[shared] = threadFaults(t) - before
			}
			s.Close()
			rt.heap.beforeRuns()
		}
	}
	t.Logf("page faults in a second session's 2 warm-up runs: own arena %d, shared %d", faults[false], faults[true])
	if faults[true]*2 > faults[false] {
		t.Errorf("shared arena: %d page faults in the warm-up runs, own arena %d: want under half", faults[true], faults[false])
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

// TestFreeHeapReturnedBeforeRuns: what a closed session left free in the
// heap (its packed classifier weight, 5 MB for ofa-mbv3, among it), which
// the next session is built in, goes back to the system when the device
// calls beforeRuns before that session's timed runs. Resident memory
// (VmRSS) is read around the call after the Go heap was returned, so the
// drop is glibc's.
func TestFreeHeapReturnedBeforeRuns(t *testing.T) {
	rt := testRuntime(t)
	work := testWorkDir(t)
	sp := modeltest.Space(t, "ofa-mbv3")
	net, err := sp.Network(sp.MaxArch(sp.Resolutions[len(sp.Resolutions)-1]))
	if err != nil {
		t.Fatal(err)
	}
	eo := onnx.Options{Seed: weightSeed, FoldBN: true}
	if b := nchwcBlock(); b > 0 {
		eo.Rewrite = prelayOrPlain(b)
	}
	s, err := work.load(context.Background(), rt, net, eo, cpuOptions())
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	debug.FreeOSMemory()
	before := vmKB(t, "VmRSS")
	rt.heap.beforeRuns()
	after := vmKB(t, "VmRSS")
	t.Logf("resident %d kB before beforeRuns, %d kB after", before, after)
	if before-after < 4<<10 {
		t.Errorf("beforeRuns returned %d kB (want ≥ 4 MiB: the closed session's packed weight alone is 5 MB)", before-after)
	}
}
