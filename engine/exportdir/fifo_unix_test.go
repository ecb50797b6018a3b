//go:build unix

package exportdir

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A named pipe in the directory is never opened for writing (it would
// block the session, or feed whoever reads it).
func TestWriteRefusesFIFO(t *testing.T) {
	for _, overwrite := range []bool{false, true} {
		f := newFixture(t)
		if err := syscall.Mkfifo(filepath.Join(f.root, "p.toml"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Write(f.root, "p.toml", []byte("x"), overwrite)
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("overwrite %v: %v, want not a regular file", overwrite, err)
		}
		f.checkVictim(t)
	}
}
