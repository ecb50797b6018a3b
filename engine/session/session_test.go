package session

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/engine"
	"blockprof/engine/accuracy"
	"blockprof/engine/config"
	"blockprof/engine/store"
	"blockprof/model"
)

func testConfig(t *testing.T) *config.Config {
	t.Helper()
	embedded, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(embedded, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// testSpace is the embedded configuration with its ofa-mbv3-w1.0 space.
func testSpace(t *testing.T) (*config.Config, *model.Space) {
	t.Helper()
	cfg := testConfig(t)
	sp, err := cfg.Spaces.Get("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	return cfg, sp
}

// fill writes n uniform plan archs of sp at 224 px measured on device with
// the provenance and fingerprint given (one run), latency 1 + MMACs/100.
func fill(t *testing.T, st *store.Store, sp *model.Space, device string, cfg devices.Config, info devices.Info, n int, seed uint64) {
	t.Helper()
	ctx := context.Background()
	items, err := sp.Plan(model.PlanSpec{Uniform: n, Resolution: 224, Seed: seed})
	if err != nil {
		t.Fatal(err)
	}
	var pis []store.PlanItem
	for _, it := range items {
		a, err := store.ArchOf(sp, it.Arch)
		if err != nil {
			t.Fatal(err)
		}
		pis = append(pis, store.PlanItem{Arch: a})
	}
	run, err := st.StartRun(ctx, store.RunInfo{Started: time.Unix(0, 0), Space: sp.Name, PlanSpec: model.PlanSpec{Uniform: n, Resolution: 224}}, pis)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.PutDevice(ctx, cfg, info); err != nil {
		t.Fatal(err)
	}
	var ms []store.Measurement
	for _, p := range pis {
		v := 1 + float64(p.Arch.MACs)/1e8
		ms = append(ms, store.Measurement{Device: device, Arch: p.Arch, Run: run, Kind: store.KindPlan, SamplesMs: []float64{v, v, v},
			Provenance: info.Provenance, Fingerprint: devices.Fingerprint(cfg, info), Started: time.Unix(0, 0), Finished: time.Unix(1, 0)})
	}
	if err := st.PutBatch(ctx, ms); err != nil {
		t.Fatal(err)
	}
}

func openSession(t *testing.T, cfg *config.Config, path string, acc accuracy.Source) *Session {
	t.Helper()
	s, err := Open(context.Background(), Options{Config: cfg, StorePath: path, Accuracy: acc, Resolution: 224})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// simStore writes a store of n uniform plan archs of sp measured on a
// simulated device "dev" (fill, seed 1) and returns its path.
func simStore(t *testing.T, sp *model.Space, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, st, sp, "dev", devices.Config{Name: "dev", Kind: "sim"}, devices.Info{Provenance: devices.Simulated}, n, 1)
	st.Close()
	return path
}

// TestSeriesLabelsComeFromRecords: a device renamed from a simulated to a
// measured kind keeps its simulated records out of its latency series
// (they are stale) and is never labelled measured for them; a mix of
// provenances under one fingerprint says so with counts.
func TestSeriesLabelsComeFromRecords(t *testing.T) {
	cfg, sp := testSpace(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	simCfg := devices.Config{Name: "dev", Kind: "sim"}
	simInfo := devices.Info{Name: "dev", Kind: "sim", Provenance: devices.Simulated, Label: "simulated (npu)"}
	fill(t, st, sp, "dev", simCfg, simInfo, 40, 1)
	st.Close()

	s := openSession(t, cfg, path, nil)
	ser, err := s.Series(ctx, SeriesRequest{Device: "dev", Metric: MetricLatency})
	if err != nil {
		t.Fatal(err)
	}
	if ser.Label != "simulated (npu)" || len(ser.Obs) != 40 || ser.Stale != 0 {
		t.Errorf("sim series: label %q, %d obs, %d stale", ser.Label, len(ser.Obs), ser.Stale)
	}
	s.Close()

	// The device is now configured as ort under the same name: its
	// simulated records no longer count.
	st, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ortCfg := devices.Config{Name: "dev", Kind: "ort", Threads: 1}
	ortInfo := devices.Info{Name: "dev", Kind: "ort", Runtime: "onnxruntime", Threads: 1, Provenance: devices.Measured, Label: "measured"}
	if _, err := st.PutDevice(ctx, ortCfg, ortInfo); err != nil {
		t.Fatal(err)
	}
	st.Close()
	s = openSession(t, cfg, path, nil)
	_, err = s.Series(ctx, SeriesRequest{Device: "dev", Metric: MetricLatency})
	if err == nil || !strings.Contains(err.Error(), "40 records were taken with the device's earlier settings") {
		t.Errorf("renamed device: %v, want an error saying 40 records are stale", err)
	}
	s.Close()

	// Measured records beside replayed ones of the same fingerprint: a mix.
	st, err = store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	fill(t, st, sp, "dev", ortCfg, ortInfo, 30, 2)
	repInfo := ortInfo
	repInfo.Provenance = devices.Replayed
	// Same settings, another provenance: a fingerprint includes no
	// provenance, so this is what a mislabelled import would look like.
	if devices.Fingerprint(ortCfg, repInfo) != devices.Fingerprint(ortCfg, ortInfo) {
		t.Fatal("the fingerprint now includes the provenance: build the mix another way")
	}
	fill(t, st, sp, "dev", ortCfg, repInfo, 10, 3)
	st.Close()
	s = openSession(t, cfg, path, nil)
	ser, err = s.Series(ctx, SeriesRequest{Device: "dev", Metric: MetricLatency})
	if err != nil {
		t.Fatal(err)
	}
	if want := "mixed: 30 measured, 10 replayed"; ser.Label != want || ser.Stale != 40 {
		t.Errorf("label %q (want %q), %d stale (want 40)", ser.Label, want, ser.Stale)
	}
}

// counting is an accuracy source that counts its evaluations.
type counting struct {
	calls atomic.Int64
	sp    *model.Space
}

func (c *counting) Top1(_ context.Context, a model.Arch) (accuracy.Value, error) {
	c.calls.Add(1)
	n, err := c.sp.Network(a)
	if err != nil {
		return accuracy.Value{}, err
	}
	return accuracy.Value{Top1: 70 + float64(n.MACs())/1e8, Provenance: accuracy.Measured, Label: "measured", Source: "counting"}, nil
}

// TestAccuracyPersisted: the accuracy of every plan arch is stored with its
// source and provenance, so a second session evaluates nothing again.
func TestAccuracyPersisted(t *testing.T) {
	cfg, sp := testSpace(t)
	ctx := context.Background()
	path := simStore(t, sp, 35)

	src := &counting{sp: sp}
	s := openSession(t, cfg, path, src)
	first, err := s.Series(ctx, SeriesRequest{Metric: MetricAccuracy})
	if err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 35 {
		t.Fatalf("first session evaluated %d archs, want 35", n)
	}
	if first.Label != "measured (proxy)" && !strings.HasPrefix(first.Label, "measured") {
		t.Errorf("label %q", first.Label)
	}
	s.Close()

	again := &counting{sp: sp}
	s = openSession(t, cfg, path, again)
	second, err := s.Series(ctx, SeriesRequest{Metric: MetricAccuracy})
	if err != nil {
		t.Fatal(err)
	}
	if n := again.calls.Load(); n != 0 {
		t.Errorf("second session evaluated %d archs again, want 0", n)
	}
	for i := range first.Obs {
		if first.Obs[i].Value != second.Obs[i].Value {
			t.Fatalf("arch %d: %v then %v", i, first.Obs[i].Value, second.Obs[i].Value)
		}
	}
	if !strings.HasPrefix(second.Label, "measured") {
		t.Errorf("stored scores lost their provenance: %q", second.Label)
	}
	// `analyze --metric accuracy` reads the same numbers.
	an, err := s.Analyze(ctx, SeriesRequest{Metric: MetricAccuracy}, s.AnalysisOptions())
	if err != nil {
		t.Fatal(err)
	}
	if an.Report.Uniform != 35 || again.calls.Load() != 0 {
		t.Errorf("analysis of %d archs, %d evaluations", an.Report.Uniform, again.calls.Load())
	}
}

// TestSeriesKeysAreCanonical: every observation of a series names its
// arch by the canonical string (front ends list and score archs by it),
// for every metric, and the scores a series remembers are found again by
// the arch's own String().
func TestSeriesKeysAreCanonical(t *testing.T) {
	cfg, sp := testSpace(t)
	ctx := context.Background()
	src := &counting{sp: sp}
	s := openSession(t, cfg, simStore(t, sp, 30), src)
	for _, req := range []SeriesRequest{{Device: "dev", Metric: MetricLatency}, {Metric: MetricAccuracy}, {Metric: MetricMACs}} {
		ser, err := s.Series(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(ser.Obs) != 30 {
			t.Fatalf("%s: %d obs, want 30", req.Metric, len(ser.Obs))
		}
		for _, o := range ser.Obs {
			if o.Key == "" || o.Key != o.Arch.String() {
				t.Fatalf("%s: key %q for arch %s", req.Metric, o.Key, o.Arch)
			}
		}
	}
	n := src.calls.Load()
	ser, err := s.Series(ctx, SeriesRequest{Device: "dev", Metric: MetricLatency})
	if err != nil {
		t.Fatal(err)
	}
	archs := make([]model.Arch, len(ser.Obs))
	for i, o := range ser.Obs {
		archs[i] = o.Arch
	}
	if _, err := s.ScoreMany(ctx, archs); err != nil {
		t.Fatal(err)
	}
	if got := src.calls.Load(); got != n {
		t.Errorf("%d archs scored again after the accuracy series", got-n)
	}
}

// TestRemeasureNoisy: the archs whose spread missed the device's target
// are measured again in a new run that every Subscribe stream follows;
// the newer records replace the noisy ones in the series.
func TestRemeasureNoisy(t *testing.T) {
	cfg, sp := testSpace(t)
	dc, err := cfg.Device("sim-npu")
	if err != nil {
		t.Fatal(err)
	}
	dc.TargetSpread = 0.05
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	s := openSession(t, cfg, path, nil)
	dev, _, err := s.Device(ctx, "sim-npu")
	if err != nil {
		t.Fatal(err)
	}
	fill(t, s.Store(), sp, "sim-npu", dc, dev.Info(), 12, 1)
	// Make 4 of them noisy: a later run of the same archs with a wide
	// spread (the latest record counts).
	recs, err := s.Store().Query(ctx, store.Query{Device: "sim-npu", Kind: store.KindPlan, Latest: true})
	if err != nil {
		t.Fatal(err)
	}
	var pis []store.PlanItem
	for _, r := range recs[:4] {
		a, err := sp.ParseArch(r.Arch)
		if err != nil {
			t.Fatal(err)
		}
		sa, _ := store.ArchOf(sp, a)
		pis = append(pis, store.PlanItem{Arch: sa})
	}
	run, err := s.Store().StartRun(ctx, store.RunInfo{Started: time.Unix(2, 0), Space: sp.Name, PlanSpec: model.PlanSpec{Uniform: 4, Resolution: 224}}, pis)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pis {
		if _, err := s.Store().Put(ctx, store.Measurement{Device: "sim-npu", Arch: p.Arch, Run: run, Kind: store.KindPlan, SamplesMs: []float64{1, 2, 3, 4},
			Provenance: devices.Simulated, Fingerprint: devices.Fingerprint(dc, dev.Info()), Started: time.Unix(2, 0), Finished: time.Unix(3, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	noisy, _, err := s.Noisy(ctx, "sim-npu")
	if err != nil || len(noisy) != 4 {
		t.Fatalf("noisy: %d, %v", len(noisy), err)
	}
	sub, stop := context.WithCancel(ctx)
	defer stop()
	events := s.Subscribe(sub)
	n, err := s.RemeasureNoisy(ctx, "sim-npu")
	if err != nil || n != 4 {
		t.Fatalf("re-measure: %d, %v", n, err)
	}
	var done bool
	for ev := range events {
		if _, ok := ev.(engine.RunDone); ok {
			done = true
			break
		}
	}
	if !done {
		t.Fatal("the subscriber never saw the re-measure run end")
	}
	// The stored device is the one the config declares: the session
	// compares spreads with its target.
	after, _, err := s.Noisy(ctx, "sim-npu")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != 0 {
		t.Errorf("%d archs still noisy after the re-measure", len(after))
	}
}

// TestSearchEventsReachEverySubscriber: a search's progress goes to every
// subscriber of the session (the SSH team), naming who started it, and a
// late subscriber gets the latest report.
func TestSearchEventsReachEverySubscriber(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	s := openSession(t, cfg, filepath.Join(t.TempDir(), "s.db"), nil)
	sub, stop := context.WithCancel(ctx)
	defer stop()
	events := s.Subscribe(sub)
	red, err := model.ReductionOf(s.Space(), "same").ApplyTo(s.Space())
	if err != nil {
		t.Fatal(err)
	}
	opts := s.SearchOptions()
	opts.Initial, opts.Children, opts.Generations = 4, 4, 1
	if _, err := s.Search(ctx, SearchRequest{Device: "sim-npu", Reduced: red, Options: &opts, Seeds: []uint64{1}, By: "alice"}); err != nil {
		t.Fatal(err)
	}
	// Reports are latest-wins: a slow reader may see only the last one,
	// so the test asks for the end, with who and what.
	var done bool
	for ev := range events {
		p, ok := ev.(engine.SearchProgress)
		if !ok {
			continue
		}
		if p.By != "alice" || p.Device != "sim-npu" {
			t.Fatalf("report %+v", p)
		}
		if p.Done {
			done = true
			break
		}
	}
	if !done {
		t.Error("the subscriber never saw the search end")
	}
	late, stopLate := context.WithCancel(ctx)
	defer stopLate()
	if p, ok := (<-s.Subscribe(late)).(engine.SearchProgress); !ok || !p.Done || p.Err != "" {
		t.Errorf("a late subscriber got %+v first, want the finished search", p)
	}
}

// TestScoreManyReadsWhatItScores: a second session evaluates only the
// archs no session stored, and reads the others back with the values and
// provenance first given, in the archs' order, whether it reads a few
// archs' scores by name or more of them in the table's order.
func TestScoreManyReadsWhatItScores(t *testing.T) {
	cfg, sp := testSpace(t)
	ctx := context.Background()
	path := simStore(t, sp, 5)
	rng := model.NewRand(9)
	seen := map[string]bool{}
	var archs []model.Arch
	for len(archs) < 1300 {
		if a := sp.Sample(rng, 224); !seen[a.String()] {
			seen[a.String()] = true
			archs = append(archs, a)
		}
	}
	src := &counting{sp: sp}
	s := openSession(t, cfg, path, src)
	firstPart := archs[:600]
	first, err := s.ScoreMany(ctx, firstPart)
	if err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != int64(len(firstPart)) {
		t.Fatalf("first session: %d evaluations of %d archs", n, len(firstPart))
	}
	s.Close()

	again := &counting{sp: sp}
	s = openSession(t, cfg, path, again)
	// The new archs first, then the stored ones, so every chunk mixes both.
	order := append(slices.Clone(archs[len(firstPart):]), firstPart...)
	slices.Reverse(order[:len(order)/2])
	got, err := s.ScoreMany(ctx, order)
	if err != nil {
		t.Fatal(err)
	}
	if n, want := again.calls.Load(), int64(len(archs)-len(firstPart)); n != want {
		t.Errorf("second session: %d evaluations, want %d (the archs not stored)", n, want)
	}
	// Scored again in the same session: every score from its cache.
	cached, err := s.ScoreMany(ctx, order)
	if err != nil {
		t.Fatal(err)
	}
	if n, want := again.calls.Load(), int64(len(archs)-len(firstPart)); n != want {
		t.Errorf("scored again: %d evaluations in all, want %d", n, want)
	}
	if !slices.Equal(cached, got) {
		t.Errorf("scored again: other values")
	}
	byArch := map[string]float64{}
	for i, a := range firstPart {
		byArch[a.String()] = first[i].Top1
	}
	for i, a := range order {
		direct, err := (&counting{sp: sp}).Top1(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if got[i].Top1 != direct.Top1 {
			t.Fatalf("arch %d %s: %v, the source gives %v", i, a, got[i].Top1, direct.Top1)
		}
		if v, ok := byArch[a.String()]; ok && (got[i].Top1 != v || !strings.Contains(got[i].Label, "stored")) {
			t.Fatalf("arch %d %s: %v %q, stored %v", i, a, got[i].Top1, got[i].Label, v)
		}
	}
}

// TestSeriesHoldsTheHostLock: reading a series waits for the host lock
// (a local device's timed window), as the analysis does, and reads once
// the lock is free.
func TestSeriesHoldsTheHostLock(t *testing.T) {
	cfg, sp := testSpace(t)
	ctx := context.Background()
	path := simStore(t, sp, 20)
	s := openSession(t, cfg, path, nil)
	req := SeriesRequest{Device: "dev", Metric: MetricLatency}
	if err := s.lock.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	// Under a cancelled context the lock gives up with the context's own
	// error; the store, had it been read first, wraps it in what it read.
	held, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Series(held, req); err != context.Canceled {
		t.Errorf("Series while a device holds the host lock: err = %v, want it to wait for the lock (context.Canceled, bare)", err)
	}
	if _, err := s.Analyze(held, req, s.AnalysisOptions()); err != context.Canceled {
		t.Errorf("Analyze while a device holds the host lock: err = %v, want it to wait for the lock (context.Canceled, bare)", err)
	}
	if _, err := s.ScoreSeries(held, req); err != context.Canceled {
		t.Errorf("ScoreSeries while a device holds the host lock: err = %v, want it to wait for the lock (context.Canceled, bare)", err)
	}
	s.lock.Unlock()
	ser, err := s.Series(ctx, req)
	if err != nil || len(ser.Obs) != 20 {
		t.Fatalf("Series with the lock free: %d observations, %v", len(ser.Obs), err)
	}
}

// TestScoreSeriesIsSeriesScored: the Pareto view's points are the latency
// series' archs, each once, with the latency the series gives and the
// score ScoreMany gives, and the series' labels; AnalyzeInto hands keep
// the analysis Analyze returns.
func TestScoreSeriesIsSeriesScored(t *testing.T) {
	cfg, sp := testSpace(t)
	ctx := context.Background()
	s := openSession(t, cfg, simStore(t, sp, 25), nil)
	req := SeriesRequest{Device: "dev", Metric: MetricLatency}
	ser, err := s.Series(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := s.ScoreSeries(ctx, SeriesRequest{Device: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	var archs []model.Arch
	var keys []string
	for _, o := range ser.Obs {
		if _, ok := want[o.Key]; !ok {
			want[o.Key] = o.Value
			archs, keys = append(archs, o.Arch), append(keys, o.Key)
		}
	}
	vals, err := s.ScoreMany(ctx, archs)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Analysed != len(ser.Obs) || len(sc.Archs) != len(keys) || sc.Series.Label != ser.Label || sc.Series.Obs != nil {
		t.Fatalf("scored: %d analysed, %d archs, label %q, %d obs kept; series: %d obs, %d archs, label %q",
			sc.Analysed, len(sc.Archs), sc.Series.Label, len(sc.Series.Obs), len(ser.Obs), len(keys), ser.Label)
	}
	for i, p := range sc.Archs {
		if p.Arch != keys[i] || p.Latency != want[p.Arch] || p.Score != vals[i] {
			t.Errorf("point %d: %s %g %+v, want %s %g %+v", i, p.Arch, p.Latency, p.Score, keys[i], want[keys[i]], vals[i])
		}
	}
	an, err := s.Analyze(ctx, req, s.AnalysisOptions())
	if err != nil {
		t.Fatal(err)
	}
	var kept *Analysis
	if err := s.AnalyzeInto(ctx, req, s.AnalysisOptions(), func(a *Analysis) error { kept = a; return nil }); err != nil {
		t.Fatal(err)
	}
	if kept == nil || !reflect.DeepEqual(kept.Evidence, an.Evidence) || !reflect.DeepEqual(kept.Series.Obs, an.Series.Obs) {
		t.Errorf("AnalyzeInto kept %+v, Analyze gave %+v", kept, an)
	}
}

// TestScoreManyKeepsWhatItsCacheHeld: an arch whose score the cache held
// when ScoreMany began is not evaluated again when the scores remembered
// meanwhile start the cache over, and an arch given twice is evaluated
// once.
func TestScoreManyKeepsWhatItsCacheHeld(t *testing.T) {
	cfg, sp := testSpace(t)
	ctx := context.Background()
	src := &counting{sp: sp}
	s := openSession(t, cfg, simStore(t, sp, 5), src)
	rng := model.NewRand(3)
	held, b, c, d := sp.Sample(rng, 224), sp.Sample(rng, 224), sp.Sample(rng, 224), sp.Sample(rng, 224)
	for i := range maxScores - 2 {
		s.acc.remember(fmt.Sprint("filler", i), accuracy.Value{Top1: 1, Provenance: "proxy"})
	}
	want := accuracy.Value{Top1: 42, Provenance: accuracy.Measured, Label: "measured", Source: "counting"}
	s.acc.remember(held.String(), want)
	// b fills the cache, c starts it over: held is no longer in it.
	got, err := s.ScoreMany(ctx, []model.Arch{b, c, held, d, d})
	if err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 3 {
		t.Errorf("%d evaluations, want 3 (b, c and d once)", n)
	}
	if got[2] != want {
		t.Errorf("the held arch scored %+v, want the cached %+v", got[2], want)
	}
	if got[3] != got[4] {
		t.Errorf("an arch given twice: %+v, then %+v", got[3], got[4])
	}
}
