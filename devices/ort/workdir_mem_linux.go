//go:build linux

package ort

import "golang.org/x/sys/unix"

// minMemoryDir is the room a memory directory must have free to hold the
// work directory: the weight file grows to a few hundred MB for the
// largest ResNet50s.
const minMemoryDir = 1 << 30

// memoryDir returns /dev/shm when it is a tmpfs with minMemoryDir bytes
// free, "" otherwise (a container's 64 MB /dev/shm, say).
func memoryDir() string {
	const dir = "/dev/shm"
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil || st.Type != unix.TMPFS_MAGIC || st.Bavail*uint64(st.Bsize) < minMemoryDir {
		return ""
	}
	return dir
}
