package session

import (
	"blockprof/engine/exportdir"
	"blockprof/model"
)

// Written says what Export wrote.
type Written struct {
	Path  string
	Bytes []byte
}

// EncodeReduction checks the reduction against the space and returns its
// TOML, stamped with the time and blockprof's version.
func (s *Session) EncodeReduction(r model.Reduction) ([]byte, error) {
	if _, err := r.ApplyTo(s.sp); err != nil {
		return nil, err
	}
	if r.Created == "" {
		r.Created = s.now().UTC().Format("2006-01-02T15:04:05Z07:00")
	}
	if r.Version == "" {
		r.Version = s.opts.Version
	}
	return r.Marshal(), nil
}

// Export writes the reduction's TOML where the local user says,
// atomically (exportdir.WriteLocal; an existing file only with overwrite,
// else an error wrapping exportdir.ErrExists). A served session writes
// through its own jailed directory instead (exportdir.Write).
func (s *Session) Export(path string, r model.Reduction, overwrite bool) (Written, error) {
	data, err := s.EncodeReduction(r)
	if err != nil {
		return Written{}, err
	}
	abs, err := exportdir.WriteLocal(path, data, overwrite)
	if err != nil {
		return Written{}, err
	}
	return Written{Path: abs, Bytes: data}, nil
}
