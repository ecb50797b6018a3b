package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// filledStore writes a store with enough measurements to span many pages,
// closes it (the write-ahead log checkpointed into the file) and returns
// its path and page size.
func filledStore(t *testing.T) (string, int) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "good.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	testDevice(t, s, "d")
	run, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	samples := make([]float64, 100)
	for i := range samples {
		samples[i] = 1 + float64(i)/100
	}
	var batch []Measurement
	for i := range 300 {
		batch = append(batch, meas("d", testArch(i), run, KindPlan, samples...))
	}
	if err := s.PutBatch(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pageSize := int(binary.BigEndian.Uint16(data[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if len(data)/pageSize < 20 {
		t.Fatalf("the test store has %d pages, want at least 20", len(data)/pageSize)
	}
	return path, pageSize
}

// TestDamagedStoreRefused: zeroed pages, a truncated file and a zeroed
// header make Open fail with ErrDamaged (not "not a blockprof store"),
// naming the store and the way out, and leave the file as it was.
func TestDamagedStoreRefused(t *testing.T) {
	good, pageSize := filledStore(t)
	orig, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	pages := len(orig) / pageSize
	zero := func(pageNos ...int) func([]byte) []byte {
		return func(b []byte) []byte {
			for _, p := range pageNos {
				clear(b[(p-1)*pageSize : p*pageSize])
			}
			return b
		}
	}
	for _, tc := range []struct {
		name   string
		damage func([]byte) []byte
		says   string
	}{
		{"first page zeroed", zero(1), "first page is zeroed"},
		{"second page zeroed", zero(2), "page 2: "},
		{"a middle page zeroed", zero(pages / 2), "page " + strconv.Itoa(pages/2) + ": "},
		{"three pages zeroed", zero(pages/3, pages/3+1, pages-1), "page " + strconv.Itoa(pages/3) + ": "},
		{"last page zeroed", zero(pages), "page " + strconv.Itoa(pages) + ": "},
		{"truncated to half", func(b []byte) []byte { return b[:pages/2*pageSize] }, "damaged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "damaged.db")
			bad := tc.damage(bytes.Clone(orig))
			if err := os.WriteFile(path, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := Open(context.Background(), path)
			if err == nil {
				s.Close()
				t.Fatal("a damaged store opened")
			}
			if !errors.Is(err, ErrDamaged) || errors.Is(err, ErrNotStore) {
				t.Errorf("error %v, want ErrDamaged", err)
			}
			for _, want := range []string{"store " + path + " is damaged", tc.says, "restore it from a backup", "--store", ".recover"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not say %q", err, want)
				}
			}
			if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, bad) {
				t.Errorf("Open changed the damaged file (%v)", err)
			}
		})
	}
	// The undamaged original still opens.
	s, err := Open(context.Background(), good)
	if err != nil {
		t.Fatalf("the undamaged store: %v", err)
	}
	s.Close()
}

// TestNotAStore: files that are not blockprof stores say so, apart from
// damage; an empty file is a new store.
func TestNotAStore(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign.db")
	db, err := sql.Open("sqlite", foreign)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE notes(x); CREATE TABLE meta(key, value); INSERT INTO meta VALUES ('app', 'other')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, tc := range []struct {
		name    string
		content []byte // nil: foreign
		err     error
		says    string
	}{
		{"text file", []byte("device,arch,ms\ncpu,x,1.0\n"), ErrNotStore, "not a SQLite database"},
		{"short file", []byte("SQL"), ErrNotStore, "not a SQLite database"},
		{"another SQLite database", nil, ErrNotStore, "does not say app=blockprof"},
		{"empty file", []byte{}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := foreign
			if tc.content != nil {
				path = filepath.Join(t.TempDir(), "x.db")
				if err := os.WriteFile(path, tc.content, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			s, err := Open(context.Background(), path)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("%v", err)
				}
				s.Close()
				return
			}
			if err == nil {
				s.Close()
				t.Fatal("opened")
			}
			if !errors.Is(err, tc.err) || errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v, want %v saying %q", err, tc.err, tc.says)
			}
		})
	}
}

// TestClaimIsExclusive: one handle claims the store; another handle (as
// another process would) is refused with this process's pid, can still
// read, and claims it once the first is closed.
func TestClaimIsExclusive(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "run.db")
	first, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Claim(); err != nil {
		t.Fatal(err)
	}
	if err := first.Claim(); err != nil {
		t.Fatalf("claiming twice through one handle: %v", err)
	}
	second, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("opening a claimed store to read: %v", err)
	}
	defer second.Close()
	err = second.Claim()
	if !errors.Is(err, ErrInUse) {
		t.Fatalf("second claim: %v, want ErrInUse", err)
	}
	for _, want := range []string{path, "pid " + strconv.Itoa(os.Getpid()), "host", "since", "another --store"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if _, err := second.SchemaVersion(ctx); err != nil {
		t.Errorf("reading while another handle profiles: %v", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(LockPath(path)); !os.IsNotExist(err) {
		t.Errorf("lock file left after Close: %v", err)
	}
	if err := second.Claim(); err != nil {
		t.Errorf("claim after the first profiler closed: %v", err)
	}
}
