package transport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// Local runs processes on this machine, argv executed directly (no shell).
type Local struct {
	base
}

// NewLocal returns the local transport.
func NewLocal() *Local {
	return &Local{base: newBase(launcher{
		target: "local",
		wrap:   func(argv []string, _ bool) []string { return slices.Clone(argv) },
	})}
}

// Local reports true.
func (*Local) Local() bool { return true }

// Dir implements Transport: a directory under os.TempDir.
func (t *Local) Dir(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return "", fmt.Errorf("local: %w", ErrClosed)
	}
	if t.dir == "" {
		dir, err := os.MkdirTemp("", "blockprof.")
		if err != nil {
			return "", fmt.Errorf("local: run directory: %w", err)
		}
		t.dir = dir
	}
	return t.dir, nil
}

// Put implements Transport.
func (t *Local) Put(ctx context.Context, name string, data []byte) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	dir, err := t.Dir(ctx)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("local: %w", err)
	}
	return path, nil
}

// Close implements Transport.
func (t *Local) Close() error {
	if dir := t.closeProcs(); dir != "" {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("local: remove run directory: %w", err)
		}
	}
	return nil
}

var _ Transport = (*Local)(nil)
