package session

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"blockprof/model"
)

// ErrExists is wrapped by Export's error when the file exists and
// overwrite was not asked.
var ErrExists = errors.New("the file exists")

// Written says what Export wrote.
type Written struct {
	Path  string
	Bytes []byte
}

// Export checks the reduction against the space and writes its TOML to
// path atomically (a temporary file renamed over the target), stamping the
// time and blockprof's version. It writes where the local user says; a
// served session writes through its own jailed writer instead.
func (s *Session) Export(path string, r model.Reduction, overwrite bool) (Written, error) {
	if _, err := r.ApplyTo(s.sp); err != nil {
		return Written{}, err
	}
	if r.Created == "" {
		r.Created = s.now().UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	if r.Version == "" {
		r.Version = s.opts.Version
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Written{}, err
	}
	if st, err := os.Stat(abs); err == nil {
		if st.IsDir() {
			return Written{}, fmt.Errorf("%s is a directory: give a file name", abs)
		}
		if !overwrite {
			return Written{}, fmt.Errorf("%s: %w", abs, ErrExists)
		}
	}
	data := r.Marshal()
	tmp, err := os.CreateTemp(filepath.Dir(abs), ".blockprof-export-*")
	if err != nil {
		return Written{}, fmt.Errorf("writing %s: %w", abs, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return Written{}, fmt.Errorf("writing %s: %w", abs, err)
	}
	if err := tmp.Close(); err != nil {
		return Written{}, fmt.Errorf("writing %s: %w", abs, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return Written{}, err
	}
	if err := os.Rename(tmp.Name(), abs); err != nil {
		return Written{}, fmt.Errorf("writing %s: %w", abs, err)
	}
	return Written{Path: abs, Bytes: data}, nil
}
