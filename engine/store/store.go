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
//
// One profiler per store: a profiling run Claims the store, an advisory
// lock on PATH.lock that names its process, and a second profiler (another
// process, or another handle) is refused with that name. Readers need no
// claim.
//
// A damaged store (SQLite's quick_check finds problems, e.g. pages zeroed
// by a failing disk) is refused by Open, for reading as for writing: what
// is readable of it may be silently incomplete, and a write could spread
// the damage. The error says so and how to salvage the readable rows.
package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"blockprof/devices/lockfile"
	"modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
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

	cmu   sync.Mutex
	claim *lockfile.Lock // held by Claim until Close
}

// ErrNewerSchema is wrapped by Open's error for a store written by a newer
// blockprof.
var ErrNewerSchema = errors.New("store written by a newer blockprof")

// ErrDamaged is wrapped by Open's error for a store whose file is damaged.
var ErrDamaged = errors.New("damaged")

// ErrNotStore is wrapped by Open's error for a file that is not a
// blockprof store (another SQLite database, or not SQLite at all).
var ErrNotStore = errors.New("not a blockprof store")

// ErrInUse is wrapped by Claim's error when another profiler holds the
// store.
var ErrInUse = errors.New("another profiler is using this store")

// Open opens or creates the store at path and migrates an older schema.
// It refuses a store written by a newer schema, a damaged store
// (ErrDamaged) and a file that is not a blockprof store (ErrNotStore).
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: empty path (pass --store FILE, e.g. blockprof.db)")
	}
	if path == ":memory:" || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("store %q: want a plain file path (an in-memory store is not shared between connections; '?' and '#' are not allowed)", path)
	}
	if err := checkHeader(path); err != nil {
		return nil, err
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
	if err := s.quickCheck(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the file the store was opened from.
func (s *Store) Path() string { return s.path }

// Close checkpoints and closes the store, and ends a Claim.
func (s *Store) Close() error {
	_, _ = s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	err := s.db.Close()
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.claim != nil {
		err = errors.Join(err, s.claim.Unlock())
		s.claim = nil
	}
	return err
}

// LockPath is the lock file of the store at path that Claim takes.
func LockPath(path string) string { return path + ".lock" }

// Claim makes this handle the store's only profiler until Close. Another
// process's claim (or another handle's in this process) makes it fail
// with an error wrapping ErrInUse that names the holder: its pid, command,
// host and since when. The claim is an advisory lock (devices/lockfile)
// that dies with its process, so a profiler killed with SIGKILL leaves no
// claim behind. Claiming again through the same handle does nothing.
func (s *Store) Claim() error {
	s.cmu.Lock()
	defer s.cmu.Unlock()
	if s.claim != nil {
		return nil
	}
	l, err := lockfile.TryLock(LockPath(s.path), lockfile.Self())
	var held *lockfile.HeldError
	if errors.As(err, &held) {
		who := "another process (its lock file " + held.Path + " does not say which)"
		if held.Known {
			who = held.Owner.Describe(held.At)
		}
		return fmt.Errorf("store %s: %w: %s; wait for it to end or stop it, or pass another --store (reading the store, e.g. blockprof analyze, works meanwhile)",
			s.path, ErrInUse, who)
	}
	if err != nil {
		return fmt.Errorf("store %s: %w (the profiler's lock file sits beside the store: its folder must be writable)", s.path, err)
	}
	s.claim = l
	return nil
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// checkHeader tells a damaged SQLite file and a file that is not SQLite
// apart before SQLite sees them (it calls both "not a database"). A
// missing or empty file is a new store.
func checkHeader(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store %s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, 100)
	n, err := io.ReadFull(f, head)
	if n == 0 {
		return nil
	}
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("store %s: %w", path, err)
	}
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte(sqliteMagic)):
		return nil
	case n >= len(sqliteMagic) && bytes.Count(head[:len(sqliteMagic)], []byte{0}) == len(sqliteMagic):
		return damagedError(path, []string{"its first page is zeroed (the SQLite header is gone)"})
	}
	return fmt.Errorf("store %s: %w: it is not a SQLite database (pass another --store)", path, ErrNotStore)
}

// maxProblems is how many of quick_check's findings an error shows.
const maxProblems = 3

// quickCheck runs SQLite's quick_check: the structure of every page and
// index, without comparing indexes with their tables (O(N): 0.3 s for a
// 160 MB store of 100,000 measurements on this project's VM).
func (s *Store) quickCheck(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, `PRAGMA quick_check(`+strconv.Itoa(maxProblems+1)+`)`)
	if err != nil {
		return s.checkFailed(ctx, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return s.checkFailed(ctx, err)
		}
		// A row may hold several lines under a "*** in database main ***"
		// heading.
		for _, line := range strings.Split(p, "\n") {
			if line = strings.TrimSpace(line); line != "" && line != "ok" && !strings.HasPrefix(line, "*** in database") {
				problems = append(problems, line)
			}
		}
	}
	if err := rows.Err(); err != nil {
		if len(problems) == 0 {
			return s.checkFailed(ctx, err)
		}
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return damagedError(s.path, problems)
	}
	return nil
}

// checkFailed turns an error of the check itself into the store's error:
// SQLite's SQLITE_CORRUPT and SQLITE_NOTADB mean damage, anything else (a
// busy or unreadable file, an ended context) is reported as it is.
func (s *Store) checkFailed(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("store %s: checking the file: %w", s.path, ctx.Err())
	}
	var serr *sqlite.Error
	if errors.As(err, &serr) {
		switch serr.Code() & 0xff { // the primary result code
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return damagedError(s.path, []string{err.Error()})
		}
	}
	return fmt.Errorf("store %s: checking the file: %w", s.path, err)
}

func damagedError(path string, problems []string) error {
	more := ""
	if len(problems) > maxProblems {
		problems, more = problems[:maxProblems], "; …"
	}
	return fmt.Errorf("store %s is %w: %s%s; restore it from a backup or pass another --store (sqlite3 %s .recover | sqlite3 NEW.db salvages the readable rows into NEW.db)",
		path, ErrDamaged, strings.Join(problems, "; "), more, path)
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
		return 0, fmt.Errorf("%w: it has tables %s but no meta table (pass another --store)", ErrNotStore, strings.Join(tables, ", "))
	}
	var app, v string
	err = q.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'app'`).Scan(&app)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("reading its meta table: %w", err)
	}
	if app != "blockprof" {
		return 0, fmt.Errorf("%w: its meta table does not say app=blockprof (pass another --store)", ErrNotStore)
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
