//go:build cgo && !linux

package ort

// heapTrim does nothing where malloc is not glibc's (malloc_glibc.go).
type heapTrim struct{}

func (*heapTrim) afterSession() {}

func (*heapTrim) beforeRuns() {}
