package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"blockprof/devices"
	"blockprof/model"
)

// Record is one stored measurement as readers see it.
type Record struct {
	ID  int64
	Run int64 // 0 when it belongs to no run
	// Device is the device's name.
	Device string
	// Arch is the canonical architecture string.
	Arch       string
	Space      string
	Resolution int
	MACs       int64
	Params     int64
	// Fix is the plan item's "u2.l3=e6k7" for an A_{u,l,b} arch, "" for a
	// uniform one or a reference. An arch that is in a plan both as a
	// uniform item and for a fixed location yields one Record per role.
	Fix  string
	Kind Kind
	// SamplesMs is filled only when Query.Samples is set.
	SamplesMs []float64
	// N, Median and Spread (IQR/median) are Summarize(samples), kept as
	// columns so queries need not decode the samples.
	N      int
	Median float64
	Spread float64
	// ProbeMedian is the median of the probe network's runs timed in the
	// same window (devices.Protocol.ProbeEvery) and Relative the arch's
	// latency in probe units (devices.ProbeRatio); both 0 without a probe.
	// ProbeMs, the probe's samples, is filled only when Query.Samples is
	// set.
	ProbeMedian float64
	Relative    float64
	ProbeEvery  int
	ProbeMs     []float64
	Warmup      int
	Mode        string
	Provenance  devices.Provenance
	// Fingerprint is the devices.Fingerprint the device had when it took
	// the measurement ("legacy: …" for a record of an older store whose
	// provenance did not match its device's kind).
	Fingerprint string
	Summary     bool
	Started     time.Time
	Finished    time.Time
	// Err is set only for failed attempts (Query.Errors).
	Err string
}

// Query selects measurements. Zero fields match everything.
type Query struct {
	Device string
	Space  string
	Kind   Kind
	Run    int64
	// Fingerprint keeps the measurements taken under this
	// devices.Fingerprint.
	Fingerprint string
	// Samples also decodes every sample (memory: 8 bytes per sample).
	Samples bool
	// Latest keeps only the newest measurement per (device, arch, kind)
	// when an arch was measured again in a later run (with Fingerprint,
	// the newest under that fingerprint).
	Latest bool
	// Errors returns failed attempts instead of measurements.
	Errors bool
}

func (q Query) sql() (string, []any) {
	var where []string
	var args []any
	if q.Errors {
		where = append(where, "m.error IS NOT NULL")
	} else {
		where = append(where, "m.error IS NULL")
	}
	if q.Device != "" {
		where = append(where, "m.device = ?")
		args = append(args, q.Device)
	}
	if q.Space != "" {
		where = append(where, "a.space = ?")
		args = append(args, q.Space)
	}
	if q.Kind != "" {
		where = append(where, "m.kind = ?")
		args = append(args, string(q.Kind))
	}
	if q.Run != 0 {
		where = append(where, "m.run = ?")
		args = append(args, q.Run)
	}
	if q.Fingerprint != "" {
		where = append(where, "m.fingerprint = ?")
		args = append(args, q.Fingerprint)
	}
	if q.Latest {
		// The newest per (device, arch, kind), under the fingerprint if
		// one is asked (whatever came after it). The device and kind asked
		// narrow the groups too: the same ids, without grouping every
		// other device's records (a 100k-record store took 0.3 s per read).
		latest := "SELECT MAX(id) FROM measurements WHERE error IS NULL"
		if q.Fingerprint != "" {
			latest += " AND fingerprint = ?"
			args = append(args, q.Fingerprint)
		}
		if q.Device != "" {
			latest += " AND device = ?"
			args = append(args, q.Device)
		}
		if q.Kind != "" {
			latest += " AND kind = ?"
			args = append(args, string(q.Kind))
		}
		where = append(where, "m.id IN ("+latest+" GROUP BY device, arch, kind)")
	}
	samples := "'', ''"
	if q.Samples {
		samples = "m.samples_ms, m.probe_ms"
	}
	text := `SELECT m.id, COALESCE(m.run, 0), m.device, a.canonical, a.space, a.resolution, a.macs, a.params,
		COALESCE(f.fix, ''), m.kind, ` + samples + `, m.n, m.median_ms, m.spread, m.warmup, m.mode, m.provenance,
		m.summary, m.started, m.finished, COALESCE(m.error, ''), m.probe_median_ms, m.relative, m.probe_every, m.fingerprint
		FROM measurements m
		JOIN archs a ON a.id = m.arch
		LEFT JOIN (SELECT DISTINCT arch, fix FROM plan_items) f ON f.arch = m.arch AND m.kind = 'plan'
		WHERE ` + strings.Join(where, " AND ") + `
		ORDER BY m.id, f.fix`
	return text, args
}

// Records streams the measurements that q selects, oldest first, without
// holding them all in memory. Stop early by breaking out of the loop. A
// stream holds one of the store's 4 connections until it ends: writing
// from inside the loop is fine, nesting 4 streams is not.
func (s *Store) Records(ctx context.Context, q Query) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		text, args := q.sql()
		rows, err := s.db.QueryContext(ctx, text, args...)
		if err != nil {
			yield(Record{}, fmt.Errorf("store %s: query measurements: %w", s.path, err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var r Record
			var kind, prov, samples, probe, started, finished string
			var summary int
			if err := rows.Scan(&r.ID, &r.Run, &r.Device, &r.Arch, &r.Space, &r.Resolution, &r.MACs, &r.Params,
				&r.Fix, &kind, &samples, &probe, &r.N, &r.Median, &r.Spread, &r.Warmup, &r.Mode, &prov,
				&summary, &started, &finished, &r.Err, &r.ProbeMedian, &r.Relative, &r.ProbeEvery, &r.Fingerprint); err != nil {
				yield(Record{}, fmt.Errorf("store %s: reading a measurement: %w", s.path, err))
				return
			}
			r.Kind, r.Provenance, r.Summary = Kind(kind), devices.Provenance(prov), summary != 0
			r.Started, r.Finished = parseTime(started), parseTime(finished)
			if q.Samples && samples != "" {
				if err := json.Unmarshal([]byte(samples), &r.SamplesMs); err != nil {
					yield(Record{}, fmt.Errorf("store %s: measurement %d: bad samples: %w", s.path, r.ID, err))
					return
				}
			}
			if q.Samples && probe != "" {
				if err := json.Unmarshal([]byte(probe), &r.ProbeMs); err != nil {
					yield(Record{}, fmt.Errorf("store %s: measurement %d: bad probe samples: %w", s.path, r.ID, err))
					return
				}
			}
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(Record{}, fmt.Errorf("store %s: query measurements: %w", s.path, err))
		}
	}
}

// Query collects the measurements that q selects into a slice. Prefer
// Records for large stores, and leave q.Samples off unless needed.
func (s *Store) Query(ctx context.Context, q Query) ([]Record, error) {
	var out []Record
	for r, err := range s.Records(ctx, q) {
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// Count is the number of measurements q selects (one per measurement,
// whatever its plan roles).
func (s *Store) Count(ctx context.Context, q Query) (int, error) {
	text, args := q.sql()
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT id) FROM (`+text+`)`, args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store %s: count measurements: %w", s.path, err)
	}
	return n, nil
}

// ProbeBaseline is the device's typical probe latency: the median of the
// probe medians of its successful measurements (0 when none has a probe).
// Record.Latency scales probe-corrected latencies to it.
func (s *Store) ProbeBaseline(ctx context.Context, device string) (float64, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT probe_median_ms FROM measurements
		WHERE device = ? AND error IS NULL AND probe_median_ms > 0`, device)
	if err != nil {
		return 0, fmt.Errorf("store %s: probe medians of %s: %w", s.path, device, err)
	}
	defer rows.Close()
	var xs []float64
	for rows.Next() {
		var x float64
		if err := rows.Scan(&x); err != nil {
			return 0, fmt.Errorf("store %s: probe medians of %s: %w", s.path, device, err)
		}
		xs = append(xs, x)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store %s: probe medians of %s: %w", s.path, device, err)
	}
	if len(xs) == 0 {
		return 0, nil
	}
	return Summarize(xs).Median, nil
}

// Latency is the record's latency for analysis: with a probe timed in its
// window and a baseline (Store.ProbeBaseline), Relative × baseline — the
// arch's time at the device's typical speed, free of what slowed or sped
// up the whole machine during that window; otherwise Median.
func (r Record) Latency(baseline float64) float64 {
	if baseline > 0 && r.Relative > 0 {
		return r.Relative * baseline
	}
	return r.Median
}

// Done returns which of archs (canonical strings) already have a
// successful plan measurement on device taken under fingerprint (the
// device's current devices.Fingerprint), in any run. Records of the
// device under another fingerprint do not count (Stale lists them).
func (s *Store) Done(ctx context.Context, device, fingerprint string, archs []string) (map[string]bool, error) {
	want := make(map[string]bool, len(archs))
	for _, a := range archs {
		want[a] = true
	}
	out := map[string]bool{}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT a.canonical FROM measurements m JOIN archs a ON a.id = m.arch
		WHERE m.device = ? AND m.fingerprint = ? AND m.kind = 'plan' AND m.error IS NULL`, device, fingerprint)
	if err != nil {
		return nil, fmt.Errorf("store %s: measured archs of %s: %w", s.path, device, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		if want[c] {
			out[c] = true
		}
	}
	return out, rows.Err()
}

// Measured reports whether arch (canonical) has a successful plan
// measurement on device taken under fingerprint (as Done).
func (s *Store) Measured(ctx context.Context, device, fingerprint, arch string) (bool, error) {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM measurements m JOIN archs a ON a.id = m.arch
		WHERE m.device = ? AND m.fingerprint = ? AND a.canonical = ? AND m.kind = 'plan' AND m.error IS NULL LIMIT 1`,
		device, fingerprint, arch).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store %s: %w", s.path, err)
	}
	return true, nil
}

// FirstReference returns the oldest successful reference measurement of
// arch on device under any fingerprint (ok false if there is none): the
// baseline of drift. Records with Query.Fingerprint keeps one
// fingerprint's.
func (s *Store) FirstReference(ctx context.Context, device, arch string) (r Record, ok bool, err error) {
	for rec, err := range s.Records(ctx, Query{Device: device, Kind: KindReference}) {
		if err != nil {
			return Record{}, false, err
		}
		if rec.Arch == arch {
			return rec, true, nil
		}
	}
	return Record{}, false, nil
}

// Device is a stored device.
type Device struct {
	Name     string
	Kind     string
	Settings devices.Config
	Info     devices.Info
	// Fingerprint is devices.Fingerprint of Settings and Info when the
	// device was last recorded.
	Fingerprint string
	Updated     time.Time
	// Measurements counts its successful measurements (plan and reference).
	Measurements int
}

// Devices lists the stored devices by name.
func (s *Store) Devices(ctx context.Context) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT d.name, d.kind, d.settings, d.info, d.fingerprint, d.updated,
		(SELECT COUNT(*) FROM measurements m WHERE m.device = d.name AND m.error IS NULL)
		FROM devices d ORDER BY d.name`)
	if err != nil {
		return nil, fmt.Errorf("store %s: devices: %w", s.path, err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		var settings, info, updated string
		if err := rows.Scan(&d.Name, &d.Kind, &settings, &info, &d.Fingerprint, &updated, &d.Measurements); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(settings), &d.Settings); err != nil {
			return nil, fmt.Errorf("store %s: device %s: bad settings: %w", s.path, d.Name, err)
		}
		if err := json.Unmarshal([]byte(info), &d.Info); err != nil {
			return nil, fmt.Errorf("store %s: device %s: bad info: %w", s.path, d.Name, err)
		}
		d.Updated = parseTime(updated)
		out = append(out, d)
	}
	return out, rows.Err()
}

// Run is a stored profiling run.
type Run struct {
	ID       int64
	Started  time.Time
	Finished time.Time // zero while running or if it was interrupted
	// ConfigFile is the config the run was started from.
	ConfigFile string
	Space      string
	PlanSpec   model.PlanSpec
	Version    string
	// Items is the plan's length; Measurements counts the successful
	// measurements taken by this run.
	Items        int
	Measurements int
}

// Runs lists the runs, oldest first.
func (s *Store) Runs(ctx context.Context) ([]Run, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.started, COALESCE(r.finished, ''), r.config_file, r.space, r.plan_spec, r.version,
		(SELECT COUNT(*) FROM plan_items p WHERE p.run = r.id),
		(SELECT COUNT(*) FROM measurements m WHERE m.run = r.id AND m.error IS NULL)
		FROM runs r ORDER BY r.id`)
	if err != nil {
		return nil, fmt.Errorf("store %s: runs: %w", s.path, err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		var r Run
		var started, finished, spec string
		if err := rows.Scan(&r.ID, &started, &finished, &r.ConfigFile, &r.Space, &spec, &r.Version, &r.Items, &r.Measurements); err != nil {
			return nil, err
		}
		r.Started, r.Finished, r.PlanSpec = parseTime(started), parseTime(finished), decodePlanSpec(spec)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Plan reads back a run's plan items in order.
func (s *Store) Plan(ctx context.Context, run int64) ([]PlanItem, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.canonical, a.space, a.resolution, a.ofa, a.macs, a.params, COALESCE(p.fix, '')
		FROM plan_items p JOIN archs a ON a.id = p.arch WHERE p.run = ? ORDER BY p.idx`, run)
	if err != nil {
		return nil, fmt.Errorf("store %s: plan of run %d: %w", s.path, run, err)
	}
	defer rows.Close()
	var out []PlanItem
	for rows.Next() {
		var it PlanItem
		var ofa string
		if err := rows.Scan(&it.Arch.Canonical, &it.Arch.Space, &it.Arch.Resolution, &ofa, &it.Arch.MACs, &it.Arch.Params, &it.Fix); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(ofa), &it.Arch.OFA); err != nil {
			return nil, fmt.Errorf("store %s: arch %s: bad OFA encoding: %w", s.path, it.Arch.Canonical, err)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// StaleGroup counts a device's successful plan measurements taken under
// another fingerprint than its current one, with one provenance.
type StaleGroup struct {
	// Fingerprint is the devices.Fingerprint they were taken under, or a
	// "legacy: …" one for records of an older store.
	Fingerprint string
	Provenance  devices.Provenance
	Count       int
}

// String describes the group for a warning: "kind=sim preset=npu,
// recorded as simulated" (a legacy fingerprint says it alone).
func (g StaleGroup) String() string {
	if strings.HasPrefix(g.Fingerprint, legacyPrefix) {
		return g.Fingerprint
	}
	return g.Fingerprint + ", recorded as " + string(g.Provenance)
}

// Stale groups the successful plan measurements of device (in space; ""
// means every space) whose fingerprint is not fingerprint, by fingerprint
// and provenance, largest group first. They stay in the store but no
// longer count as done (Done).
func (s *Store) Stale(ctx context.Context, device, fingerprint, space string) ([]StaleGroup, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT m.fingerprint, m.provenance, COUNT(*) AS n
		FROM measurements m JOIN archs a ON a.id = m.arch
		WHERE m.device = ? AND m.fingerprint != ? AND (? = '' OR a.space = ?) AND m.kind = 'plan' AND m.error IS NULL
		GROUP BY m.fingerprint, m.provenance
		ORDER BY n DESC, m.fingerprint, m.provenance`, device, fingerprint, space, space)
	if err != nil {
		return nil, fmt.Errorf("store %s: stale measurements of %s: %w", s.path, device, err)
	}
	defer rows.Close()
	var out []StaleGroup
	for rows.Next() {
		var g StaleGroup
		var prov string
		if err := rows.Scan(&g.Fingerprint, &prov, &g.Count); err != nil {
			return nil, fmt.Errorf("store %s: stale measurements of %s: %w", s.path, device, err)
		}
		g.Provenance = devices.Provenance(prov)
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store %s: stale measurements of %s: %w", s.path, device, err)
	}
	return out, nil
}
