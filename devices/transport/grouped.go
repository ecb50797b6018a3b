package transport

import (
	"os/exec"
	"runtime"
)

// RunGrouped runs cmd (made with exec.CommandContext, not yet started) to
// its end in a process group of its own led by the watchdog that every
// transport process gets: when cmd's context ends the group is killed (the
// command and whatever it started), and when blockprof dies, however it
// dies, the watchdog kills the group. For local helpers that are not
// devices, such as an accuracy evaluator. On systems without process
// groups only the command itself is killed.
func RunGrouped(cmd *exec.Cmd) error {
	g, err := newGroup(cmd)
	if err != nil {
		return err
	}
	defer g.close()
	// Linux sends the parent-death signal when the thread that started the
	// child ends: keep this goroutine on it until the child has ended.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return cmd.Run()
}
