//go:build linux && cgo

package ort

/*
#include <malloc.h>
#include <stdlib.h>

// bp_malloc_settings sets glibc's malloc up for ONNX Runtime before the Go
// runtime starts its threads: it runs as a constructor, when the process
// loads, like the MALLOC_* variables would. A variable the user set wins.
//
// - One arena (MALLOC_ARENA_MAX=1): ONNX Runtime allocates on whatever OS
//   thread a cgo call runs on, and every thread's arena keeps what was freed
//   into it.
// - A fixed mmap threshold of 256 KiB (MALLOC_MMAP_THRESHOLD_): glibc's
//   dynamic threshold climbs to 32 MiB after the first large free, after
//   which a session's weights come from the heap and stay resident when the
//   session ends; mapped, they go back when it closes.
static void __attribute__((constructor)) bp_malloc_settings(void) {
#ifdef M_ARENA_MAX
	if (getenv("MALLOC_ARENA_MAX") == NULL)
		mallopt(M_ARENA_MAX, 1);
#endif
#ifdef M_MMAP_THRESHOLD
	if (getenv("MALLOC_MMAP_THRESHOLD_") == NULL)
		mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
}

*/
import "C"

// The settings are applied by the constructor above when the process loads
// (before any Go code runs); docs/benchmarks.md (issue 14) has the resident
// memory they give.
