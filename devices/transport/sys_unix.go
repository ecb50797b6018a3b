//go:build unix && !linux

package transport

import "syscall"

// deathSignal does nothing: only Linux has a parent-death signal; the
// group's watchdog ends the process when blockprof dies.
func deathSignal(*syscall.SysProcAttr) {}

// pidAlive reports whether a process with this id exists.
func pidAlive(pid int) bool { return signalable(pid) }
