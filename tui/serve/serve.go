// Package serve serves the explorer over SSH (charm.land/wish/v2): one
// Bubble Tea program per session, every session subscribed to the same
// live run on its own, public-key authentication only, against an
// authorized_keys file that is re-read on every attempt and whose key
// options are honoured as package authkeys describes (from=, expiry-time=,
// no-pty, restrict, pty; command= refuses the key), and a host key kept
// at a fixed path.
//
// Hardening: a connection that has not logged in within HandshakeTimeout
// is closed; a session without input (keys, mouse, paste, resize) for
// IdleTimeout is closed, and so is a connection without any traffic.
// Refused logins are logged with the key's SHA256 fingerprint and the
// remote address; whatever the client sent (user name, terminal, version)
// is logged quoted, control characters escaped. At start the server warns
// about listening on every interface, a host key others can read, and an
// authorized_keys file (or its directory) others can write. A session's
// exports go only under the Exports directory (export.Dir).
//
// The run is shared: a pause, resume or cancel sent from one session is
// shown in every other one with who sent it (the key's comment in the
// authorized keys file, else its fingerprint), and Operators may restrict
// those intents to some keys.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	tea "charm.land/bubbletea/v2"
	"charm.land/ssh"
	"charm.land/wish/v2"
	"charm.land/wish/v2/activeterm"
	bm "charm.land/wish/v2/bubbletea"
	rm "charm.land/wish/v2/recover"
	gossh "golang.org/x/crypto/ssh"

	"blockprof/tui"
	"blockprof/tui/export"
	"blockprof/tui/serve/authkeys"
)

// Defaults of the timeouts.
const (
	DefaultHandshakeTimeout = 30 * time.Second
	DefaultIdleTimeout      = 30 * time.Minute
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
	// Exports is the directory the sessions' exports go to (created 0700
	// if missing); a session cannot write anywhere else.
	Exports string
	// Operators, if set, is an authorized_keys-format file of the keys
	// that may pause, resume and cancel devices of the shared run (re-read
	// on each intent); without it every session may.
	Operators string
	// HandshakeTimeout closes a connection that has not logged in within
	// it (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// IdleTimeout closes a session without input, and a connection
	// without traffic, for that long (default DefaultIdleTimeout).
	IdleTimeout time.Duration
	// Ready, if set, is called with the listening address once the server
	// accepts connections.
	Ready func(addr net.Addr)
	// Log receives one line per login, refusal, session and warning
	// (default: standard error).
	Log *log.Logger
	// Now and Location are the clock and the zone of expiry times without
	// one (default time.Now, time.Local).
	Now      func() time.Time
	Location *time.Location
}

// server is one Run's state shared by its handlers.
type server struct {
	opts Options
	deps tui.Deps
	logf func(string, ...any)
	hub  *hub
}

// entryKey holds, in a session's context, the authorized keys line that
// let it in.
type entryKey struct{}

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
	if opts.Exports == "" {
		return errors.New("serve: --exports is empty: give the directory the sessions' exports go to")
	}
	if opts.HandshakeTimeout <= 0 {
		opts.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.Log == nil {
		opts.Log = log.New(os.Stderr, "blockprof serve: ", log.LstdFlags)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Location == nil {
		opts.Location = time.Local
	}
	keys, err := authkeys.Read(opts.AuthorizedKeys, opts.Location)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	if opts.Operators != "" {
		if _, err := authkeys.Read(opts.Operators, opts.Location); err != nil {
			return fmt.Errorf("serve: operators: %w", err)
		}
	}
	if dir := filepath.Dir(opts.HostKey); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("serve: host key directory: %w", err)
		}
	}
	if err := os.MkdirAll(opts.Exports, 0o700); err != nil {
		return fmt.Errorf("serve: export directory: %w (give another with --exports DIR)", err)
	}
	if opts.Exports, err = filepath.Abs(opts.Exports); err != nil {
		return fmt.Errorf("serve: export directory: %w", err)
	}
	sv := &server{opts: opts, deps: deps, logf: opts.Log.Printf, hub: newHub()}
	srv, err := wish.NewServer(
		wish.WithHostKeyPath(opts.HostKey),
		wish.WithPublicKeyAuth(sv.publicKey),
		wish.WithIdleTimeout(opts.IdleTimeout),
		func(s *ssh.Server) error {
			s.HandshakeTimeout = opts.HandshakeTimeout
			s.ConnectionFailedCallback = sv.connectionFailed
			return nil
		},
		wish.WithMiddleware(
			rm.MiddlewareWithLogger(logAdapter{sv.logf},
				sv.program,
				activeterm.Middleware(),
				sv.recheck,
			),
			sv.logSession,
		),
	)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		return fmt.Errorf("serve: listen on %s: %w", opts.Listen, err)
	}
	for _, w := range sv.warnings(ln.Addr(), keys) {
		sv.logf("warning: %s", w)
	}
	sv.logf("serving the explorer on %s to %d authorized keys (host key %s, exports under %s, handshake timeout %s, idle timeout %s)",
		ln.Addr(), len(keys), opts.HostKey, opts.Exports, opts.HandshakeTimeout, opts.IdleTimeout)
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

// ReadAuthorizedKeys reads an authorized_keys file as the server does
// (expiry times in local time).
func ReadAuthorizedKeys(path string) ([]authkeys.Entry, error) {
	return authkeys.Read(path, time.Local)
}

// check decides a key offered from addr against the file as it is now.
func (sv *server) check(key ssh.PublicKey, addr net.Addr) (authkeys.Entry, bool, string) {
	// Re-read on every attempt so that edits apply without a restart; a
	// file that became unreadable or invalid lets nobody in.
	entries, err := authkeys.Read(sv.opts.AuthorizedKeys, sv.opts.Location)
	if err != nil {
		return authkeys.Entry{}, false, err.Error()
	}
	e, ok, why := authkeys.Check(entries, key, remoteIP(addr), sv.opts.Now())
	if ok {
		return e, true, ""
	}
	if len(why) == 0 {
		return e, false, "not in the authorized keys file"
	}
	return e, false, strings.Join(why, "; ")
}

// publicKey is the public-key callback: it is asked once per key a client
// offers on a connection.
func (sv *server) publicKey(ctx ssh.Context, key ssh.PublicKey) bool {
	e, ok, why := sv.check(key, ctx.RemoteAddr())
	if !ok {
		sv.logf("refused key %s (%s) for user %s from %s: %s", gossh.FingerprintSHA256(key), key.Type(),
			quote(ctx.User()), ctx.RemoteAddr(), why)
		return false
	}
	if e.Options.NoTouchRequired {
		// Acted upon by golang.org/x/crypto/ssh for sk-* keys.
		p := ctx.Permissions()
		if p.Extensions == nil {
			p.Extensions = map[string]string{}
		}
		p.Extensions["no-touch-required"] = ""
	}
	return true
}

// connectionFailed logs a connection that ended before a login.
func (sv *server) connectionFailed(conn net.Conn, err error) {
	var ne net.Error
	why := quote(err.Error())
	if errors.As(err, &ne) && ne.Timeout() {
		why = fmt.Sprintf("no login within %s (--handshake-timeout)", sv.opts.HandshakeTimeout)
	}
	sv.logf("connection from %s closed before login: %s", conn.RemoteAddr(), why)
}

// recheck checks the session's key again before serving it (a public-key
// callback does not prove the key was used) and refuses a session whose
// key may not have a terminal.
func (sv *server) recheck(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		k := s.PublicKey()
		if k == nil {
			sv.logf("session refused from %s: no public key", s.RemoteAddr())
			wish.Fatalln(s, "blockprof: public-key authentication required")
			return
		}
		e, ok, why := sv.check(k, s.RemoteAddr())
		if !ok {
			sv.logf("session refused for key %s from %s: %s", gossh.FingerprintSHA256(k), s.RemoteAddr(), why)
			wish.Fatalln(s, "blockprof: public-key authentication required")
			return
		}
		if !e.Options.PTY {
			sv.logf("session refused for key %s (%s, line %d) from %s: no-pty or restrict forbids a terminal and the explorer needs one",
				gossh.FingerprintSHA256(k), quote(e.Comment), e.Line, s.RemoteAddr())
			wish.Fatalln(s, "blockprof: this key may not open a terminal (no-pty or restrict in the server's authorized_keys) and the explorer needs one")
			return
		}
		s.Context().SetValue(entryKey{}, e)
		next(s)
	}
}

// program runs the explorer for one session, closing it after IdleTimeout
// without input.
func (sv *server) program(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		ctx, cancel := context.WithCancel(s.Context())
		defer cancel()
		// The program's own context ends only once it is over (so that a
		// broadcast to it never blocks); the session's end quits it.
		pctx, pcancel := context.WithCancel(context.Background())
		defer pcancel()
		idle := newIdleWatch(sv.opts.IdleTimeout, sv.opts.Now)
		e, _ := s.Context().Value(entryKey{}).(authkeys.Entry)
		deps := &sessionDeps{Deps: sv.deps, sv: sv, key: s.PublicKey(), who: who(e, s.PublicKey())}
		remove := func() {}
		defer func() { remove() }()
		h := bm.MiddlewareWithProgramHandler(func(s ssh.Session) *tea.Program {
			pty, _, _ := s.Pty()
			_, noColor := lookupEnv(s.Environ(), "NO_COLOR")
			m := tui.New(s.Context(), deps, tui.Options{NoColor: noColor, Width: pty.Window.Width, Height: pty.Window.Height,
				Export: export.Dir{Enc: sv.deps, Root: sv.opts.Exports}})
			// The middleware quits the program when the session ends; the
			// model's own requests end with s.Context().
			p := tea.NewProgram(m, append(bm.MakeOptions(s), tea.WithFilter(idle.filter), tea.WithContext(pctx))...)
			deps.setProgram(p)
			remove = sv.hub.add(p)
			go func() {
				if idle.wait(ctx, time.After) {
					p.Quit()
				}
			}()
			return p
		})(next)
		h(s)
		if idle.fired.Load() {
			sv.logf("session of %s from %s closed after %s without input (--idle-timeout)", quote(s.User()), s.RemoteAddr(), sv.opts.IdleTimeout)
			wish.Printf(s, "blockprof: closed after %s without input\r\n", sv.opts.IdleTimeout)
		}
	}
}

// logSession logs each session's start and end.
func (sv *server) logSession(next ssh.Handler) ssh.Handler {
	return func(s ssh.Session) {
		start := sv.opts.Now()
		key := "no key"
		if k := s.PublicKey(); k != nil {
			key = gossh.FingerprintSHA256(k)
		}
		pty, _, _ := s.Pty()
		sv.logf("session of %s (key %s) from %s: term %s %dx%d, client %s", quote(s.User()), key, s.RemoteAddr(),
			quote(pty.Term), pty.Window.Width, pty.Window.Height, quote(s.Context().ClientVersion()))
		next(s)
		sv.logf("session of %s from %s ended after %s", quote(s.User()), s.RemoteAddr(), sv.opts.Now().Sub(start).Round(time.Millisecond))
	}
}

// warnings are the risky settings found at start.
func (sv *server) warnings(addr net.Addr, keys []authkeys.Entry) []string {
	var out []string
	if ta, ok := addr.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		out = append(out, fmt.Sprintf("listening on every interface (%s): anyone who can reach this machine may try to log in; prefer --listen 127.0.0.1:PORT or a VPN address", addr))
	}
	if st, err := os.Stat(sv.opts.HostKey); err == nil && st.Mode().Perm()&0o077 != 0 {
		out = append(out, fmt.Sprintf("host key %s is readable by others (mode %04o): chmod 600 %s", sv.opts.HostKey, st.Mode().Perm(), sv.opts.HostKey))
	}
	for _, p := range []string{sv.opts.AuthorizedKeys, filepath.Dir(sv.opts.AuthorizedKeys)} {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o022 != 0 {
			out = append(out, fmt.Sprintf("%s is writable by group or others (mode %04o): whoever can write it can let themselves in; chmod go-w %s", p, st.Mode().Perm(), p))
		}
	}
	if st, err := os.Stat(sv.opts.Exports); err == nil && st.Mode().Perm()&0o022 != 0 {
		out = append(out, fmt.Sprintf("export directory %s is writable by group or others (mode %04o): chmod go-w %s", sv.opts.Exports, st.Mode().Perm(), sv.opts.Exports))
	}
	return append(out, authkeys.Warnings(keys, sv.opts.Now())...)
}

// idleWatch tracks a session's last input.
type idleWatch struct {
	d     time.Duration
	now   func() time.Time
	last  atomic.Int64 // UnixNano of the last input
	fired atomic.Bool
}

func newIdleWatch(d time.Duration, now func() time.Time) *idleWatch {
	w := &idleWatch{d: d, now: now}
	w.touch()
	return w
}

func (w *idleWatch) touch() { w.last.Store(w.now().UnixNano()) }

// filter is the program's message filter: input from the client counts as
// activity; a suspend request resumes at once (as bm.MakeOptions does).
func (w *idleWatch) filter(_ tea.Model, msg tea.Msg) tea.Msg {
	switch msg.(type) {
	case tea.KeyMsg, tea.MouseMsg, tea.PasteMsg, tea.WindowSizeMsg:
		w.touch()
	case tea.SuspendMsg:
		return tea.ResumeMsg{}
	}
	return msg
}

// wait returns true once no input came for d (fired is then set), false
// when ctx ends first. after is time.After, or a test's clock.
func (w *idleWatch) wait(ctx context.Context, after func(time.Duration) <-chan time.Time) bool {
	for {
		left := time.Duration(w.last.Load()+int64(w.d)) - time.Duration(w.now().UnixNano())
		if left <= 0 {
			w.fired.Store(true)
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-after(left):
		}
	}
}

// remoteIP is addr's IP address (invalid if addr is not an IP address,
// which no from= pattern matches).
func remoteIP(addr net.Addr) netip.Addr {
	if ta, ok := addr.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	if addr == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// quote quotes what a client sent for the log, control characters
// escaped.
func quote(s string) string { return strconv.Quote(s) }

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
