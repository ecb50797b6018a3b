package engine

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/model"
)

// locked is a fake that times under a host lock, as a local device does:
// it holds the lock for its measurement or, hanging, until its context
// ends.
type locked struct {
	*fake
	lock *devices.HostLock
	hang bool
}

func (l *locked) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	held, err := l.lock.Hold(ctx)
	if err != nil {
		return devices.Measurement{}, err
	}
	defer held.Release()
	if l.hang {
		l.fake.Measure(ctx, net) // counts the call
		<-ctx.Done()
		return devices.Measurement{}, held.Stalled(ctx.Err())
	}
	m, err := l.fake.Measure(ctx, net)
	return m, held.Stalled(err)
}

// TestStalledHostStopsTheDevice: a device that reaches its timeout while
// holding the host lock is stopped after that first timeout (not after
// max_failures of them), so it stalls the other local devices once; they
// measure the whole plan.
func TestStalledHostStopsTheDevice(t *testing.T) {
	ctx := context.Background()
	sp := testSpace(t)
	plan, ps := testPlan(t, sp, 8, 0)
	st := openStore(t, "")
	lock := devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock"))
	hung := &locked{fake: &fake{name: "hung", local: true}, lock: lock, hang: true}
	good := &locked{fake: &fake{name: "good", local: true, delay: time.Millisecond}, lock: lock}
	opts := fastOptions()
	opts.Timeout = 0 // each device's own
	opts.MaxFailures = 3
	r, err := Start(ctx, Spec{Space: sp, Plan: plan, PlanSpec: ps, Store: st, Options: opts, Targets: []Target{
		{Device: hung, Config: devices.Config{Name: "hung", Kind: "command", Timeout: "200ms"}},
		{Device: good, Config: devices.Config{Name: "good", Kind: "ort", Timeout: "10m"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s := r.Wait()
	if n := len(hung.Calls()); n != 1 {
		t.Errorf("the hung device was tried %d times, want once", n)
	}
	if d := s.Devices[0]; d.State != StateFailed || !strings.Contains(d.LastErr, "stopped after this first timeout") || !strings.Contains(d.LastErr, "holding the host lock") {
		t.Errorf("hung: %+v", d)
	}
	if d := s.Devices[1]; d.State != StateDone || d.Measured != 8 || d.Errors != 0 {
		t.Errorf("good: %+v", d)
	}
}
