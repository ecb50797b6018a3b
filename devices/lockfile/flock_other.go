//go:build (!unix && !windows) || aix

package lockfile

import (
	"errors"
	"os"
	"runtime"
)

// lockNB fails: this system has neither flock(2) nor LockFileEx.
func lockNB(*os.File) (bool, error) {
	return false, errors.New("advisory lock files are not supported on " + runtime.GOOS + " (they need flock(2) or LockFileEx)")
}

func removeHeld(*os.File, string) error { return nil }
