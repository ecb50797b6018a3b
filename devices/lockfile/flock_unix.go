//go:build unix && !aix

package lockfile

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// lockNB takes an exclusive flock on f without waiting; false means
// another open file holds it.
func lockNB(f *os.File) (bool, error) {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EWOULDBLOCK):
			return false, nil
		case errors.Is(err, unix.EINTR):
			continue
		}
		return false, err
	}
}

// removeHeld removes path, which f holds locked, if it still names f.
func removeHeld(f *os.File, path string) error {
	same, err := samePath(f, path)
	if err != nil || !same {
		return err
	}
	return os.Remove(path)
}
