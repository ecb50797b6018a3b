package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"blockprof/devices/safetext"
)

// cleanupTimeout bounds the removal of a remote run directory at Close.
const cleanupTimeout = 20 * time.Second

// remoteDir creates the run directory on the target with mktemp under
// tmpBase on first use.
func (b *base) remoteDir(ctx context.Context, tmpBase string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return "", fmt.Errorf("%s: %w", b.target, ErrClosed)
	}
	if b.dir != "" {
		return b.dir, nil
	}
	res, err := b.run(ctx, []string{"mktemp", "-d", tmpBase + "/blockprof.XXXXXXXX"})
	if err != nil {
		return "", fmt.Errorf("%s: creating the run directory: %w", b.target, err)
	}
	dir := strings.TrimSpace(string(res.Stdout))
	if err := checkTempDir(dir); err != nil {
		return "", fmt.Errorf("%s: creating the run directory: %w", b.target, err)
	}
	b.dir = dir
	return dir, nil
}

// removeRemote removes a run directory made by remoteDir.
func (b *base) removeRemote(dir string) error {
	if dir == "" {
		return nil
	}
	if err := checkTempDir(dir); err != nil {
		return fmt.Errorf("%s: not removing %q: %w", b.target, dir, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if _, err := b.run(ctx, []string{"rm", "-rf", "--", dir}); err != nil {
		return fmt.Errorf("%s: removing the run directory %s: %w", b.target, dir, err)
	}
	return nil
}

// withLocalFile writes data to a local temporary file, calls f with its
// path and removes it.
func withLocalFile(data []byte, f func(path string) error) error {
	tmp, err := os.CreateTemp("", localTempPrefix("blockprof-put."))
	if err != nil {
		return fmt.Errorf("transport: local staging file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("transport: local staging file: %w", err)
	}
	return f(tmp.Name())
}

// setupError is a connection failure that retrying will not fix (a
// rejected key, an unknown host key, an unauthorised adb device).
type setupError struct{ msg string }

func (e *setupError) Error() string { return e.msg }

// matchAny reports whether s contains any of subs (case-insensitive).
func matchAny(s string, subs ...string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(s, strings.ToLower(sub)) {
			return true
		}
	}
	return false
}

// firstLine is the first non-empty line of s (ssh's or adb's stderr),
// trimmed, shortened and escaped for a terminal (safetext.Line).
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return safetext.Line(Excerpt(l, 300))
		}
	}
	return ""
}

// validWord checks a host, user or serial: not empty, no leading '-'
// (it would be read as an option), no blanks or control characters and
// none of the characters in bad.
func validWord(what, s, bad string) error {
	if s == "" {
		return fmt.Errorf("transport: empty %s", what)
	}
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("transport: %s %q starts with '-'", what, s)
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(bad, r) {
			return fmt.Errorf("transport: %s %q contains %q", what, s, r)
		}
	}
	return nil
}
