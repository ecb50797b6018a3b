//go:build windows

package lockfile

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// lockOffset is where the locked byte lies: past any owner line, since a
// Windows lock also stops other processes reading the bytes it covers.
const lockOffset = 1 << 30

// lockNB takes an exclusive lock on f without waiting; false means
// another open file holds it.
func lockNB(f *os.File) (bool, error) {
	ol := &windows.Overlapped{Offset: lockOffset}
	err := windows.LockFileEx(windows.Handle(f.Fd()), windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, ol)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, windows.ERROR_LOCK_VIOLATION), errors.Is(err, windows.ERROR_IO_PENDING):
		return false, nil
	}
	return false, err
}

// removeHeld leaves the file: Windows does not remove an open file.
func removeHeld(*os.File, string) error { return nil }
