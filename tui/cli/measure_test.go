package cli

import (
	"context"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/backends"
)

// unlabelled is a device whose backend forgot to say what its numbers are.
type unlabelled struct{ *fakeDevice }

func (u unlabelled) Info() devices.Info {
	info := u.fakeDevice.Info()
	info.Provenance = ""
	return info
}

// TestMeasureRefusesNoProvenance: a device without a provenance is an
// error before anything is timed, never "measured" by default.
func TestMeasureRefusesNoProvenance(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	dev := &fakeDevice{name: "cpu"}
	open := func(context.Context, devices.Config, backends.Options) (devices.Device, error) {
		return unlabelled{dev}, nil
	}
	env, out, _ := testEnv(context.Background(), embedded)
	err := measure(env, []string{"--config", cfgPath, "--arch", "ofa-mbv3:224:e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3", "--device", "cpu"}, open)
	if err == nil || !strings.Contains(err.Error(), "device cpu reported no provenance") {
		t.Errorf("err = %v, want one saying the device reported no provenance", err)
	}
	if dev.calls != 0 || out.Len() != 0 {
		t.Errorf("measured %d times and printed %q, want nothing", dev.calls, out)
	}
}
