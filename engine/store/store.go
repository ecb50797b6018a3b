// Package store keeps every measurement of blockprof in one SQLite file
// (modernc.org/sqlite, pure Go): runs and their plans, devices with their
// full settings, architectures, measurements with all their samples, and
// accuracies. Every measurement is committed in its own transaction when
// it is taken, so a crash, Ctrl-C or kill -9 loses at most the one in
// flight, and a re-run of the same plan skips what is already measured
// (Done, Measured).
//
// Durability: the store runs in WAL mode with synchronous=FULL, so each
// commit is fsynced to the write-ahead log before Put returns. A
// measurement costs seconds of device time and an fsync milliseconds, so
// the store takes the setting that also survives a power cut or an OS
// crash (NORMAL in WAL mode only survives a process crash). Bulk imports
// go through PutBatch, which commits many rows with one fsync.
//
// A Store is safe for concurrent use: writes are serialised inside the
// process (one writer at a time, as SQLite wants) and across processes by
// SQLite's locks with a busy timeout; reads run in parallel.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// BusyTimeout is how long a write waits for another process holding the
// store's write lock before failing.
const BusyTimeout = 30 * time.Second

// Store is an open results store.
type Store struct {
	db   *sql.DB
	path string
	// wmu serialises this process's write transactions: SQLite has one
	// writer at a time, and waiting here is cheaper than its busy loop.
	wmu sync.Mutex
}

// ErrNewerSchema is wrapped by Open's error for a store written by a newer
// blockprof.
var ErrNewerSchema = errors.New("store written by a newer blockprof")

// Open opens or creates the store at path and migrates an older schema.
// It refuses a store written by a newer schema and a SQLite file that is
// not a blockprof store.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: empty path (pass --store FILE, e.g. blockprof.db)")
	}
	if path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store %q: want a plain file path (an in-memory store is not shared between connections; '?' and '#' are not allowed)", path)
	}
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.Itoa(int(BusyTimeout/time.Millisecond))+")")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	// BEGIN IMMEDIATE: a write transaction takes the write lock up front,
	// so two processes never deadlock upgrading read locks.
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	// Writers are serialised by wmu; a few connections let readers stream
	// while a worker commits.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	s := &Store{db: db, path: path}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close checkpoints and closes the store.
func (s *Store) Close() error {
	_, _ = s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return s.db.Close()
}

// SchemaVersion reads the store's schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	return readVersion(ctx, s.db)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// readVersion returns 0 for an empty database, the meta table's version
// otherwise, and an error for a database that is not a blockprof store.
func readVersion(ctx context.Context, q queryer) (int, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		return 0, err
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return 0, err
		}
		tables = append(tables, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(tables) == 0 {
		return 0, nil
	}
	hasMeta := false
	for _, t := range tables {
		hasMeta = hasMeta || t == "meta"
	}
	if !hasMeta {
		return 0, fmt.Errorf("not a blockprof store: it has tables %s but no meta table (pass another --store)", strings.Join(tables, ", "))
	}
	var app, v string
	if err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'app'`).Scan(&app); err != nil || app != "blockprof" {
		return 0, errors.New("not a blockprof store: its meta table does not say app=blockprof (pass another --store)")
	}
	if err := q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v); err != nil {
		return 0, fmt.Errorf("blockprof store without a schema_version in its meta table: %w", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("blockprof store with a bad schema_version %q", v)
	}
	return n, nil
}

func newerError(path string, have int) error {
	return fmt.Errorf("store %s: %w: its schema version is %d, this blockprof reads versions up to %d; update blockprof, or pass another --store",
		path, ErrNewerSchema, have, SchemaVersion)
}

// migrate brings the store to SchemaVersion, one step per transaction.
func (s *Store) migrate(ctx context.Context) error {
	v, err := readVersion(ctx, s.db)
	if err != nil {
		return fmt.Errorf("store %s: %w", s.path, err)
	}
	if v > SchemaVersion {
		return newerError(s.path, v)
	}
	if v == SchemaVersion {
		return nil
	}
	for _, m := range migrations {
		if m.to <= v {
			continue
		}
		if err := s.step(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) step(ctx context.Context, m migration) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		// Re-read inside the write lock: another process may have migrated.
		v, err := readVersion(ctx, tx)
		if err != nil {
			return err
		}
		if v > SchemaVersion {
			return newerError(s.path, v)
		}
		if v >= m.to {
			return nil
		}
		if v != m.to-1 {
			return fmt.Errorf("store %s: schema version %d cannot take migration %d (%s)", s.path, v, m.to, m.name)
		}
		for _, st := range m.stmts {
			if _, err := tx.ExecContext(ctx, st); err != nil {
				return fmt.Errorf("store %s: migration to version %d (%s): %w", s.path, m.to, m.name, err)
			}
		}
		if m.fn != nil {
			if err := m.fn(ctx, tx); err != nil {
				return fmt.Errorf("store %s: migration to version %d (%s): %w", s.path, m.to, m.name, err)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO meta(key, value) VALUES ('schema_version', ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value`, strconv.Itoa(m.to))
		return err
	})
}

// write runs fn in one write transaction, committed if fn returns nil.
func (s *Store) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store %s: begin: %w", s.path, err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store %s: commit: %w", s.path, err)
	}
	return nil
}

// Times are stored as RFC 3339 text in UTC with nanoseconds.
const timeLayout = time.RFC3339Nano

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) time.Time {
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}
	}
	return t
}
