//go:build !linux

package ort

// memoryDir: no memory directory is known here; the work directory goes
// to $TMPDIR.
func memoryDir() string { return "" }
