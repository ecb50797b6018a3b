package transport

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// deathSignal asks Linux to SIGKILL the child when the thread that started
// it exits. The thread, not the process: Go ends an OS thread when a
// goroutine that locked it returns without unlocking it, which would kill
// the child of a process that is alive and well. So every process is
// started and waited for by one goroutine that holds its thread locked
// (runtime.LockOSThread) from before the start until the process has
// ended: no other goroutine runs on that thread meanwhile, so none can
// make it exit.
func deathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }

// pidAlive reports whether the process pid runs: it exists and is not a
// zombie (a dead process that no one has reaped, as a killed blockprof
// whose parent is a container's init may stay).
func pidAlive(pid int) bool {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	if err != nil {
		return signalable(pid)
	}
	state, ok := procState(data)
	return !ok || state != 'Z' && state != 'X'
}

// procState is the state letter of a /proc/PID/stat line: the field after
// the command name, which is in parentheses and may hold any byte.
func procState(stat []byte) (byte, bool) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) || stat[i+1] != ' ' {
		return 0, false
	}
	return stat[i+2], true
}
