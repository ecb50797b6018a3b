//go:build unix

package transport

import (
	"os"
	"os/exec"
	"syscall"
)

// ownGroup puts the process in a process group of its own, so that a kill
// (ctx, Kill, Close) also ends what it started, and the terminal's Ctrl-C
// reaches blockprof, not the device's processes.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
}

// killGroup kills p's process group, or p alone if that fails.
func killGroup(p *os.Process) error {
	if err := syscall.Kill(-p.Pid, syscall.SIGKILL); err != nil {
		return p.Kill()
	}
	return nil
}
