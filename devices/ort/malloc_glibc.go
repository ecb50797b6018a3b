//go:build linux && cgo

package ort

/*
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#define BP_MMAP_THRESHOLD (8 << 20)
#define BP_TRIM_THRESHOLD (16 << 20)

// bp_malloc_settings caps glibc's malloc at one arena before the Go runtime
// starts its threads: it runs as a constructor, when the process loads, as
// MALLOC_ARENA_MAX=1 would (a MALLOC_ARENA_MAX the user set wins). ONNX
// Runtime allocates on whatever OS thread a cgo call runs on, and every
// thread's arena keeps what was freed into it; the package init that did
// this before ran after the runtime's first threads had their arenas.
//
// It also fixes the mmap threshold at 8 MiB and the trim threshold at 16
// MiB (a MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES
// the user set wins). Blocks of 8 MiB or more (ONNX Runtime's copies of
// the biggest weights, its arena's larger regions) are mapped for the
// session and unmapped when it is closed, instead of staying in the heap,
// whose free middle glibc never returns: a 40-arch run peaked at 124-131
// MB instead of 146-158 MB when that was done from 4 MiB up. Below 8 MiB
// is the classifier's packed weight (a Gemm's B, which ONNX Runtime packs
// into memory of its own when it builds each session: 5-8 MB in these
// spaces, the only prepacked weight of the pre-laid graphs); in the heap,
// with a free top kept up to 16 MiB, the next session packs into the
// block the last one freed instead of mapping and faulting in ~1,300 new
// pages (4-5 ms per arch on a 2-core VM: docs/benchmarks.md, issue 14;
// heapTrim.beforeRuns returns what is left free before the timed runs).
// The runs take their buffers from the session's arena either way, so
// they map nothing (TestTimedRunsMapNothing).
static void __attribute__((constructor)) bp_malloc_settings(void) {
#ifdef M_ARENA_MAX
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, 1);
#endif
	const char *tun = getenv("GLIBC_TUNABLES");
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL && (tun == NULL || strstr(tun, "mmap_threshold") == NULL))
		mallopt(M_MMAP_THRESHOLD, BP_MMAP_THRESHOLD);
	if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL && (tun == NULL || strstr(tun, "trim_threshold") == NULL))
		mallopt(M_TRIM_THRESHOLD, BP_TRIM_THRESHOLD);
}

*/
import "C"

import "sync"

// trimGrowth is how much glibc's heap may grow between two trims (bytes).
const trimGrowth = 16 << 20

// heapTrim returns the free memory of glibc's heap to the OS: before each
// of the ort device's timed windows (beforeRuns), and, for any session,
// each time the heap has grown by trimGrowth since the last trim (or since
// the first session closed); Session.Close asks for the latter. Sessions
// of different archs leave free blocks of different sizes between the
// live ones; glibc reuses some, grows the heap for the rest and never
// returns free memory below its top. In the explorer that made the heap
// grow by 0.3-0.8 MB per arch, most of it free (81 MB, 34 MB free after
// 127 archs), while `profile` stayed flat; why the explorer differs is not
// pinned down (all ONNX Runtime calls on one locked thread made it worse).
// A trim after a close costs the next session the refaults of what it
// would reuse (about 15 ms), so Close trims only on growth, a few times
// per run; beforeRuns trims once the session is built (docs/benchmarks.md,
// issue 14).
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

// beforeRuns returns glibc's free heap to the OS (malloc_trim) just before
// a session's timed runs. A session is built in the heap the sessions
// before it freed (the packed classifier weight among it: see
// bp_malloc_settings), then what is still free goes back, so that the
// explorer with a loaded model and an analysis stays as small as when
// every big block was unmapped on close: 140.8-145.8 MB against 145.2-150.5
// MB without this trim (docs/benchmarks.md, issue 14). It takes ~0.1 ms.
func (h *heapTrim) beforeRuns() {
	h.mu.Lock()
	defer h.mu.Unlock()
	C.malloc_trim(0)
	h.mark = uint64(C.mallinfo2().arena)
}
