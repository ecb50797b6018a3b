package ort

import "slices"

// pipelineCores is the fewest usable cores with which the device prepares
// the next arch while timing one: the timing core, a core to prepare on,
// and one left to the OS, the Go runtime and the store. With fewer (this
// project's 2-core machines) everything stays serial, as before.
const pipelineCores = 3

// corePlan is how the ort device uses the machine's cores.
type corePlan struct {
	// timing is the core the timed runs are pinned to; -1: not pinned.
	timing int
	// prepare are the cores that export the next arch and create its
	// session while one is timed; empty: serial, nothing overlaps.
	prepare []int
}

func (p corePlan) pipelined() bool { return p.timing >= 0 && len(p.prepare) > 0 }

// planCores decides the plan from the cores the process may run on and the
// session's intra-op threads. Only single-threaded sessions are pinned
// (their runs execute on the calling thread; ONNX Runtime's own pool
// threads are not ours to place), on the highest core; the next arch is
// prepared on the others but the lowest, which stays free for the rest of
// the process and the system.
func planCores(cores []int, threads int) corePlan {
	if threads != 1 || len(cores) < pipelineCores {
		return corePlan{timing: -1}
	}
	cs := slices.Clone(cores)
	slices.Sort(cs)
	return corePlan{timing: cs[len(cs)-1], prepare: cs[1 : len(cs)-1]}
}
