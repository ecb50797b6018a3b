//go:build linux && cgo

package ort

/*
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define BP_MMAP_THRESHOLD (4 << 20)

// bp_malloc_settings caps glibc's malloc at one arena before the Go runtime
// starts its threads: it runs as a constructor, when the process loads, as
// MALLOC_ARENA_MAX=1 would (a MALLOC_ARENA_MAX the user set wins). ONNX
// Runtime allocates on whatever OS thread a cgo call runs on, and every
// thread's arena keeps what was freed into it; the package init that did
// this before ran after the runtime's first threads had their arenas.
//
// It also fixes the mmap threshold at 4 MiB (a MALLOC_MMAP_THRESHOLD_ or a
// GLIBC_TUNABLES the user set wins): ONNX Runtime's big blocks (the copies
// of a weight it reorders while building a session, packed weights, its
// arena's regions) are then mapped for the session and unmapped when it is
// closed, instead of staying in the heap, whose free middle glibc never
// returns. A 40-arch run peaked at 124-131 MB instead of 146-158 MB; each
// session's big blocks are faulted in afresh, about 20 ms per arch on a
// 2-core VM, outside the timed runs (docs/benchmarks.md, issue 14): those
// take their buffers from the session's arena, so they map nothing
// (TestTimedRunsMapNothing).
static void __attribute__((constructor)) bp_malloc_settings(void) {
#ifdef M_ARENA_MAX
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, 1);
#endif
	const char *tun = getenv("GLIBC_TUNABLES");
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL && (tun == NULL || strstr(tun, "mmap_threshold") == NULL))
		mallopt(M_MMAP_THRESHOLD, BP_MMAP_THRESHOLD);
}

*/
import "C"

import "sync"

// trimGrowth is how much glibc's heap may grow between two trims (bytes).
const trimGrowth = 16 << 20

// heapTrim returns the free memory of glibc's heap to the OS each time the
// heap has grown by trimGrowth since the last time (or since the first
// session closed); Session.Close asks it. Sessions of different archs
// leave free blocks of different sizes between the live ones; glibc
// reuses some, grows the heap for the rest and never returns free memory
// below its top. In the explorer that made the heap grow by 0.3-0.8 MB
// per arch, most of it free (81 MB, 34 MB free after 127 archs), while
// `profile` stayed flat; why the explorer differs is not pinned down (all
// ONNX Runtime calls on one locked thread made it worse). A trim costs the
// next session the refaults of what it reuses (about 15 ms), so it is done
// only on growth: a few times per run (docs/benchmarks.md, issue 14).
type heapTrim struct {
	mu   sync.Mutex
	mark uint64 // heap size after the last trim; 0 before the first session
}

// afterSession is called once a session is closed.
func (h *heapTrim) afterSession() {
	h.mu.Lock()
	defer h.mu.Unlock()
	size := uint64(C.mallinfo2().arena)
	switch {
	case h.mark == 0:
		h.mark = size
	case size > h.mark+trimGrowth:
		C.malloc_trim(0)
		h.mark = uint64(C.mallinfo2().arena)
	}
}

// trimNow returns glibc's free heap to the OS at once (tests: a session
// built after it faults in whatever it takes from malloc).
func trimNow() { C.malloc_trim(0) }
