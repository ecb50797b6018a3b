package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"blockprof/model/onnx"
)

// workDir is an ort device's directory for model files, made in $TMPDIR on
// first use and removed by Close: the weight file every fp32 model the
// device loads refers to (onnx.Weights) and each model's own file, a few
// hundred KB of graph, while ONNX Runtime loads it.
//
// ONNX Runtime reads the model from its file and maps the weights from
// theirs, so neither is ever in this process's memory beside the session
// ONNX Runtime builds; the weight file grows to what the space's largest
// tensors need and is then reused by every arch (docs/benchmarks.md,
// issue 14). A directory left by a process that ended without Close (a
// crash) is removed by the next device that starts.
type workDir struct {
	path    string
	file    *os.File // the weight file
	weights *onnx.Weights
}

// workDirPrefix starts the names of work directories; the process ID
// follows, so that a later process can tell a dead one's directory.
const workDirPrefix = "blockprof-ort-"

// weightFileName is the weight file's name in the directory, as models
// refer to it.
const weightFileName = "weights.bin"

// newWorkDir makes a work directory in parent for weights drawn with seed,
// after removing those of processes that are gone.
func newWorkDir(parent string, seed uint64) (*workDir, error) {
	removeStaleWorkDirs(parent)
	path, err := os.MkdirTemp(parent, workDirPrefix+strconv.Itoa(os.Getpid())+"-")
	if err != nil {
		return nil, fmt.Errorf("a directory for the exported models: %w (set TMPDIR to a writable directory with room for them)", err)
	}
	f, err := os.OpenFile(filepath.Join(path, weightFileName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.RemoveAll(path)
		return nil, fmt.Errorf("the weight file for the exported models: %w (set TMPDIR to a writable directory with room for it)", err)
	}
	return &workDir{path: path, file: f, weights: onnx.NewWeights(f, weightFileName, seed)}, nil
}

// modelFile creates an empty file for one model; done closes and removes
// it.
func (w *workDir) modelFile() (f *os.File, done func(), err error) {
	f, err = os.CreateTemp(w.path, "model-*.onnx")
	if err != nil {
		return nil, nil, fmt.Errorf("a file for the exported model: %w (set TMPDIR to a writable directory with room for it)", err)
	}
	return f, func() {
		f.Close()
		os.Remove(f.Name())
	}, nil
}

// Close removes the directory and what is in it. Sessions still open keep
// the weights they mapped (the pages stay until they are closed).
func (w *workDir) Close() error {
	return errors.Join(w.file.Close(), os.RemoveAll(w.path))
}

// removeStaleWorkDirs removes the work directories in parent whose process
// has ended: real directories (not links) owned by this user, named as
// newWorkDir names them. Errors are ignored: a directory it cannot remove
// is only disk space.
func removeStaleWorkDirs(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		pid, ok := workDirPID(e.Name())
		if !ok || !e.IsDir() || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		info, err := e.Info()
		if err != nil || !ownedByMe(info) {
			continue
		}
		os.RemoveAll(filepath.Join(parent, e.Name()))
	}
}

// workDirPID is the process ID in a work directory's name
// ("blockprof-ort-PID-…"); ok is false for any other name.
func workDirPID(name string) (pid int, ok bool) {
	rest, ok := strings.CutPrefix(name, workDirPrefix)
	if !ok {
		return 0, false
	}
	pidText, _, ok := strings.Cut(rest, "-")
	if !ok || pidText == "" || pidText[0] == '0' || strings.TrimLeft(pidText, "0123456789") != "" {
		return 0, false
	}
	pid, err := strconv.Atoi(pidText)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}
