//go:build linux && cgo

package ort

/*
#include <malloc.h>
#include <stdlib.h>

// bp_malloc_settings caps glibc's malloc at one arena before the Go runtime
// starts its threads: it runs as a constructor, when the process loads, as
// MALLOC_ARENA_MAX=1 would (a MALLOC_ARENA_MAX the user set wins). ONNX
// Runtime allocates on whatever OS thread a cgo call runs on, and every
// thread's arena keeps what was freed into it; the package init that did
// this before ran after the runtime's first threads had their arenas.
//
// The mmap threshold is left dynamic on purpose: a fixed 256 KiB one
// (MALLOC_MMAP_THRESHOLD_) saved memory but doubled the run time of small
// nets (per-run buffers mapped and faulted in on every run) and so changed
// what is timed (docs/benchmarks.md, issue 14).
static void __attribute__((constructor)) bp_malloc_settings(void) {
#ifdef M_ARENA_MAX
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, 1);
#endif
}

*/
import "C"
