package ort

import (
	"errors"
	"fmt"
	"os"
)

// modelFile holds one exported model while ONNX Runtime loads it from
// path. Where the system can make a file without a name (Linux O_TMPFILE,
// path /proc/self/fd/N) nothing is left behind, not even after a crash:
// the file goes with its last descriptor. Elsewhere it is a named temporary
// file that Close removes.
//
// Going through a file rather than a buffer keeps the serialised model
// (13–190 MB) out of this process's memory while ONNX Runtime builds the
// session, the moment of its peak: ONNX Runtime parses the file as a
// stream. The model's pages are the kernel's page cache meanwhile, and are
// dropped unwritten when the file goes.
type modelFile struct {
	file *os.File
	path string // what ONNX Runtime opens
	dir  string
	// named is set for a named temporary file, removed by Close.
	named bool
}

// newModelFile makes a model file in dir.
func newModelFile(dir string) (*modelFile, error) {
	if f, path, ok := unnamedFile(dir); ok {
		return &modelFile{file: f, path: path, dir: dir}, nil
	}
	return namedModelFile(dir)
}

// namedModelFile makes a named temporary model file in dir.
func namedModelFile(dir string) (*modelFile, error) {
	f, err := os.CreateTemp(dir, "blockprof-model-*.onnx")
	if err != nil {
		return nil, fmt.Errorf("a file for the exported model: %w (set TMPDIR to a writable directory)", err)
	}
	return &modelFile{file: f, path: f.Name(), dir: dir, named: true}, nil
}

// Close closes the file (which removes an unnamed one) and removes a named
// one.
func (m *modelFile) Close() error {
	err := m.file.Close()
	if m.named {
		if rerr := os.Remove(m.path); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}
