//go:build linux && cgo

package ort

/*
#include <malloc.h>

// bp_limit_arenas caps glibc's malloc arenas (a no-op without M_ARENA_MAX).
static void bp_limit_arenas(int n) {
#ifdef M_ARENA_MAX
	mallopt(M_ARENA_MAX, n);
#endif
}
*/
import "C"

// ONNX Runtime allocates each session's weights with malloc on whatever OS
// thread the Go scheduler ran the cgo call on, and glibc gives threads
// arenas of their own that keep the memory freed into them: a profiling
// run's resident memory grows with every thread that ever built a session
// (391 MB for 40 archs of ofa-mbv3-w1.0). MALLOC_ARENA_MAX=1 in the
// environment (scripts/run.sh sets it) brings that to about 215 MB at the
// same overhead; this init does the same for threads that have not
// malloc'ed yet when the process reaches it (about 350 MB when the
// environment does not set it). docs/benchmarks.md has the figures.
func init() { C.bp_limit_arenas(1) }
