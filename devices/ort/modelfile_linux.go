package ort

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// unnamedFile opens an O_TMPFILE file in dir and returns it with the path
// that opens it again (/proc/self/fd/N); ok is false where dir's file
// system does not support O_TMPFILE or /proc is not mounted.
func unnamedFile(dir string) (f *os.File, path string, ok bool) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, "", false
	}
	path = fmt.Sprintf("/proc/self/fd/%d", fd)
	if _, err := os.Stat(path); err != nil {
		unix.Close(fd)
		return nil, "", false
	}
	return os.NewFile(uintptr(fd), path), path, true
}
