// Package serve serves the explorer over SSH (charm.land/wish/v2): one
// Bubble Tea program per session, every session subscribed to the same
// live run on its own, public-key authentication only, against an
// authorized_keys file that is re-read on every attempt, and a host key
// kept at a fixed path.
package serve

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/activeterm"
	bm "charm.land/wish/v2/bubbletea"
	"charm.land/wish/v2/logging"
	rm "charm.land/wish/v2/recover"
	gossh "golang.org/x/crypto/ssh"

	"blockprof/tui"
)

// Options configure the server.
type Options struct {
	// Listen is the address to listen on, e.g. "127.0.0.1:2222" (port 0
	// picks a free port; see Ready).
	Listen string
	// AuthorizedKeys is an authorized_keys file: the only keys let in.
	// It must exist and hold at least one key.
	AuthorizedKeys string
	// HostKey is the server's private key file; an ed25519 key is
	// generated there if it does not exist, then reused.
	HostKey string
	// IdleTimeout closes a session without input for that long (default
	// 30 minutes).
	IdleTimeout time.Duration
	// Ready, if set, is called with the listening address once the server
	// accepts connections.
	Ready func(addr net.Addr)
	// Log receives one line per session event (default: standard error).
	Log *log.Logger
}

// Run serves the explorer until ctx ends, then closes every session.
func Run(ctx context.Context, deps tui.Deps, opts Options) error {
	if deps == nil {
		return errors.New("serve: nothing to serve")
	}
	if opts.Listen == "" {
		return errors.New("serve: --listen is empty: give an address such as 127.0.0.1:2222")
	}
	if opts.HostKey == "" {
		return errors.New("serve: --host-key is empty: give the path of the server's private key (it is created if missing)")
	}
	if opts.AuthorizedKeys == "" {
		return errors.New("serve: --authorized-keys is empty: the explorer lets in only the public keys listed in that file")
	}
	keys, err := ReadAuthorizedKeys(opts.AuthorizedKeys)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.Log == nil {
		opts.Log = log.New(os.Stderr, "blockprof serve: ", log.LstdFlags)
	}
	if dir := filepath.Dir(opts.HostKey); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("serve: host key directory: %w", err)
		}
	}
	logf := opts.Log.Printf
	authorized := func(key ssh.PublicKey) bool {
		// Re-read on every attempt so that edits apply without a restart;
		// a file that became unreadable or invalid lets nobody in.
		ks, err := ReadAuthorizedKeys(opts.AuthorizedKeys)
		if err != nil {
			logf("refusing a key: %v", err)
			return false
		}
		return slices.ContainsFunc(ks, func(k ssh.PublicKey) bool { return ssh.KeysEqual(k, key) })
	}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(opts.HostKey),
		wish.WithPublicKeyAuth(func(_ ssh.Context, key ssh.PublicKey) bool { return authorized(key) }),
		wish.WithIdleTimeout(opts.IdleTimeout),
		wish.WithMiddleware(
			rm.MiddlewareWithLogger(logAdapter{logf},
				bm.Middleware(func(s ssh.Session) (tea.Model, []tea.ProgramOption) {
					pty, _, _ := s.Pty()
					_, noColor := lookupEnv(s.Environ(), "NO_COLOR")
					m := tui.New(s.Context(), deps, tui.Options{NoColor: noColor, Width: pty.Window.Width, Height: pty.Window.Height})
					// The middleware quits the program when the session ends;
					// the model's own requests end with s.Context().
					return m, nil
				}),
				activeterm.Middleware(),
				// A public-key callback does not prove the key was used:
				// check the session's key again before serving it.
				func(next ssh.Handler) ssh.Handler {
					return func(s ssh.Session) {
						if k := s.PublicKey(); k == nil || !authorized(k) {
							wish.Fatalln(s, "blockprof: public-key authentication required")
							return
						}
						next(s)
					}
				},
			),
			logging.MiddlewareWithLogger(logAdapter{logf}),
		),
	)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", opts.Listen, err)
	}
	logf("serving the explorer on %s to %d authorized keys (host key %s)", ln.Addr(), len(keys), opts.HostKey)
	if opts.Ready != nil {
		opts.Ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		if errors.Is(err, ssh.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	// Give sessions a moment to end on their own, then close them.
	sctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, ssh.ErrServerClosed) {
		_ = srv.Close()
	}
	<-errc
	return nil
}

// ReadAuthorizedKeys reads an authorized_keys file: one key per line,
// blank lines and # comments ignored. A line that does not parse is an
// error naming it, and so is a file without any key.
func ReadAuthorizedKeys(path string) ([]ssh.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w (the explorer is served only to the public keys listed there; create it, e.g. from ~/.ssh/id_ed25519.pub)", err)
	}
	keys, err := ParseAuthorizedKeys(data)
	if err != nil {
		return nil, fmt.Errorf("authorized keys %s: %w", path, err)
	}
	return keys, nil
}

// ParseAuthorizedKeys parses the content of an authorized_keys file.
func ParseAuthorizedKeys(data []byte) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no public key in the file: add one key per line (the contents of an id_*.pub)")
	}
	return keys, nil
}

func lookupEnv(env []string, name string) (string, bool) {
	for _, e := range env {
		if k, v, ok := strings.Cut(e, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// logAdapter makes a Printf a logger for wish's middlewares.
type logAdapter struct{ printf func(string, ...any) }

func (l logAdapter) Printf(format string, args ...any) { l.printf(format, args...) }
