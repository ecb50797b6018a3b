//go:build unix

package accuracy

import (
	"os/exec"
	"syscall"
)

// ownGroup runs the evaluator in its own process group and, on timeout or
// cancellation, kills that group, so workers it forked die with it instead
// of holding its output pipes open.
func ownGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
