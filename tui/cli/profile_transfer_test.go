package cli

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/model"
)

// transferFakes: cpu is latency ∝ MACs; sim2 is a different device
// (another slope and a fixed overhead).
func transferFakes() *fakes {
	return &fakes{setup: func(d *fakeDevice) {
		if d.name == "sim2" {
			d.ms = func(net *model.Network) float64 { return 1.7*float64(net.MACs())/1e8 + 0.4 }
		}
	}}
}

func TestProfileTransferPlan(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	base := []string{"--config", cfgPath, "--store", db}
	env, _, errw := testEnv(context.Background(), embedded)
	if err := profile(env, append(base, "--devices", "cpu", "--plan", "uniform=40"), transferFakes().open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}

	f := transferFakes()
	env, out, errw := testEnv(context.Background(), embedded)
	if err := profile(env, append(base, "--devices", "sim2", "--plan", "transfer=12,prior=cpu,pool=200"), f.open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	if c := f.devs["sim2"].calls; c < 12 || c > 13 { // 12 designed archs (+ a reference)
		t.Errorf("sim2 measured %d times, want the 12 designed archs", c)
	}
	if f.devs["cpu"] != nil {
		t.Errorf("the prior device was opened: its records come from the store")
	}
	for _, want := range []string{"12 archs chosen by the transfer design (from cpu) on sim2", "sim2  12/12  100%"} {
		if !strings.Contains(errw.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, errw)
		}
	}
	for _, want := range []string{"sim2: friendliness predicted (transfer from cpu, 12 measured)", "unit  block  effect", "e6k7", "95% interval"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}

	// Again with --json: nothing new is measured except the next designed
	// archs (the store's 12 are the design's starting point), and the table
	// is JSON with intervals around every effect.
	f = transferFakes()
	env, out, errw = testEnv(context.Background(), embedded)
	if err := profile(env, append(base, "--devices", "sim2", "--plan", "transfer=3,prior=cpu,pool=200", "--json"), f.open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	var tab struct {
		Label    string
		Measured int
		Blocks   []struct {
			Effect, Lo, Hi float64
		}
	}
	if err := json.Unmarshal(out.Bytes(), &tab); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if tab.Measured != 15 || tab.Label != "predicted (transfer from cpu, 15 measured)" || len(tab.Blocks) == 0 {
		t.Errorf("table %+v", tab)
	}
	for _, b := range tab.Blocks {
		if !(b.Lo <= b.Effect && b.Effect <= b.Hi && b.Lo < b.Hi) {
			t.Errorf("block row %+v: the interval does not hold the effect", b)
		}
	}

	// The MACs pseudo prior joins the stored device.
	env, out, errw = testEnv(context.Background(), embedded)
	if err := profile(env, append(base, "--devices", "sim2", "--plan", "transfer=3,prior=cpu,macs,pool=200"), transferFakes().open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	if !strings.Contains(out.String(), "sim2: friendliness predicted (transfer from cpu+macs, 18 measured)") || !strings.Contains(out.String(), "macs ×") {
		t.Errorf("table with the macs prior:\n%s", out)
	}

	env, _, _ = testEnv(context.Background(), embedded)
	err := profile(env, append(base, "--devices", "cpu", "--plan", "transfer=3,prior=cpu"), transferFakes().open)
	if err == nil || !strings.Contains(err.Error(), "device cpu is both the new device and a prior") {
		t.Errorf("the device as its own prior: %v", err)
	}
}

func TestProfileConfidentPlan(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	base := []string{"--config", cfgPath, "--store", db}
	env, _, errw := testEnv(context.Background(), embedded)
	if err := profile(env, append(base, "--devices", "cpu", "--plan", "uniform=40"), transferFakes().open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	f := transferFakes()
	env, out, errw := testEnv(context.Background(), embedded)
	// A target no table reaches: it stops at the budget.
	if err := profile(env, append(base, "--devices", "sim2", "--plan", "confident=0.001,budget=14,step=4,prior=cpu,pool=200"), f.open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	e := errw.String()
	for _, want := range []string{"sim2: 4 measured, block intervals max", "sim2: 8 measured", "sim2: 12 measured", "sim2: 14 measured", "budget of 14 archs reached before the target width 0.0%", "intervals max"} {
		if !strings.Contains(e, want) {
			t.Errorf("stderr lacks %q:\n%s", want, e)
		}
	}
	// The progress lines of later rounds carry the last fit's widths.
	if !strings.Contains(e, "(target 0.0%, 12 measured)") {
		t.Errorf("no progress line with the interval width after 12:\n%s", e)
	}
	if !strings.Contains(out.String(), "predicted (transfer from cpu, 14 measured)") {
		t.Errorf("final table:\n%s", out)
	}
}

func TestProfileTransferErrors(t *testing.T) {
	embedded, cfgPath := testConfig(t)
	db := filepath.Join(t.TempDir(), "p.db")
	base := []string{"--config", cfgPath, "--store", db}
	env, _, errw := testEnv(context.Background(), embedded)
	if err := profile(env, append(base, "--devices", "cpu", "--plan", "uniform=12"), transferFakes().open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	env, _, errw = testEnv(context.Background(), embedded)
	if err := profile(env, append(base, "--devices", "off", "--space", "ofa-pn-w1.3", "--plan", "uniform=4"), transferFakes().open); err != nil {
		t.Fatalf("%v\n%s", err, errw)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"two devices", []string{"--devices", "sim2,off", "--plan", "transfer=5,prior=cpu"}, "learns one new device: name it with --devices NAME"},
		{"no device", []string{"--plan", "transfer=5,prior=cpu"}, "learns one new device"},
		{"unknown prior", []string{"--devices", "sim2", "--plan", "transfer=5,prior=h100"}, `prior device h100: store`},
		{"prior with too few records", []string{"--devices", "sim2", "--plan", "transfer=5,prior=cpu"}, "prior device cpu: 12 records; a prior needs at least 30"},
		{"prior is the device", []string{"--devices", "cpu", "--plan", "transfer=5,prior=cpu"}, "prior device cpu: 12 records"},
		{"no prior", []string{"--devices", "sim2", "--plan", "transfer=5"}, "no prior=DEV"},
		{"prior of another space", []string{"--devices", "sim2", "--plan", "transfer=5,prior=off"}, "prior device off was measured in space ofa-pn-w1.3, not in ofa-mbv3-w1.0"},
		{"bad size", []string{"--devices", "sim2", "--plan", "transfer=2,prior=cpu"}, `transfer="2": want a whole number from 3 to 10000`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, _, _ := testEnv(context.Background(), embedded)
			err := profile(env, append(append([]string{}, base...), tc.args...), transferFakes().open)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}
