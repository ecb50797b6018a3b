package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"blockprof/devices"
)

// SchemaVersion is the schema this blockprof writes. A store whose
// meta.schema_version is higher was written by a newer blockprof and is
// refused; a lower one is migrated forward, one explicit step at a time.
const SchemaVersion = 3

// migration moves a store from version to-1 to version to. Each runs in
// one transaction together with the update of meta.schema_version, so a
// crash leaves the store at the old or the new version, never between.
// fn, when set, runs after stmts in the same transaction (a step that
// computes in Go what SQL cannot).
type migration struct {
	to    int
	name  string
	stmts []string
	fn    func(ctx context.Context, tx *sql.Tx) error
}

// migrations are applied in order; never edit a released step, append a
// new one (and bump SchemaVersion).
var migrations = []migration{
	{to: 1, name: "initial schema", stmts: []string{
		`CREATE TABLE meta (
			key   TEXT PRIMARY KEY,
			value TEXT NOT NULL
		)`,
		`CREATE TABLE runs (
			id          INTEGER PRIMARY KEY,
			started     TEXT NOT NULL,
			finished    TEXT,
			config_file TEXT NOT NULL DEFAULT '',
			plan_spec   TEXT NOT NULL,
			space       TEXT NOT NULL,
			version     TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE TABLE devices (
			name     TEXT PRIMARY KEY,
			kind     TEXT NOT NULL,
			settings TEXT NOT NULL,
			info     TEXT NOT NULL,
			updated  TEXT NOT NULL
		)`,
		`CREATE TABLE archs (
			id         INTEGER PRIMARY KEY,
			canonical  TEXT NOT NULL UNIQUE,
			space      TEXT NOT NULL,
			resolution INTEGER NOT NULL,
			ofa        TEXT NOT NULL,
			macs       INTEGER NOT NULL,
			params     INTEGER NOT NULL
		)`,
		`CREATE INDEX archs_space ON archs(space)`,
		`CREATE TABLE plan_items (
			run  INTEGER NOT NULL REFERENCES runs(id),
			idx  INTEGER NOT NULL,
			arch INTEGER NOT NULL REFERENCES archs(id),
			fix  TEXT,
			kind TEXT NOT NULL CHECK (kind IN ('uniform', 'fixed')),
			PRIMARY KEY (run, idx)
		)`,
		`CREATE INDEX plan_items_arch ON plan_items(arch)`,
		`CREATE TABLE measurements (
			id         INTEGER PRIMARY KEY,
			device     TEXT NOT NULL REFERENCES devices(name),
			arch       INTEGER NOT NULL REFERENCES archs(id),
			run        INTEGER REFERENCES runs(id),
			kind       TEXT NOT NULL CHECK (kind IN ('plan', 'reference')),
			samples_ms TEXT NOT NULL,
			n          INTEGER NOT NULL,
			median_ms  REAL NOT NULL,
			spread     REAL NOT NULL,
			warmup     INTEGER NOT NULL,
			mode       TEXT NOT NULL DEFAULT '',
			provenance TEXT NOT NULL,
			summary    INTEGER NOT NULL DEFAULT 0,
			started    TEXT NOT NULL,
			finished   TEXT NOT NULL,
			error      TEXT
		)`,
		// One successful plan measurement per (device, arch, run): a resumed
		// run never duplicates one, a deliberate re-measure starts a new run.
		`CREATE UNIQUE INDEX measurements_once ON measurements(device, arch, run)
			WHERE kind = 'plan' AND error IS NULL`,
		`CREATE INDEX measurements_device ON measurements(device, kind, arch)`,
		`CREATE TABLE accuracy (
			arch       INTEGER NOT NULL REFERENCES archs(id),
			source     TEXT NOT NULL,
			top1       REAL NOT NULL,
			provenance TEXT NOT NULL,
			PRIMARY KEY (arch, source)
		)`,
		`INSERT INTO meta(key, value) VALUES ('app', 'blockprof')`,
	}},
	{to: 2, name: "probe samples beside each measurement", stmts: []string{
		// The probe network's runs timed in the measurement's window
		// (devices.Protocol.ProbeEvery): a JSON array, '' without a probe.
		// probe_every says where they ran; relative is
		// devices.ProbeRatio of the samples and probe_ms (0: no probe).
		`ALTER TABLE measurements ADD COLUMN probe_ms TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE measurements ADD COLUMN probe_every INTEGER NOT NULL DEFAULT 0`,
		`ALTER TABLE measurements ADD COLUMN probe_median_ms REAL NOT NULL DEFAULT 0`,
		`ALTER TABLE measurements ADD COLUMN relative REAL NOT NULL DEFAULT 0`,
	}},
	{to: 3, name: "device fingerprints and saved cuts", stmts: []string{
		// The devices.Fingerprint a measurement was taken under: only records
		// with the device's current fingerprint count as done. Legacy rows
		// are filled by fillFingerprints.
		`ALTER TABLE measurements ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''`,
		// The device's fingerprint when last recorded (PutDevice).
		`ALTER TABLE devices ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''`,
		// The explorer's current cuts of a space (its reduced space), kept
		// across sessions; reduction is the front end's text encoding.
		`CREATE TABLE cuts (
			space     TEXT PRIMARY KEY,
			reduction TEXT NOT NULL,
			updated   TEXT NOT NULL
		)`,
	}, fn: fillFingerprints},
}

// legacyFingerprint marks a record taken before fingerprints whose
// provenance is not the one its device's stored kind produces (e.g.
// simulated records under a device since configured as ort): no device's
// fingerprint is ever equal to it, so the record no longer counts.
func legacyFingerprint(prov string) string {
	return legacyPrefix + "recorded as " + prov + " before fingerprints"
}

const legacyPrefix = "legacy: "

// fillFingerprints gives the measurements of a version-2 store the
// fingerprint of their device's stored settings and info where their
// provenance is the one that device's kind produces, and a legacy
// fingerprint (legacyFingerprint) otherwise, and records each device's
// fingerprint. A device whose stored settings or info do not decode gets
// legacy fingerprints for all its records: they are measured again rather
// than trusted.
func fillFingerprints(ctx context.Context, tx *sql.Tx) error {
	type dev struct{ name, kind, settings, info string }
	rows, err := tx.QueryContext(ctx, `SELECT name, kind, settings, info FROM devices ORDER BY name`)
	if err != nil {
		return err
	}
	var devs []dev
	for rows.Next() {
		var d dev
		if err := rows.Scan(&d.name, &d.kind, &d.settings, &d.info); err != nil {
			rows.Close()
			return err
		}
		devs = append(devs, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range devs {
		var cfg devices.Config
		var info devices.Info
		fp, want := "", devices.Provenance("")
		if json.Unmarshal([]byte(d.settings), &cfg) == nil && json.Unmarshal([]byte(d.info), &info) == nil {
			if cfg.Kind == "" {
				cfg.Kind = d.kind
			}
			fp = devices.Fingerprint(cfg, info)
			if fp != "" {
				want, _ = devices.ProvenanceOfKind(cfg.Kind)
			}
		}
		// want is "" for an unknown kind or undecodable settings: no
		// provenance matches it, every record gets a legacy fingerprint.
		provs, err := distinctProvenances(ctx, tx, d.name)
		if err != nil {
			return fmt.Errorf("provenances of device %s's measurements: %w", d.name, err)
		}
		for _, p := range provs {
			mfp := legacyFingerprint(p)
			if want != "" && p == string(want) {
				mfp = fp
			}
			if _, err := tx.ExecContext(ctx, `UPDATE measurements SET fingerprint = ? WHERE device = ? AND provenance = ?`, mfp, d.name, p); err != nil {
				return fmt.Errorf("fingerprints of device %s's measurements: %w", d.name, err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE devices SET fingerprint = ? WHERE name = ?`, fp, d.name); err != nil {
			return fmt.Errorf("fingerprint of device %s: %w", d.name, err)
		}
	}
	return nil
}

// distinctProvenances lists the provenances of device's measurements.
func distinctProvenances(ctx context.Context, tx *sql.Tx, device string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT provenance FROM measurements WHERE device = ? ORDER BY provenance`, device)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
