//go:build !unix

package transport

import (
	"os"
	"os/exec"
)

// ownGroup leaves the process in blockprof's group: only the process
// itself is killed.
func ownGroup(cmd *exec.Cmd) {}

func killGroup(p *os.Process) error { return p.Kill() }
