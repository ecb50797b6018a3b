//go:build !unix

package ort

// modelBuffer returns a buffer for n bytes on Go's heap (see buffer_unix.go).
func modelBuffer(n int) ([]byte, func()) { return make([]byte, 0, n), func() {} }
