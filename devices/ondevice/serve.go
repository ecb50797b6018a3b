package ondevice

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"blockprof/model"
	"blockprof/model/export"
	"blockprof/model/writers"
)

// Formats lists the formats Write supports: model/export's writers, the
// same the host uses, so a model built here is byte for byte the one the
// host would copy.
func Formats() []string { return writers.New().Formats() }

// Write serialises net in the requested format and precision with
// model/export's writers (an unknown format or a precision the format
// cannot hold is an error naming what is supported).
func Write(ctx context.Context, net *model.Network, format, precision string, seed uint64, batch int) ([]byte, error) {
	if format == "" {
		format = "onnx"
	}
	return writers.New().Write(ctx, net, export.Request{Format: format, Precision: precision, Seed: seed, Batch: batch})
}

// BuildID is the SHA-256 of the file at path (the helper's executable).
func BuildID(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// SelfHello is the Hello of the running executable.
func SelfHello() (Hello, error) {
	exe, err := os.Executable()
	if err != nil {
		return Hello{}, fmt.Errorf("helper: own executable: %w", err)
	}
	id, err := BuildID(exe)
	if err != nil {
		return Hello{}, fmt.Errorf("helper: hashing own executable: %w", err)
	}
	return Hello{Helper: "blockprof", Protocol: Protocol, Build: id, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Formats: Formats()}, nil
}

// Serve writes hello, then answers the requests read from in, one line
// each, writing model files into dir, until in ends (nil), ctx ends or a
// line cannot be read (an error, also sent as a last Reply).
func Serve(ctx context.Context, in io.Reader, out io.Writer, dir string, hello Hello) error {
	if err := checkDir(dir); err != nil {
		return err
	}
	w := bufio.NewWriter(out)
	send := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		w.Write(b)
		w.WriteByte('\n')
		return w.Flush()
	}
	if err := send(hello); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), MaxLine)
	s := &server{dir: dir, spaces: map[string]*model.Space{}}
	for sc.Scan() {
		if err := ctx.Err(); err != nil {
			return err
		}
		req, err := ParseRequest(sc.Bytes())
		if err != nil {
			send(Reply{Error: err.Error()})
			return err
		}
		if err := send(s.handle(ctx, req)); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		err = fmt.Errorf("helper: reading requests: %w", err)
		send(Reply{Error: err.Error()})
		return err
	}
	return nil
}

type server struct {
	dir    string
	spaces map[string]*model.Space
}

func (s *server) handle(ctx context.Context, req Request) Reply {
	fail := func(err error) Reply { return Reply{Error: fmt.Sprintf("%s: %v", clip(req.Arch), err)} }
	if req.Define != nil {
		if err := req.Define.Validate(); err != nil {
			return fail(fmt.Errorf("space %s: %w", req.Space, err))
		}
		s.spaces[req.Space] = req.Define
	}
	sp, ok := s.spaces[req.Space]
	if !ok {
		return fail(fmt.Errorf("space %q was never defined on this helper (send define with its first request)", req.Space))
	}
	a, err := sp.ParseArch(req.Arch)
	if err != nil {
		return fail(err)
	}
	net, err := sp.Network(a)
	if err != nil {
		return fail(err)
	}
	data, err := Write(ctx, net, req.Format, req.Precision, req.Seed, req.Batch)
	if err != nil {
		return fail(err)
	}
	path := filepath.Join(s.dir, req.Out)
	if err := writeFile(path, data); err != nil {
		return fail(err)
	}
	sum := sha256.Sum256(data)
	return Reply{Path: path, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// writeFile writes data to path through a temporary file renamed over it,
// so a tool never reads a half-written model.
func writeFile(path string, data []byte) error {
	tmp := path + ".part"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func checkDir(dir string) error {
	if dir == "" {
		return errors.New("helper: no --dir (the run directory to write models into)")
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("helper: --dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("helper: --dir %s is not a directory", dir)
	}
	return nil
}
