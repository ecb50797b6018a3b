package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/model"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild())
	}
	os.Exit(m.Run())
}

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "blockprof.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// testArch is a made-up architecture; the store does not interpret archs.
func testArch(i int) Arch {
	return Arch{
		Canonical:  fmt.Sprintf("test-space:160:e%dk3,e3k5/e6k7", i),
		Space:      "test-space",
		Resolution: 160,
		OFA:        model.OFA{KS: []int{3, 5, 7}, E: []float64{float64(i), 3, 6}, D: []int{2, 1}, R: 160},
		MACs:       int64(1000 + i),
		Params:     int64(10 + i),
	}
}

func testDevice(t *testing.T, s *Store, name string) {
	t.Helper()
	if _, err := s.PutDevice(context.Background(), devices.Config{Name: name, Kind: "sim", Threads: 1},
		devices.Info{Name: name, Kind: "sim", Provenance: devices.Simulated, Label: "simulated"}); err != nil {
		t.Fatal(err)
	}
}

// testFP is the fingerprint meas records (the store does not compare it
// with the device's).
const testFP = "kind=sim runtime=test"

func meas(dev string, a Arch, run int64, kind Kind, samples ...float64) Measurement {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	return Measurement{Device: dev, Arch: a, Run: run, Kind: kind, SamplesMs: samples, Warmup: 10, Mode: "test",
		Provenance: devices.Simulated, Fingerprint: testFP, Started: t0, Finished: t0.Add(1500 * time.Millisecond)}
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	testDevice(t, s, "cpu")
	spec := model.PlanSpec{Uniform: 2, PerLocation: 1, Resolution: 160, Seed: 7, Mode: model.FixBlockProfile}
	items := []PlanItem{{Arch: testArch(1)}, {Arch: testArch(2)}, {Arch: testArch(3), Fix: "u1.l2=e6k7"}}
	run, err := s.StartRun(ctx, RunInfo{ConfigFile: "c.toml", Space: "test-space", PlanSpec: spec, Version: "v9"}, items)
	if err != nil {
		t.Fatal(err)
	}
	want := []Measurement{
		meas("cpu", testArch(1), run, KindPlan, 3, 1, 2),
		meas("cpu", testArch(3), run, KindPlan, 5, 5, 5, 5),
		meas("cpu", testArch(2), run, KindReference, 4),
	}
	for _, m := range want {
		if _, err := s.Put(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	bad := meas("cpu", testArch(2), run, KindPlan)
	bad.Err = "boom"
	if _, err := s.Put(ctx, bad); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishRun(ctx, run, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()

	// Reopen: everything survives.
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Query(ctx, Query{Device: "cpu", Space: "test-space", Samples: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	for i, r := range got {
		w := want[i]
		st := Summarize(w.SamplesMs)
		if r.Arch != w.Arch.Canonical || r.Device != w.Device || r.Run != run || r.Kind != w.Kind ||
			!slices.Equal(r.SamplesMs, w.SamplesMs) || r.Median != st.Median || r.Spread != st.Spread || r.N != len(w.SamplesMs) ||
			r.Warmup != 10 || r.Mode != "test" || r.Provenance != devices.Simulated || r.Fingerprint != testFP || !r.Started.Equal(w.Started) ||
			!r.Finished.Equal(w.Finished) || r.MACs != w.Arch.MACs || r.Params != w.Arch.Params || r.Resolution != 160 || r.Err != "" {
			t.Errorf("record %d = %+v, want %+v", i, r, w)
		}
	}
	if got[0].Fix != "" || got[1].Fix != "u1.l2=e6k7" || got[2].Fix != "" {
		t.Errorf("fixes = %q %q %q", got[0].Fix, got[1].Fix, got[2].Fix)
	}
	// Without Samples the samples are not decoded.
	lean, err := s.Query(ctx, Query{Kind: KindPlan})
	if err != nil {
		t.Fatal(err)
	}
	if len(lean) != 2 || lean[0].SamplesMs != nil || lean[0].Median != 2 {
		t.Errorf("lean query = %+v", lean)
	}
	errs, err := s.Query(ctx, Query{Errors: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].Err != "boom" || errs[0].Arch != testArch(2).Canonical {
		t.Errorf("errors = %+v", errs)
	}
	if n, err := s.Count(ctx, Query{Device: "cpu"}); err != nil || n != 3 {
		t.Errorf("count = %d, %v; want 3", n, err)
	}
	if n, err := s.Count(ctx, Query{Device: "other"}); err != nil || n != 0 {
		t.Errorf("count other = %d, %v; want 0", n, err)
	}

	runs, err := s.Runs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].ID != run || runs[0].PlanSpec != spec || runs[0].ConfigFile != "c.toml" || runs[0].Version != "v9" ||
		runs[0].Items != 3 || runs[0].Measurements != 3 || runs[0].Finished.IsZero() || runs[0].Space != "test-space" {
		t.Errorf("runs = %+v", runs)
	}
	plan, err := s.Plan(ctx, run)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan) != 3 || plan[2].Fix != "u1.l2=e6k7" || plan[1].Arch.Canonical != testArch(2).Canonical ||
		!slices.Equal(plan[0].Arch.OFA.E, testArch(1).OFA.E) {
		t.Errorf("plan = %+v", plan)
	}
	devs, err := s.Devices(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].Name != "cpu" || devs[0].Kind != "sim" || devs[0].Settings.Threads != 1 ||
		devs[0].Info.Provenance != devices.Simulated || devs[0].Measurements != 3 || devs[0].Fingerprint != "kind=sim threads=1" {
		t.Errorf("devices = %+v", devs)
	}
	ref, ok, err := s.FirstReference(ctx, "cpu", testArch(2).Canonical)
	if err != nil || !ok || ref.Median != 4 {
		t.Errorf("first reference = %+v %v %v", ref, ok, err)
	}
}

func TestPutDeviceReportsChangedSettings(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Timeout: "1m"}
	info := devices.Info{Name: "cpu", Kind: "ort", Provenance: devices.Measured}
	for _, tc := range []struct {
		name string
		edit func(*devices.Config)
		want []string
	}{
		{"first time", func(*devices.Config) {}, nil},
		{"same", func(*devices.Config) {}, nil},
		{"timeout only", func(c *devices.Config) { c.Timeout = "5m" }, nil},
		{"threads", func(c *devices.Config) { c.Threads = 2 }, []string{"Threads: 1 → 2"}},
	} {
		tc.edit(&cfg)
		got, err := s.PutDevice(ctx, cfg, info)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: changed = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestResumeSkipsMeasured(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	testDevice(t, s, "a")
	testDevice(t, s, "b")
	var items []PlanItem
	var names []string
	for i := range 6 {
		items = append(items, PlanItem{Arch: testArch(i)})
		names = append(names, testArch(i).Canonical)
	}
	run1, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, items)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2, 3} {
		if _, err := s.Put(ctx, meas("a", testArch(i), run1, KindPlan, 1)); err != nil {
			t.Fatal(err)
		}
	}
	// A reference measurement and a failed attempt do not count as done.
	if _, err := s.Put(ctx, meas("a", testArch(4), run1, KindReference, 1)); err != nil {
		t.Fatal(err)
	}
	failed := meas("a", testArch(5), run1, KindPlan)
	failed.Err = "timeout"
	if _, err := s.Put(ctx, failed); err != nil {
		t.Fatal(err)
	}
	// The same plan measurement twice in a run is refused.
	if _, err := s.Put(ctx, meas("a", testArch(0), run1, KindPlan, 2)); !errors.Is(err, ErrAlreadyMeasured) {
		t.Errorf("duplicate put: err = %v, want ErrAlreadyMeasured", err)
	}
	// A second run of the same plan sees what the first one measured.
	if _, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, items); err != nil {
		t.Fatal(err)
	}
	done, err := s.Done(ctx, "a", testFP, names)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range names {
		want := i == 0 || i == 2 || i == 3
		if done[n] != want {
			t.Errorf("Done[%d] = %v, want %v", i, done[n], want)
		}
		m, err := s.Measured(ctx, "a", testFP, n)
		if err != nil || m != want {
			t.Errorf("Measured(a, %d) = %v, %v; want %v", i, m, err, want)
		}
	}
	if done, _ := s.Done(ctx, "b", testFP, names); len(done) != 0 {
		t.Errorf("device b: done = %v, want none", done)
	}
	if done, _ := s.Done(ctx, "a", testFP, names[:1]); len(done) != 1 {
		t.Errorf("Done keeps only the asked archs: %v", done)
	}
}

func TestLatestAndRoles(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	testDevice(t, s, "a")
	a := testArch(1)
	// The same arch is a uniform item and an A_{u,l,b} item.
	run1, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, []PlanItem{{Arch: a}, {Arch: a, Fix: "u1.l1=e3k3"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, meas("a", a, run1, KindPlan, 1)); err != nil {
		t.Fatal(err)
	}
	run2, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, []PlanItem{{Arch: a}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, meas("a", a, run2, KindPlan, 2)); err != nil {
		t.Fatal(err)
	}
	all, _ := s.Query(ctx, Query{})
	if len(all) != 4 {
		t.Fatalf("two measurements × two roles: got %d records", len(all))
	}
	latest, _ := s.Query(ctx, Query{Latest: true})
	if len(latest) != 2 || latest[0].Median != 2 || latest[0].Fix != "" || latest[1].Fix != "u1.l1=e3k3" {
		t.Errorf("latest = %+v", latest)
	}
	if n, _ := s.Count(ctx, Query{}); n != 2 {
		t.Errorf("count = %d, want 2 measurements", n)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if v, err := s.SchemaVersion(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("fresh store version = %d, %v", v, err)
	}
	if _, err := s.db.Exec(`UPDATE meta SET value = '99' WHERE key = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(ctx, path)
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("err = %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{path, "99", fmt.Sprintf("up to %d", SchemaVersion), "update blockprof"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestForeignDatabaseRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes(x TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = Open(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "not a blockprof store") || !strings.Contains(err.Error(), "notes") {
		t.Errorf("err = %v", err)
	}
	if _, err := Open(context.Background(), ":memory:"); err == nil {
		t.Error(":memory: accepted")
	}
}

func TestMigrationsAreContiguous(t *testing.T) {
	for i, m := range migrations {
		if m.to != i+1 {
			t.Errorf("migration %d goes to version %d, want %d", i, m.to, i+1)
		}
	}
	if migrations[len(migrations)-1].to != SchemaVersion {
		t.Errorf("last migration reaches %d, SchemaVersion is %d", migrations[len(migrations)-1].to, SchemaVersion)
	}
}

func TestRejectsBadMeasurements(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	testDevice(t, s, "a")
	noFP := meas("a", testArch(1), 0, KindPlan, 1)
	noFP.Fingerprint = ""
	noProv := meas("a", testArch(1), 0, KindPlan, 1)
	noProv.Provenance = ""
	for name, m := range map[string]Measurement{
		"no fingerprint": noFP,
		"no provenance":  noProv,
		"no device":      meas("", testArch(1), 0, KindPlan, 1),
		"bad kind":       meas("a", testArch(1), 0, "other", 1),
		"no samples":     meas("a", testArch(1), 0, KindPlan),
		"NaN":            meas("a", testArch(1), 0, KindPlan, math.NaN()),
		"no arch":        meas("a", Arch{}, 0, KindPlan, 1),
		"unknown dev":    meas("ghost", testArch(1), 0, KindPlan, 1),
		"unknown run":    meas("a", testArch(1), 42, KindPlan, 1),
	} {
		if _, err := s.Put(ctx, m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n, _ := s.Count(ctx, Query{}); n != 0 {
		t.Errorf("%d rejected measurements stored", n)
	}
	if _, err := s.Put(ctx, noFP); err == nil || !strings.Contains(err.Error(), "no device fingerprint") {
		t.Errorf("a measurement without a fingerprint: err = %v, want one that says so", err)
	}
}

func TestAccuracy(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	a, b := testArch(1), testArch(2)
	if err := s.PutAccuracy(ctx, Accuracy{Arch: a, Source: "tbl", Top1: 77.1, Label: AccuracyTable},
		Accuracy{Arch: b, Source: "tbl", Top1: 75, Label: AccuracyTable},
		Accuracy{Arch: a, Source: "proxy", Top1: 0.4, Label: AccuracyProxy}); err != nil {
		t.Fatal(err)
	}
	// Replace.
	if err := s.PutAccuracy(ctx, Accuracy{Arch: a, Source: "tbl", Top1: 77.3, Label: AccuracyMeasured}); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.AccuracyOf(ctx, a.Canonical, "tbl")
	if err != nil || !ok || got.Top1 != 77.3 || got.Label != AccuracyMeasured || got.Arch.MACs != a.MACs {
		t.Errorf("AccuracyOf = %+v %v %v", got, ok, err)
	}
	if _, ok, err := s.AccuracyOf(ctx, b.Canonical, "proxy"); ok || err != nil {
		t.Errorf("missing accuracy: ok=%v err=%v", ok, err)
	}
	all, err := s.Accuracies(ctx, "test-space", "tbl")
	if err != nil || len(all) != 2 {
		t.Errorf("Accuracies = %+v %v", all, err)
	}
	// AccuracyValues keeps the archs asked for only, of a source and a
	// space.
	for _, c := range []struct {
		space, source string
		ask           []string
		want          map[string]AccuracyValue
	}{
		{"test-space", "tbl", []string{a.Canonical, b.Canonical, testArch(3).Canonical},
			map[string]AccuracyValue{a.Canonical: {77.3, AccuracyMeasured}, b.Canonical: {75, AccuracyTable}}},
		{"test-space", "tbl", []string{b.Canonical}, map[string]AccuracyValue{b.Canonical: {75, AccuracyTable}}},
		{"test-space", "proxy", []string{a.Canonical, b.Canonical}, map[string]AccuracyValue{a.Canonical: {0.4, AccuracyProxy}}},
		{"other-space", "tbl", []string{a.Canonical}, map[string]AccuracyValue{}},
		{"test-space", "tbl", nil, map[string]AccuracyValue{}},
	} {
		got, err := s.AccuracyValues(ctx, c.space, c.source, c.ask)
		if err != nil || !maps.Equal(got, c.want) {
			t.Errorf("AccuracyValues(%s, %s, %d archs) = %v, %v; want %v", c.space, c.source, len(c.ask), got, err, c.want)
		}
	}
	// Past maxLookup archs the source's scores are read in table order:
	// still only those asked for.
	many := []string{b.Canonical}
	for i := range maxLookup {
		many = append(many, fmt.Sprint("absent-", i))
	}
	vals, err := s.AccuracyValues(ctx, "test-space", "tbl", many)
	if want := map[string]AccuracyValue{b.Canonical: {75, AccuracyTable}}; err != nil || !maps.Equal(vals, want) {
		t.Errorf("AccuracyValues of %d archs = %v, %v; want %v", len(many), vals, err, want)
	}
	if all, _ := s.Accuracies(ctx, "", ""); len(all) != 3 {
		t.Errorf("all accuracies = %d, want 3", len(all))
	}
	for _, bad := range []Accuracy{
		{Arch: a, Source: "x", Top1: 1, Label: "guess"},
		{Arch: a, Source: "", Top1: 1, Label: AccuracyTable},
		{Arch: a, Source: "x", Top1: math.Inf(1), Label: AccuracyTable},
	} {
		if err := s.PutAccuracy(ctx, bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

// TestConcurrentWriters: several worker goroutines and a second Store on
// the same file (another process) commit at once while a reader streams.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	const workers, each = 6, 25
	for w := range workers {
		testDevice(t, s, fmt.Sprintf("d%d", w))
	}
	run, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errc := make(chan error, workers+1)
	for w := range workers {
		st := s
		if w%2 == 1 {
			st = other
		}
		wg.Go(func() {
			for i := range each {
				if _, err := st.Put(ctx, meas(fmt.Sprintf("d%d", w), testArch(i), run, KindPlan, float64(i+1))); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for range 10 {
			for _, err := range s.Records(ctx, Query{}) {
				if err != nil {
					errc <- err
					return
				}
			}
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	recs, err := s.Query(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != workers*each {
		t.Errorf("stored %d, want %d", len(recs), workers*each)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		k := r.Device + " " + r.Arch
		if seen[k] {
			t.Errorf("duplicate %s", k)
		}
		seen[k] = true
	}
}

func TestSummarize(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Stats
	}{
		{nil, Stats{}},
		{[]float64{2}, Stats{N: 1, Median: 2, Q1: 2, Q3: 2, Min: 2, Max: 2, Mean: 2}},
		{[]float64{4, 1, 3, 2}, Stats{N: 4, Median: 2.5, Q1: 1.75, Q3: 3.25, Min: 1, Max: 4, Mean: 2.5, Spread: 1.5 / 2.5}},
		{[]float64{1, math.NaN(), 3}, Stats{N: 2, Median: 2, Q1: 1.5, Q3: 2.5, Min: 1, Max: 3, Mean: 2, Spread: 0.5}},
		{[]float64{0, 0}, Stats{N: 2}},
	} {
		got := Summarize(tc.in)
		if math.Abs(got.Spread-tc.want.Spread) > 1e-12 {
			t.Errorf("Summarize(%v).Spread = %v, want %v", tc.in, got.Spread, tc.want.Spread)
		}
		got.Spread = tc.want.Spread
		if got != tc.want {
			t.Errorf("Summarize(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
	if Median([]float64{3, 1, 2}) != 2 || Median(nil) != 0 {
		t.Error("Median")
	}
}

// TestMigrateV1 opens a store written at schema version 1 (before probe
// samples): it is migrated, keeps its measurement, and takes new ones with
// probe samples.
func TestMigrateV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	stmts := append(slices.Clone(migrations[0].stmts),
		`INSERT INTO meta(key, value) VALUES ('schema_version', '1')`,
		`INSERT INTO devices(name, kind, settings, info, updated) VALUES ('cpu', 'ort', '{}', '{}', '2026-01-01T00:00:00Z')`,
		`INSERT INTO archs(id, canonical, space, resolution, ofa, macs, params) VALUES (1, 'test-space:160:e3k3', 'test-space', 160, '{}', 1, 1)`,
		`INSERT INTO measurements(device, arch, kind, samples_ms, n, median_ms, spread, warmup, provenance, started, finished)
			VALUES ('cpu', 1, 'plan', '[2,3,4]', 3, 3, 0.33, 1, 'measured', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z')`)
	for _, st := range stmts {
		if _, err := db.Exec(st); err != nil {
			t.Fatalf("%s: %v", st, err)
		}
	}
	db.Close()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("migrated store version = %d, %v", v, err)
	}
	testDevice(t, s, "sim")
	m := meas("sim", testArch(1), 0, KindPlan, 10, 11, 12)
	m.ProbeMs, m.ProbeEvery = []float64{4, 5, 6, 5}, 1
	if _, err := s.Put(ctx, m); err != nil {
		t.Fatal(err)
	}
	recs, err := s.Query(ctx, Query{Samples: true})
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	if r := recs[0]; r.Median != 3 || r.ProbeMedian != 0 || r.ProbeMs != nil {
		t.Errorf("the version-1 measurement reads back as %+v", r)
	}
	wantRel := devices.ProbeRatio(m.SamplesMs, m.ProbeMs, 1)
	if r := recs[1]; r.Median != 11 || r.ProbeMedian != 5 || !slices.Equal(r.ProbeMs, m.ProbeMs) || r.ProbeEvery != 1 || r.Relative != wantRel || wantRel == 0 {
		t.Errorf("a measurement with probe samples reads back as median %v, probe median %v, probe %v every %d, relative %v (want %v)",
			r.Median, r.ProbeMedian, r.ProbeMs, r.ProbeEvery, r.Relative, wantRel)
	}
	m2 := meas("sim", testArch(2), 0, KindPlan, 20)
	m2.ProbeMs, m2.ProbeEvery = []float64{10}, 1
	if _, err := s.Put(ctx, m2); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		device string
		want   float64
	}{{"sim", 7.5}, {"cpu", 0}, {"none", 0}}
	for _, tc := range tests {
		if b, err := s.ProbeBaseline(ctx, tc.device); err != nil || b != tc.want {
			t.Errorf("ProbeBaseline(%s) = %v, %v; want %v", tc.device, b, err, tc.want)
		}
	}
	if l := recs[1].Latency(7.5); l != wantRel*7.5 {
		t.Errorf("probe-corrected latency %v, want %v", l, wantRel*7.5)
	}
	if l := recs[0].Latency(7.5); l != 3 {
		t.Errorf("latency without a probe %v, want the median 3", l)
	}
}

// TestPlanRefs: the distinct (arch, role) items of a space's runs, in the
// order first planned, across runs, counted per resolution (in the order
// first planned) and listed at one resolution, every step-th; other
// spaces' runs are left out.
func TestPlanRefs(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	arch := func(c string, r int) Arch { return Arch{Canonical: c, Space: "s", Resolution: r} }
	if _, err := st.StartRun(ctx, RunInfo{Space: "s"}, []PlanItem{{Arch: arch("a", 224)}, {Arch: arch("b", 160), Fix: "u1.l1=e3k3"}, {Arch: arch("a", 224)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartRun(ctx, RunInfo{Space: "s"}, []PlanItem{{Arch: arch("c", 224)}, {Arch: arch("b", 160), Fix: "u1.l1=e3k3"}, {Arch: arch("b", 160)}, {Arch: arch("d", 224)}, {Arch: arch("e", 224)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.StartRun(ctx, RunInfo{Space: "other"}, []PlanItem{{Arch: Arch{Canonical: "z", Space: "other", Resolution: 224}}}); err != nil {
		t.Fatal(err)
	}
	counts, err := st.PlanCounts(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if want := []PlanCount{{224, 4}, {160, 2}}; fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("PlanCounts = %v, want %v", counts, want)
	}
	for _, c := range []struct {
		res, step int
		want      []PlanRef
	}{
		{224, 1, []PlanRef{{"a", 224, ""}, {"c", 224, ""}, {"d", 224, ""}, {"e", 224, ""}}},
		{224, 0, []PlanRef{{"a", 224, ""}, {"c", 224, ""}, {"d", 224, ""}, {"e", 224, ""}}},
		{224, 2, []PlanRef{{"a", 224, ""}, {"d", 224, ""}}},
		{224, 3, []PlanRef{{"a", 224, ""}, {"e", 224, ""}}},
		{160, 1, []PlanRef{{"b", 160, "u1.l1=e3k3"}, {"b", 160, ""}}},
		{192, 1, nil},
	} {
		got, err := st.PlanRefs(ctx, "s", c.res, c.step)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("PlanRefs(res %d, step %d) = %v, want %v", c.res, c.step, got, c.want)
		}
	}
}
