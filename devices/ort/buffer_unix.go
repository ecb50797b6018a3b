//go:build unix

package ort

import "golang.org/x/sys/unix"

// modelBuffer returns n bytes of anonymous memory mapped outside Go's heap
// and the function that unmaps them: the exported model lives only until
// ONNX Runtime has copied it into a session, and unmapping gives its pages
// back at once instead of leaving them to the garbage collector and the
// scavenger (docs/benchmarks.md, memory). It falls back to Go's heap if
// the mapping fails.
func modelBuffer(n int) ([]byte, func()) {
	b, err := unix.Mmap(-1, 0, n, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]byte, 0, n), func() {}
	}
	return b[:0], func() { _ = unix.Munmap(b) }
}
