//go:build linux

package ort

import (
	"testing"

	"golang.org/x/sys/unix"
)

// TestMemoryDir: on Linux the memory directory is /dev/shm when it is a
// tmpfs with minMemoryDir free, none otherwise.
func TestMemoryDir(t *testing.T) {
	var st unix.Statfs_t
	shm := unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC && st.Bavail*uint64(st.Bsize) >= minMemoryDir
	if got := memoryDir(); (got == "/dev/shm") != shm || (got != "" && got != "/dev/shm") {
		t.Errorf("memoryDir() = %q; /dev/shm is a tmpfs with room: %v", got, shm)
	}
}
