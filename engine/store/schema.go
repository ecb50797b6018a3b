package store

// SchemaVersion is the schema this blockprof writes. A store whose
// meta.schema_version is higher was written by a newer blockprof and is
// refused; a lower one is migrated forward, one explicit step at a time.
const SchemaVersion = 2

// migration moves a store from version to-1 to version to. Each runs in
// one transaction together with the update of meta.schema_version, so a
// crash leaves the store at the old or the new version, never between.
type migration struct {
	to    int
	name  string
	stmts []string
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
}
