package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"blockprof/devices"
	"blockprof/model"
)

// Kind says why a measurement was taken.
type Kind string

const (
	// KindPlan: an architecture of the run's plan.
	KindPlan Kind = "plan"
	// KindReference: the reference architecture, re-measured every K
	// measurements to follow the device's drift.
	KindReference Kind = "reference"
)

// Arch is an architecture as the store keeps it.
type Arch struct {
	// Canonical is model.Arch.String(), unique in the store.
	Canonical  string    `json:"arch"`
	Space      string    `json:"space"`
	Resolution int       `json:"resolution"`
	OFA        model.OFA `json:"ofa"`
	MACs       int64     `json:"macs"`
	Params     int64     `json:"params"`
}

// ArchOf describes a of space sp, expanding its network for MACs and
// params. It fails if a does not belong to sp.
func ArchOf(sp *model.Space, a model.Arch) (Arch, error) {
	net, err := sp.Network(a)
	if err != nil {
		return Arch{}, err
	}
	return ArchOfNetwork(sp, a, net), nil
}

// ArchOfNetwork is ArchOf with the network already expanded.
func ArchOfNetwork(sp *model.Space, a model.Arch, net *model.Network) Arch {
	return Arch{Canonical: a.String(), Space: sp.Name, Resolution: a.Resolution, OFA: sp.ToOFA(a), MACs: net.MACs(), Params: net.Params()}
}

// archIDs finds or inserts archs inside one transaction, with its
// statements prepared once (a plan of 18k archs is recorded in one go).
type archIDs struct {
	tx       *sql.Tx
	sel, ins *sql.Stmt
}

func newArchIDs(ctx context.Context, tx *sql.Tx) (*archIDs, error) {
	sel, err := tx.PrepareContext(ctx, `SELECT id FROM archs WHERE canonical = ?`)
	if err != nil {
		return nil, err
	}
	ins, err := tx.PrepareContext(ctx, `INSERT INTO archs(canonical, space, resolution, ofa, macs, params) VALUES (?, ?, ?, ?, ?, ?)`)
	if err != nil {
		sel.Close()
		return nil, err
	}
	return &archIDs{tx: tx, sel: sel, ins: ins}, nil
}

func (a *archIDs) Close() {
	a.sel.Close()
	a.ins.Close()
}

// id inserts the arch if it is new and returns its id.
func (a *archIDs) id(ctx context.Context, arch Arch) (int64, error) {
	if arch.Canonical == "" || arch.Space == "" {
		return 0, errors.New("store: arch without canonical string or space")
	}
	var id int64
	err := a.sel.QueryRowContext(ctx, arch.Canonical).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	ofa, err := json.Marshal(arch.OFA)
	if err != nil {
		return 0, err
	}
	res, err := a.ins.ExecContext(ctx, arch.Canonical, arch.Space, arch.Resolution, string(ofa), arch.MACs, arch.Params)
	if err != nil {
		return 0, fmt.Errorf("store: arch %s: %w", arch.Canonical, err)
	}
	return res.LastInsertId()
}

// PutArchs records architectures (known ones are left as they are).
func (s *Store) PutArchs(ctx context.Context, archs ...Arch) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		ids, err := newArchIDs(ctx, tx)
		if err != nil {
			return err
		}
		defer ids.Close()
		for _, a := range archs {
			if _, err := ids.id(ctx, a); err != nil {
				return err
			}
		}
		return nil
	})
}

// planSpecJSON is the stored form of model.PlanSpec.
type planSpecJSON struct {
	Uniform     int    `json:"uniform"`
	PerLocation int    `json:"per_location"`
	Resolution  int    `json:"resolution"`
	Seed        uint64 `json:"seed"`
	Sampler     string `json:"sampler"`
}

func encodePlanSpec(p model.PlanSpec) string {
	s := planSpecJSON{Uniform: p.Uniform, PerLocation: p.PerLocation, Resolution: p.Resolution, Seed: p.Seed, Sampler: "paper"}
	if p.Mode == model.FixBlockProfile {
		s.Sampler = "blockprofile"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func decodePlanSpec(text string) model.PlanSpec {
	var s planSpecJSON
	_ = json.Unmarshal([]byte(text), &s)
	p := model.PlanSpec{Uniform: s.Uniform, PerLocation: s.PerLocation, Resolution: s.Resolution, Seed: s.Seed}
	if s.Sampler == "blockprofile" {
		p.Mode = model.FixBlockProfile
	}
	return p
}

// RunInfo describes a profiling run when it starts.
type RunInfo struct {
	Started    time.Time
	ConfigFile string
	Space      string
	PlanSpec   model.PlanSpec
	// Version is blockprof's version.
	Version string
}

// PlanItem is one entry of a run's plan.
type PlanItem struct {
	Arch Arch
	// Fix is model.Fix.String() ("u2.l3=e6k7") for an A_{u,l,b} item, ""
	// for a uniform one.
	Fix string
}

// StartRun records a run and its plan in one transaction and returns the
// run's id.
func (s *Store) StartRun(ctx context.Context, r RunInfo, items []PlanItem) (int64, error) {
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO runs(started, config_file, plan_spec, space, version) VALUES (?, ?, ?, ?, ?)`,
			fmtTime(r.Started), r.ConfigFile, encodePlanSpec(r.PlanSpec), r.Space, r.Version)
		if err != nil {
			return fmt.Errorf("store: new run: %w", err)
		}
		if id, err = res.LastInsertId(); err != nil {
			return err
		}
		ins, err := tx.PrepareContext(ctx, `INSERT INTO plan_items(run, idx, arch, fix, kind) VALUES (?, ?, ?, ?, ?)`)
		if err != nil {
			return err
		}
		defer ins.Close()
		ids, err := newArchIDs(ctx, tx)
		if err != nil {
			return err
		}
		defer ids.Close()
		for i, it := range items {
			aid, err := ids.id(ctx, it.Arch)
			if err != nil {
				return err
			}
			var fix any
			kind := "uniform"
			if it.Fix != "" {
				fix, kind = it.Fix, "fixed"
			}
			if _, err := ins.ExecContext(ctx, id, i, aid, fix, kind); err != nil {
				return fmt.Errorf("store: plan item %d: %w", i, err)
			}
		}
		return nil
	})
	return id, err
}

// FinishRun stamps the run's end time.
func (s *Store) FinishRun(ctx context.Context, run int64, at time.Time) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE runs SET finished = ? WHERE id = ?`, fmtTime(at), run)
		return err
	})
}

// stableSettings are the devices.Config fields that do not change what a
// measurement means; a change to any other field is reported by PutDevice.
var stableSettings = []string{"Profile", "Timeout"}

// PutDevice records a device with its full settings, what it reported
// about itself and its devices.Fingerprint. If the device was known with
// other settings, it returns the differences ("Threads: 1 → 2"), which
// the caller should say; records taken under another fingerprint no
// longer count as done (Done, Stale).
func (s *Store) PutDevice(ctx context.Context, cfg devices.Config, info devices.Info) (changed []string, err error) {
	if cfg.Name == "" {
		return nil, errors.New("store: device without a name")
	}
	settings, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	infoJSON, err := json.Marshal(info)
	if err != nil {
		return nil, err
	}
	kind := cfg.Kind
	if kind == "" {
		kind = info.Kind
	}
	fp := devices.Fingerprint(cfg, info)
	err = s.write(ctx, func(tx *sql.Tx) error {
		var old string
		err := tx.QueryRowContext(ctx, `SELECT settings FROM devices WHERE name = ?`, cfg.Name).Scan(&old)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			changed = diffSettings(old, string(settings))
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO devices(name, kind, settings, info, updated, fingerprint) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT(name) DO UPDATE SET kind = excluded.kind, settings = excluded.settings, info = excluded.info,
				updated = excluded.updated, fingerprint = excluded.fingerprint`,
			cfg.Name, kind, string(settings), string(infoJSON), fmtTime(time.Now()), fp)
		return err
	})
	return changed, err
}

func diffSettings(oldJSON, newJSON string) []string {
	var a, b map[string]any
	if json.Unmarshal([]byte(oldJSON), &a) != nil || json.Unmarshal([]byte(newJSON), &b) != nil {
		return nil
	}
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var out []string
	for k := range keys {
		if slices.Contains(stableSettings, k) {
			continue
		}
		x, _ := json.Marshal(a[k])
		y, _ := json.Marshal(b[k])
		if string(x) != string(y) {
			out = append(out, fmt.Sprintf("%s: %s → %s", k, x, y))
		}
	}
	sort.Strings(out)
	return out
}

// Measurement is one measurement to store.
type Measurement struct {
	Device string
	Arch   Arch
	// Run is the run that took it (0: none, e.g. an import).
	Run       int64
	Kind      Kind
	SamplesMs []float64
	// ProbeMs are the probe network's runs timed in the same window, after
	// every ProbeEvery-th sample (devices.Measurement); empty without a
	// probe.
	ProbeMs    []float64
	ProbeEvery int
	Warmup     int
	Mode       string
	// Provenance is a devices.Provenance ("measured", "table", ...).
	Provenance devices.Provenance
	// Fingerprint is devices.Fingerprint of the device's settings and
	// info when it took the measurement (required): a record counts as
	// done only for a device with the same fingerprint.
	Fingerprint string
	// Summary says the samples are summary figures, not individual runs.
	Summary  bool
	Started  time.Time
	Finished time.Time
	// Err, when not empty, records a failed attempt (no samples).
	Err string
}

// ErrAlreadyMeasured is returned by Put for a plan measurement that the
// same run already holds for the device and arch.
var ErrAlreadyMeasured = errors.New("already measured in this run")

func (m Measurement) check() error {
	if m.Device == "" {
		return errors.New("store: measurement without a device")
	}
	if m.Kind != KindPlan && m.Kind != KindReference {
		return fmt.Errorf("store: measurement kind %q: want plan or reference", m.Kind)
	}
	if m.Provenance == "" {
		return fmt.Errorf("store: measurement of %s on %s has no provenance (set Measurement.Provenance to the device's Info().Provenance)", m.Arch.Canonical, m.Device)
	}
	if m.Fingerprint == "" {
		return fmt.Errorf("store: measurement of %s on %s has no device fingerprint (set Measurement.Fingerprint to devices.Fingerprint of the device's config and info)", m.Arch.Canonical, m.Device)
	}
	if m.Err == "" && len(m.SamplesMs) == 0 {
		return fmt.Errorf("store: measurement of %s on %s has no samples and no error", m.Arch.Canonical, m.Device)
	}
	for _, x := range append(m.SamplesMs, m.ProbeMs...) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("store: measurement of %s on %s has a non-finite sample", m.Arch.Canonical, m.Device)
		}
	}
	return nil
}

func putOne(ctx context.Context, tx *sql.Tx, ids *archIDs, m Measurement) (int64, error) {
	if err := m.check(); err != nil {
		return 0, err
	}
	aid, err := ids.id(ctx, m.Arch)
	if err != nil {
		return 0, err
	}
	samples := m.SamplesMs
	if samples == nil {
		samples = []float64{}
	}
	sj, err := json.Marshal(samples)
	if err != nil {
		return 0, err
	}
	st := Summarize(samples)
	var probeJSON string
	var probeMedian, relative float64
	if len(m.ProbeMs) > 0 {
		b, err := json.Marshal(m.ProbeMs)
		if err != nil {
			return 0, err
		}
		probeJSON, probeMedian = string(b), Summarize(m.ProbeMs).Median
		relative = devices.ProbeRatio(m.SamplesMs, m.ProbeMs, m.ProbeEvery)
	}
	var run, errText any
	if m.Run != 0 {
		run = m.Run
	}
	if m.Err != "" {
		errText = m.Err
	}
	summary := 0
	if m.Summary {
		summary = 1
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO measurements(device, arch, run, kind, samples_ms, n, median_ms, spread, warmup, mode, provenance, summary, started, finished, error, probe_ms, probe_every, probe_median_ms, relative, fingerprint)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		m.Device, aid, run, string(m.Kind), string(sj), st.N, st.Median, st.Spread, m.Warmup, m.Mode, string(m.Provenance), summary,
		fmtTime(m.Started), fmtTime(m.Finished), errText, probeJSON, m.ProbeEvery, probeMedian, relative, m.Fingerprint)
	if err != nil {
		return 0, fmt.Errorf("store: measurement of %s on %s: %w", m.Arch.Canonical, m.Device, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, fmt.Errorf("store: %s on %s (run %d): %w", m.Arch.Canonical, m.Device, m.Run, ErrAlreadyMeasured)
	}
	return res.LastInsertId()
}

// Put commits one measurement in its own transaction and returns its id.
// The device must have been recorded with PutDevice. Put fails if ctx is
// already done: to commit a finished measurement while shutting down,
// pass context.WithoutCancel(ctx).
func (s *Store) Put(ctx context.Context, m Measurement) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		ids, err := newArchIDs(ctx, tx)
		if err != nil {
			return err
		}
		defer ids.Close()
		id, err = putOne(ctx, tx, ids, m)
		return err
	})
	return id, err
}

// PutBatch commits many measurements in one transaction (imports of
// recorded data): all or none.
func (s *Store) PutBatch(ctx context.Context, ms []Measurement) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		ids, err := newArchIDs(ctx, tx)
		if err != nil {
			return err
		}
		defer ids.Close()
		for _, m := range ms {
			if _, err := putOne(ctx, tx, ids, m); err != nil {
				return err
			}
		}
		return nil
	})
}
