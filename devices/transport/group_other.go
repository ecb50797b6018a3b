//go:build !unix

package transport

import (
	"os"
	"os/exec"
)

// group is the process alone on systems without process groups: only it
// is killed.
type group struct{ cmd *exec.Cmd }

func newGroup(cmd *exec.Cmd) (*group, error) { return &group{cmd: cmd}, nil }

func (g *group) kill() error {
	if g.cmd.Process == nil {
		return nil
	}
	return g.cmd.Process.Kill()
}

func (g *group) close() {}

// pidAlive cannot tell here: run directories of other processes are kept.
func pidAlive(int) bool { return true }

// ownedByMe cannot tell here: nothing is removed.
func ownedByMe(os.FileInfo) bool { return false }
