package session

import (
	"errors"
	"fmt"
)

// ErrNoRun is returned by the run intents when no run is attached (the
// session shows what the store holds).
var ErrNoRun = errors.New("no live run (the explorer shows the store)")

// Intent is a user's request to the live run about one device.
type Intent string

const (
	Pause  Intent = "pause"
	Resume Intent = "resume"
	Cancel Intent = "cancel"
)

// Control pauses, resumes or cancels a device of the live run on behalf
// of who (a user name or key fingerprint; "" for this process): every
// subscriber's progress says who did it.
func (s *Session) Control(intent Intent, device, who string) error {
	run := s.Run()
	if run == nil {
		return ErrNoRun
	}
	switch intent {
	case Pause:
		return run.PauseBy(device, who)
	case Resume:
		return run.ResumeBy(device, who)
	case Cancel:
		return run.CancelBy(device, who)
	}
	return fmt.Errorf("unknown intent %q", intent)
}
