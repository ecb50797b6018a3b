//go:build linux

package ort

import (
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// usableCores lists the cores this process may run on.
func usableCores() ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		return nil, fmt.Errorf("read the CPU affinity: %w", err)
	}
	var cores []int
	for c := range 1024 {
		if set.IsSet(c) {
			cores = append(cores, c)
		}
	}
	return cores, nil
}

// pin locks the calling goroutine to its OS thread and restricts that
// thread to cores; the returned function restores the thread's previous
// cores and unlocks it. With no cores it does nothing.
func pin(cores []int) (func(), error) {
	if len(cores) == 0 {
		return func() {}, nil
	}
	runtime.LockOSThread()
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("read the thread's CPU affinity: %w", err)
	}
	for _, c := range cores {
		set.Set(c)
	}
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("pin the thread to cores %v: %w", cores, err)
	}
	return func() {
		if err := unix.SchedSetaffinity(0, &old); err != nil {
			// The thread keeps the pinned cores: let it die with the
			// goroutine rather than serve others pinned.
			return
		}
		runtime.UnlockOSThread()
	}, nil
}
