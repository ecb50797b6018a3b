package ort

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"blockprof/devices"
)

// TestPlanCores checks the core-count gate with fake core lists: serial on
// 1 or 2 cores (this project's machines) and for multi-threaded sessions;
// from 3 cores the timing core is the highest and the lowest stays free.
func TestPlanCores(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cores   []int
		threads int
		timing  int
		prepare []int
	}{
		{"1 core", []int{0}, 1, -1, nil},
		{"2 cores", []int{0, 1}, 1, -1, nil},
		{"3 cores", []int{0, 1, 2}, 1, 2, []int{1}},
		{"8 cores", []int{0, 1, 2, 3, 4, 5, 6, 7}, 1, 7, []int{1, 2, 3, 4, 5, 6}},
		{"affinity mask out of order", []int{9, 4, 6, 5}, 1, 9, []int{5, 6}},
		{"8 cores, 2 threads", []int{0, 1, 2, 3, 4, 5, 6, 7}, 2, -1, nil},
		{"8 cores, default threads", []int{0, 1, 2, 3, 4, 5, 6, 7}, 0, -1, nil},
		{"no cores known", nil, 1, -1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := planCores(tc.cores, tc.threads)
			if p.timing != tc.timing || !slices.Equal(p.prepare, tc.prepare) {
				t.Fatalf("planCores(%v, %d) = timing %d, prepare %v; want %d, %v", tc.cores, tc.threads, p.timing, p.prepare, tc.timing, tc.prepare)
			}
			if p.pipelined() != (tc.timing >= 0) {
				t.Errorf("pipelined() = %v", p.pipelined())
			}
			if slices.Contains(p.prepare, p.timing) {
				t.Errorf("the timing core %d is also a prepare core", p.timing)
			}
		})
	}
}

// TestDevicePrepare forces a pipelined plan on this machine's cores (the
// gate keeps a 2-core machine serial; here only the path is tested, not a
// speed-up): a prepared arch is taken by its Measure, another arch's
// Measure leaves it, and Close discards one not taken.
func TestDevicePrepare(t *testing.T) {
	cores, err := usableCores()
	if err != nil || len(cores) < 2 {
		t.Skipf("needs 2 usable cores and Linux affinity (got %v, %v)", cores, err)
	}
	cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Optimization: "all", Warmup: 1, Repeat: 3, MaxRepeat: 3}
	d := testDevice(t, cfg, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")))
	if got := planCores(cores, 1); len(cores) < pipelineCores && got.pipelined() {
		t.Fatalf("%d cores: plan %+v, want serial", len(cores), got)
	}
	d.cores = corePlan{timing: cores[len(cores)-1], prepare: cores[:1]}
	ctx := context.Background()
	a, b := minNet(t, 160), minNet(t, 176)

	d.Prepare(ctx, a)
	if _, err := d.Measure(ctx, b); err != nil { // not the prepared arch
		t.Fatal(err)
	}
	if d.prep == nil || d.prep.arch != a.Arch {
		t.Fatal("measuring another arch dropped the preparation")
	}
	m, err := d.Measure(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	if d.prep != nil || len(m.SamplesMs) != 3 {
		t.Fatalf("prep %v, %d samples: want the preparation taken and 3 samples", d.prep, len(m.SamplesMs))
	}

	d.Prepare(ctx, b)
	d.Prepare(ctx, a) // replaces b's
	if d.prep == nil || d.prep.arch != a.Arch {
		t.Fatal("the second Prepare did not replace the first")
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if d.prep != nil {
		t.Fatal("Close left a preparation")
	}
}
