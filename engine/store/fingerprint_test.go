package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"blockprof/devices"
)

// otherArch is an arch of another space than testArch's.
func otherArch(i int) Arch {
	a := testArch(i)
	a.Canonical, a.Space = fmt.Sprintf("other-space:160:e%dk3", i), "other-space"
	return a
}

// TestDoneStaleAndQueryByFingerprint: records of one device under two
// fingerprints, a legacy one, a failed attempt and a reference; Done,
// Measured, Query and Stale see each fingerprint apart.
func TestDoneStaleAndQueryByFingerprint(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	testDevice(t, s, "cpu")
	const fpSim, fpOrt = "kind=sim preset=npu", "kind=ort threads=1"
	legacy := legacyFingerprint("simulated")
	run1, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	run2, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(a Arch, run int64, kind Kind, fp string, prov devices.Provenance, errText string) {
		t.Helper()
		m := meas("cpu", a, run, kind, 1, 2, 3)
		m.Fingerprint, m.Provenance = fp, prov
		if errText != "" {
			m.SamplesMs, m.Err = nil, errText
		}
		if _, err := s.Put(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, 1, 2} {
		put(testArch(i), run1, KindPlan, fpSim, devices.Simulated, "")
	}
	put(otherArch(10), run1, KindPlan, fpSim, devices.Simulated, "")
	put(testArch(2), run2, KindPlan, fpOrt, devices.Measured, "")
	put(testArch(3), run2, KindPlan, fpOrt, devices.Measured, "")
	put(testArch(4), run2, KindPlan, fpOrt, devices.Measured, "timeout") // a failed attempt
	put(testArch(5), run2, KindReference, fpOrt, devices.Measured, "")   // a reference
	put(testArch(4), 0, KindPlan, legacy, devices.Simulated, "")         // an older store's record
	names := []string{testArch(0).Canonical, testArch(1).Canonical, testArch(2).Canonical, testArch(3).Canonical,
		testArch(4).Canonical, testArch(5).Canonical, otherArch(10).Canonical}

	doneTests := []struct {
		device, fp string
		want       []string
	}{
		{"cpu", fpSim, []string{names[0], names[1], names[2], names[6]}},
		{"cpu", fpOrt, []string{names[2], names[3]}},
		{"cpu", legacy, []string{names[4]}},
		{"cpu", "kind=lut", nil},
		{"cpu", "", nil},
		{"gpu", fpOrt, nil},
	}
	for _, tt := range doneTests {
		done, err := s.Done(ctx, tt.device, tt.fp, names)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, n := range names {
			if done[n] {
				got = append(got, n)
			}
			m, err := s.Measured(ctx, tt.device, tt.fp, n)
			if err != nil || m != done[n] {
				t.Errorf("Measured(%s, %q, %s) = %v, %v; Done says %v", tt.device, tt.fp, n, m, err, done[n])
			}
		}
		if len(done) != len(got) || !slices.Equal(got, tt.want) {
			t.Errorf("Done(%s, %q) = %v, want %v", tt.device, tt.fp, got, tt.want)
		}
	}

	queryTests := []struct {
		q    Query
		want int
	}{
		{Query{Device: "cpu", Fingerprint: fpSim}, 4},
		{Query{Device: "cpu", Fingerprint: fpSim, Space: "test-space"}, 3},
		{Query{Device: "cpu", Fingerprint: fpOrt}, 3},
		{Query{Device: "cpu", Fingerprint: fpOrt, Kind: KindPlan}, 2},
		{Query{Device: "cpu", Fingerprint: fpOrt, Errors: true}, 1},
		{Query{Device: "cpu", Fingerprint: legacy}, 1},
		{Query{Device: "cpu", Fingerprint: "kind=lut"}, 0},
		{Query{Device: "cpu"}, 8},
		// testArch(2) was measured again under fpOrt: the newest under fpSim
		// is still its fpSim record.
		{Query{Device: "cpu", Kind: KindPlan, Latest: true, Fingerprint: fpSim}, 4},
		{Query{Device: "cpu", Kind: KindPlan, Latest: true, Fingerprint: fpOrt}, 2},
		{Query{Device: "cpu", Kind: KindPlan, Latest: true}, 6},
	}
	for _, tt := range queryTests {
		recs, err := s.Query(ctx, tt.q)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != tt.want {
			t.Errorf("Query(%+v): %d records, want %d", tt.q, len(recs), tt.want)
		}
		for _, r := range recs {
			if tt.q.Fingerprint != "" && r.Fingerprint != tt.q.Fingerprint {
				t.Errorf("Query(%+v) gave a record with fingerprint %q", tt.q, r.Fingerprint)
			}
		}
	}

	staleTests := []struct {
		name, device, fp, space string
		want                    []StaleGroup
	}{
		{"ort now, every space", "cpu", fpOrt, "", []StaleGroup{{fpSim, devices.Simulated, 4}, {legacy, devices.Simulated, 1}}},
		{"ort now, one space", "cpu", fpOrt, "test-space", []StaleGroup{{fpSim, devices.Simulated, 3}, {legacy, devices.Simulated, 1}}},
		{"ort now, the other space", "cpu", fpOrt, "other-space", []StaleGroup{{fpSim, devices.Simulated, 1}}},
		{"sim now", "cpu", fpSim, "", []StaleGroup{{fpOrt, devices.Measured, 2}, {legacy, devices.Simulated, 1}}},
		{"something else now", "cpu", "kind=lut", "", []StaleGroup{{fpSim, devices.Simulated, 4}, {fpOrt, devices.Measured, 2}, {legacy, devices.Simulated, 1}}},
		{"unknown device", "gpu", fpOrt, "", nil},
		{"unknown space", "cpu", fpOrt, "no-space", nil},
	}
	for _, tt := range staleTests {
		got, err := s.Stale(ctx, tt.device, tt.fp, tt.space)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: Stale = %+v, want %+v", tt.name, got, tt.want)
		}
	}
}

func TestStaleGroupString(t *testing.T) {
	tests := []struct {
		g    StaleGroup
		want string
	}{
		{StaleGroup{"kind=sim preset=npu", devices.Simulated, 40}, "kind=sim preset=npu, recorded as simulated"},
		{StaleGroup{legacyFingerprint("simulated"), devices.Simulated, 3}, "legacy: recorded as simulated before fingerprints"},
	}
	for _, tt := range tests {
		if got := tt.g.String(); got != tt.want {
			t.Errorf("%+v: %q, want %q", tt.g, got, tt.want)
		}
	}
}

func TestCuts(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	before := time.Now().Add(-time.Minute) // a generous bound: the clock may step
	if _, _, ok, err := s.Cuts(ctx, "a"); ok || err != nil {
		t.Fatalf("cuts of a fresh store: ok %v, err %v", ok, err)
	}
	steps := []struct {
		space string
		put   string
		del   bool
	}{
		{space: "a", put: "[cuts]\nu1 = [\"e6k7\"]\n"},
		{space: "b", put: `{"cut":["u2.l1=e3k3"]}`},
		{space: "a", put: "[cuts]\nu1 = [\"e6k7\", \"e4k7\"]\n"}, // replaces
		{space: "b", del: true},
		{space: "b", del: true}, // nothing left: no error
		{space: "c", put: "x"},
	}
	want := map[string]string{}
	for i, st := range steps {
		if st.del {
			if err := s.DeleteCuts(ctx, st.space); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			delete(want, st.space)
		} else {
			if err := s.PutCuts(ctx, st.space, []byte(st.put)); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			want[st.space] = st.put
		}
	}
	check := func(s *Store) {
		t.Helper()
		for _, space := range []string{"a", "b", "c", "d"} {
			got, updated, ok, err := s.Cuts(ctx, space)
			w, has := want[space]
			if err != nil || ok != has || string(got) != w {
				t.Errorf("Cuts(%s) = %q, %v, %v; want %q, %v", space, got, ok, err, w, has)
			}
			if has && updated.Before(before) {
				t.Errorf("Cuts(%s) updated %v, before the test began (%v)", space, updated, before)
			}
		}
	}
	check(s)
	s.Close()
	reopened, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer reopened.Close()
	check(reopened)

	for _, bad := range []struct {
		space string
		red   []byte
	}{{"", []byte("x")}, {"a", nil}, {"a", []byte{0xff, 0xfe}}} {
		if err := reopened.PutCuts(ctx, bad.space, bad.red); err == nil {
			t.Errorf("PutCuts(%q, %q) accepted", bad.space, bad.red)
		}
	}
	check(reopened)
}

// TestMigrateV2 opens a store written at schema version 2 (before
// fingerprints): a device configured as sim whose 40 simulated records
// stayed when it was renamed to kind ort, and 3 measured ones since.
// After the migration only the measured ones count for the ort device;
// the simulated ones are stale under a legacy fingerprint.
func TestMigrateV2(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v2.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for _, st := range append(slices.Clone(migrations[0].stmts), migrations[1].stmts...) {
		exec(st)
	}
	exec(`INSERT INTO meta(key, value) VALUES ('schema_version', '2')`)
	jsonOf := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cpuCfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Optimization: "all", Repeat: 50}
	cpuInfo := devices.Info{Name: "cpu", Kind: "ort", Runtime: "onnxruntime", Version: "1.22.0", Hardware: "cpu A", Threads: 1,
		Precision: "fp32", Batch: 1, Provenance: devices.Measured, Label: "measured"}
	npuCfg := devices.Config{Name: "npu", Kind: "sim", Sim: devices.SimConfig{Preset: "npu"}}
	npuInfo := devices.Info{Name: "npu", Kind: "sim", Runtime: "analytic model", Batch: 1, Provenance: devices.Simulated}
	type dev struct {
		name, kind, settings, info string
	}
	for _, d := range []dev{
		{"cpu", "ort", jsonOf(cpuCfg), jsonOf(cpuInfo)},
		{"npu", "sim", jsonOf(npuCfg), jsonOf(npuInfo)},
		{"odd", "ort", "not json", "{}"},       // settings that do not decode
		{"tpu", "tpu", `{"Name":"tpu"}`, "{}"}, // a kind this blockprof does not know
	} {
		exec(`INSERT INTO devices(name, kind, settings, info, updated) VALUES (?, ?, ?, ?, '2026-01-01T00:00:00Z')`, d.name, d.kind, d.settings, d.info)
	}
	type rec struct {
		device string
		prov   devices.Provenance
		n      int
	}
	recs := []rec{{"cpu", devices.Simulated, 40}, {"cpu", devices.Measured, 3}, {"npu", devices.Simulated, 5}, {"odd", devices.Measured, 2}, {"tpu", devices.Measured, 1}}
	archOf := map[string][]string{}
	id := 0
	for _, r := range recs {
		for range r.n {
			id++
			canon := fmt.Sprintf("test-space:160:a%d", id)
			exec(`INSERT INTO archs(id, canonical, space, resolution, ofa, macs, params) VALUES (?, ?, 'test-space', 160, '{}', 1, 1)`, id, canon)
			exec(`INSERT INTO measurements(device, arch, kind, samples_ms, n, median_ms, spread, warmup, provenance, started, finished)
				VALUES (?, ?, 'plan', '[2]', 1, 2, 0, 1, ?, '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z')`, r.device, id, string(r.prov))
			archOf[r.device+"/"+string(r.prov)] = append(archOf[r.device+"/"+string(r.prov)], canon)
		}
	}
	// A failed attempt under the ort device: it gets a fingerprint too.
	exec(`INSERT INTO measurements(device, arch, kind, samples_ms, n, median_ms, spread, warmup, provenance, started, finished, error)
		VALUES ('cpu', 1, 'plan', '[]', 0, 0, 0, 0, 'measured', '2026-01-01T00:00:00Z', '2026-01-01T00:00:01Z', 'timeout')`)
	db.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("migrated store version = %d, %v", v, err)
	}
	fpCPU, fpNPU := devices.Fingerprint(cpuCfg, cpuInfo), devices.Fingerprint(npuCfg, npuInfo)
	var all []string
	for _, canons := range archOf {
		all = append(all, canons...)
	}
	tests := []struct {
		device, fp string
		done       []string
		stale      []StaleGroup
	}{
		{"cpu", fpCPU, archOf["cpu/measured"], []StaleGroup{{legacyFingerprint("simulated"), devices.Simulated, 40}}},
		{"npu", fpNPU, archOf["npu/simulated"], nil},
		{"odd", "kind=ort", nil, []StaleGroup{{legacyFingerprint("measured"), devices.Measured, 2}}},
		{"tpu", "kind=tpu", nil, []StaleGroup{{legacyFingerprint("measured"), devices.Measured, 1}}},
	}
	for _, tt := range tests {
		done, err := s.Done(ctx, tt.device, tt.fp, all)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range all {
			if done[c] {
				got = append(got, c)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tt.done))
		if !slices.Equal(got, want) {
			t.Errorf("%s: Done = %d archs %v, want %d %v", tt.device, len(got), got, len(want), want)
		}
		stale, err := s.Stale(ctx, tt.device, tt.fp, "test-space")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(stale, tt.stale) {
			t.Errorf("%s: Stale = %+v, want %+v", tt.device, stale, tt.stale)
		}
	}
	failed, err := s.Query(ctx, Query{Device: "cpu", Errors: true})
	if err != nil || len(failed) != 1 || failed[0].Fingerprint != fpCPU {
		t.Errorf("the failed attempt reads back as %+v, %v; want fingerprint %q", failed, err, fpCPU)
	}
	// Read the column itself: Devices refuses the odd device's settings.
	for name, want := range map[string]string{"cpu": fpCPU, "npu": fpNPU, "odd": "", "tpu": "kind=tpu"} {
		var got string
		if err := s.db.QueryRowContext(ctx, `SELECT fingerprint FROM devices WHERE name = ?`, name).Scan(&got); err != nil || got != want {
			t.Errorf("device %s: fingerprint %q, %v; want %q", name, got, err, want)
		}
	}
	// The ort device recorded again with the same settings: its 3 measured
	// records still count, the 40 simulated ones still do not.
	if _, err := s.PutDevice(ctx, cpuCfg, cpuInfo); err != nil {
		t.Fatal(err)
	}
	if done, err := s.Done(ctx, "cpu", fpCPU, all); err != nil || len(done) != 3 {
		t.Errorf("after PutDevice: Done = %d archs, %v; want 3", len(done), err)
	}
}
