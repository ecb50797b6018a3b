package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"blockprof/model"
)

// MaxArchs bounds the archs of one --in file.
const MaxArchs = 10_000

// ReadArchs reads JSON lines with an "arch" field (a canonical string or an
// OFA object) of space sp, as `blockprof count` and `sample` write them;
// blank lines are skipped. Errors name the file (name) and line.
func ReadArchs(r io.Reader, name string, sp *model.Space) ([]model.Arch, error) {
	var out []model.Arch
	err := model.ScanArchLines(r, name, sp, func(line int, a model.Arch) error {
		if len(out) == MaxArchs {
			return fmt.Errorf("%s:%d: more than %d archs; split the file", name, line, MaxArchs)
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no archs (want JSON lines like {\"arch\": \"…\"})", name)
	}
	return out, nil
}

// WriteFile writes data to path through a temporary file in the same
// directory renamed into place, so that path holds either its old content
// or all of data, never a part; the temporary file is removed on error.
func WriteFile(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Written is one model file written by Files.
type Written struct {
	File  string `json:"file"`
	Arch  string `json:"arch"`
	Bytes int    `json:"bytes"`
}

// FileName is the name of the i-th (0-based) arch's file in an output
// directory: its line order, space and resolution, e.g.
// "0001-ofa-mbv3-r224.onnx".
func FileName(i int, sp *model.Space, a model.Arch, format string) string {
	return fmt.Sprintf("%04d-%s-r%d%s", i+1, sp.Name, a.Resolution, Ext(format))
}

// Files writes the model file of every arch: to out itself for one arch
// when dir is false, else into the directory out (created if missing), one
// file each (FileName). It checks the request first, stops between and
// during archs when ctx ends, and never leaves a partial file; files
// finished before an error stay, whole, and are returned with it.
func (w *Writers) Files(ctx context.Context, sp *model.Space, archs []model.Arch, req Request, out string, dir bool) ([]Written, error) {
	if _, err := w.Check(req); err != nil {
		return nil, err
	}
	if !dir && len(archs) != 1 {
		return nil, fmt.Errorf("%d archs for one output file: write them into a directory", len(archs))
	}
	if dir {
		if err := os.MkdirAll(out, 0o755); err != nil {
			return nil, fmt.Errorf("output directory: %w", err)
		}
	}
	var done []Written
	for i, a := range archs {
		if err := ctx.Err(); err != nil {
			return done, err
		}
		if err := sp.Check(a); err != nil {
			return done, fmt.Errorf("arch %d (%s): %w", i+1, a, err)
		}
		net, err := sp.Network(a)
		if err != nil {
			return done, fmt.Errorf("arch %d (%s): %w", i+1, a, err)
		}
		data, err := w.Write(ctx, net, req)
		if err != nil {
			if ctx.Err() != nil {
				return done, errors.Join(ctx.Err(), err)
			}
			return done, fmt.Errorf("arch %d (%s): %w", i+1, a, err)
		}
		path := out
		if dir {
			path = filepath.Join(out, FileName(i, sp, a, req.Format))
		}
		if err := WriteFile(path, data); err != nil {
			return done, fmt.Errorf("write %s: %w", path, err)
		}
		done = append(done, Written{File: path, Arch: a.String(), Bytes: len(data)})
	}
	return done, nil
}
