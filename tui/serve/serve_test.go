package serve

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	gossh "golang.org/x/crypto/ssh"

	"blockprof/engine"
	"blockprof/tui/internal/fakedeps"
	"blockprof/tui/serve/authkeys"
)

// patience bounds every wait on behaviour: generous, since CI machines are
// loaded; no test asserts how long anything took.
const patience = 30 * time.Second

func newKey(t testing.TB) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type testServer struct {
	addr     string
	dir      string
	keysPath string
	exports  string
	deps     *fakedeps.Deps
	log      *syncBuffer
	stop     func() error
}

// start serves a fake run with the given authorized keys file content;
// tweak adjusts the options.
func start(t testing.TB, dir string, authorized []byte, tweak func(*Options)) *testServer {
	t.Helper()
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	d := fakedeps.New(sp)
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, authorized, 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	opts := Options{Listen: "127.0.0.1:0", AuthorizedKeys: keys, HostKey: filepath.Join(dir, "host", "ed25519"),
		Exports: filepath.Join(dir, "exports"), Log: log.New(logs, "", 0)}
	if tweak != nil {
		tweak(&opts)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	opts.Ready = func(a net.Addr) { ready <- a }
	go func() { errc <- Run(ctx, d, opts) }()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(patience):
		cancel()
		t.Fatal("server not ready")
	}
	s := &testServer{addr: addr.String(), dir: dir, keysPath: keys, exports: opts.Exports, deps: d, log: logs}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-errc:
			case <-time.After(patience):
				stopErr = errors.New("server did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

// setKeys replaces the authorized keys file (re-read on every login).
func (s *testServer) setKeys(t testing.TB, data []byte) {
	t.Helper()
	if err := os.WriteFile(s.keysPath, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func config(user string, auth ...gossh.AuthMethod) *gossh.ClientConfig {
	return &gossh.ClientConfig{
		User:            user,
		Auth:            auth,
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         patience,
	}
}

func dial(addr string, key gossh.Signer, hostKey *gossh.PublicKey) (*gossh.Client, error) {
	cfg := config("engineer", gossh.PublicKeys(key))
	cfg.HostKeyCallback = func(_ string, _ net.Addr, k gossh.PublicKey) error {
		if hostKey != nil {
			*hostKey = k
		}
		return nil
	}
	return gossh.Dial("tcp", addr, cfg)
}

// syncBuffer collects a session's output or the server's log.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) contains(x string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Contains(s.b.Bytes(), []byte(x))
}

func (s *syncBuffer) count(x string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Count(s.b.Bytes(), []byte(x))
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// session opens an explorer session with a PTY.
func session(t testing.TB, c *gossh.Client) (*gossh.Session, io.WriteCloser, *syncBuffer) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm-256color", 30, 100, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	s.Stdout, s.Stderr = out, out
	in, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	return s, in, out
}

// ended waits for a session to end and fails if it does not.
func ended(t testing.TB, s *gossh.Session, what string) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case <-done:
	case <-time.After(patience):
		t.Fatalf("%s did not end the session", what)
	}
}

func authorizedLine(k gossh.Signer) []byte {
	return gossh.MarshalAuthorizedKey(k.PublicKey())
}

func withOptions(opts string, k gossh.Signer, comment string) []byte {
	l := strings.TrimSpace(string(authorizedLine(k)))
	if opts != "" {
		l = opts + " " + l
	}
	return []byte(l + " " + comment + "\n")
}

func TestSSH(t *testing.T) {
	dir := t.TempDir()
	alice, bob := newKey(t), newKey(t)
	keys := append([]byte("# the team\n\n"), authorizedLine(alice)...)
	keys = append(keys, authorizedLine(bob)...)
	srv := start(t, dir, keys, nil)

	// Two engineers share the live run: each session subscribes itself.
	var hostKey gossh.PublicKey
	ca, err := dial(srv.addr, alice, &hostKey)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	cb, err := dial(srv.addr, bob, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	sa, ina, outa := session(t, ca)
	sb, inb, outb := session(t, cb)
	waitUntil(t, "both sessions to subscribe", func() bool { return srv.deps.Subscribers() == 2 })
	waitUntil(t, "the devices view", func() bool { return outa.contains("Devices") && outb.contains("Devices") })
	srv.deps.Publish(engine.Progress{Device: "npu", Done: 7, Total: 120, State: engine.StateMeasuring})
	waitUntil(t, "the progress in both sessions", func() bool { return outa.contains("measuring") && outb.contains("measuring") })

	// One quits; the other goes on.
	if _, err := ina.Write([]byte("q")); err != nil {
		t.Fatal(err)
	}
	ended(t, sa, "q")
	if _, err := inb.Write([]byte("2")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the friendliness view in the other session", func() bool { return outb.contains("Friendliness") })
	_ = sb.Close()
	ca.Close()
	cb.Close()
	waitUntil(t, "the sessions in the log", func() bool {
		return srv.log.contains(`session of "engineer" (key `+gossh.FingerprintSHA256(alice.PublicKey())) &&
			srv.log.contains(`session of "engineer" (key `+gossh.FingerprintSHA256(bob.PublicKey()))
	})

	// The host key is kept at its path and reused after a restart.
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "host", "ed25519")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("host key not kept 0600: %v %v", st, err)
	}
	srv2 := start(t, dir, keys, nil)
	var hostKey2 gossh.PublicKey
	c2, err := dial(srv2.addr, alice, &hostKey2)
	if err != nil {
		t.Fatal(err)
	}
	c2.Close()
	if !bytes.Equal(hostKey.Marshal(), hostKey2.Marshal()) {
		t.Error("the host key changed across restarts")
	}
}

// What held before issue 13 and must keep holding: unknown keys,
// passwords and sessions without a terminal are refused, and the refusals
// are logged with the key's fingerprint and the remote address, whatever
// the client sent escaped.
func TestRefusals(t *testing.T) {
	alice, stranger := newKey(t), newKey(t)
	srv := start(t, t.TempDir(), authorizedLine(alice), nil)
	evil := "eng\x1b[2J\x07ineer"
	tests := []struct {
		name string
		cfg  *gossh.ClientConfig
		log  []string // in the server's log afterwards
	}{
		{"unknown key", config("engineer", gossh.PublicKeys(stranger)),
			[]string{"refused key " + gossh.FingerprintSHA256(stranger.PublicKey()) + " (ssh-ed25519) for user \"engineer\" from 127.0.0.1:", "not in the authorized keys file"}},
		{"password", config("engineer", gossh.Password("hunter2")), []string{"closed before login"}},
		{"keyboard-interactive", config("engineer", gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) {
			return []string{"hunter2"}, nil
		})), []string{"closed before login"}},
		{"control characters in the user name", config(evil, gossh.PublicKeys(stranger)),
			[]string{`for user "eng\x1b[2J\aineer" from 127.0.0.1:`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := gossh.Dial("tcp", srv.addr, tc.cfg)
			if err == nil {
				c.Close()
				t.Fatal("let in")
			}
			if !strings.Contains(err.Error(), "unable to authenticate") {
				t.Errorf("refusal: %v", err)
			}
			waitUntil(t, "the refusal in the log", func() bool {
				for _, l := range tc.log {
					if !srv.log.contains(l) {
						return false
					}
				}
				return true
			})
		})
	}
	if strings.ContainsAny(srv.log.String(), "\x1b\x07") {
		t.Errorf("raw control characters in the log:\n%q", srv.log.String())
	}

	// A session without a terminal is refused.
	c, err := dial(srv.addr, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.CombinedOutput("")
	if err == nil || !strings.Contains(string(out), "Requires an active PTY") {
		t.Errorf("a session without a terminal: %q, %v", out, err)
	}
}

// The authorized_keys options of issue 13, over real logins.
func TestAuthorizedKeysOptions(t *testing.T) {
	alice := newKey(t)
	srv := start(t, t.TempDir(), authorizedLine(alice), nil)
	fp := gossh.FingerprintSHA256(alice.PublicKey())
	tests := []struct {
		name    string
		opts    string
		login   bool   // the login succeeds
		session string // with a login: what the session shows ("Devices" when served)
		log     string // in the server's log
	}{
		{"no options", "", true, "Devices", `session of "engineer" (key ` + fp},
		{"issue 13 reproduction", `from="10.9.9.9",no-pty,expiry-time="20000101"`, false, "", "expired"},
		{"from elsewhere", `from="10.9.9.9"`, false, "", `from="10.9.9.9" does not allow 127.0.0.1`},
		{"from a network", `from="127.0.0.0/8"`, true, "Devices", ""},
		{"from with a wildcard", `from="127.0.0.*"`, true, "Devices", ""},
		{"from negated", `from="!127.0.0.1,*"`, false, "", "does not allow 127.0.0.1"},
		{"from negated network", `from="*,!127.0.0.0/8"`, false, "", "does not allow 127.0.0.1"},
		{"expired", `expiry-time="20000101Z"`, false, "", "expired"},
		{"not expired", `expiry-time="99990101"`, true, "Devices", ""},
		{"no-pty", `no-pty`, true, "may not open a terminal", "forbids a terminal"},
		{"restrict", `restrict`, true, "may not open a terminal", "forbids a terminal"},
		{"restrict,pty", `restrict,pty`, true, "Devices", ""},
		{"command", `command="/bin/sh"`, false, "", "command= is not supported"},
		{"unknown option", `frobnicate`, false, "", `unknown option "frobnicate"`},
		{"cert-authority", `cert-authority`, false, "", "certificates are not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv.setKeys(t, withOptions(tc.opts, alice, "alice@laptop"))
			c, err := dial(srv.addr, alice, nil)
			if !tc.login {
				if err == nil {
					c.Close()
					t.Fatal("let in")
				}
			} else {
				if err != nil {
					t.Fatalf("refused: %v\n%s", err, srv.log)
				}
				defer c.Close()
				s, in, out := session(t, c)
				waitUntil(t, "the session to show "+tc.session, func() bool { return out.contains(tc.session) })
				_, _ = in.Write([]byte("q"))
				ended(t, s, "q or the refusal")
			}
			waitUntil(t, "the log to say "+tc.log, func() bool { return srv.log.contains(tc.log) })
		})
	}
}

// The reproduction of issue 13 (1): e, ctrl-u, another file's absolute
// path, enter, y. Over SSH nothing outside the export directory is written;
// a plain name lands in it, 0600.
func TestServedExportStaysInItsDirectory(t *testing.T) {
	dir := t.TempDir()
	alice := newKey(t)
	srv := start(t, dir, authorizedLine(alice), nil)
	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := dial(srv.addr, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, in, out := session(t, c)
	defer s.Close()
	waitUntil(t, "the devices view", func() bool { return out.contains("Devices") })
	typeIn := func(keys ...string) {
		for _, k := range keys {
			if _, err := in.Write([]byte(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	typeIn("e")
	waitUntil(t, "the export prompt with its destination", func() bool { return out.contains("file: " + srv.exports) })
	typeIn("\x15", victim, "\r")
	// The refusal comes before any confirmation is asked. Wait for it
	// before the "y": typed at once, the y (which then only edits
	// the path) can clear the refusal before a frame shows it.
	waitUntil(t, "the refusal", func() bool { return out.contains("not written:") })
	typeIn("y")
	if got, _ := os.ReadFile(victim); string(got) != "keep\n" {
		t.Fatalf("the victim changed: %q", got)
	}
	typeIn("\x15", "mine.toml", "\r")
	want := filepath.Join(srv.exports, "mine.toml")
	deadline := time.Now().Add(patience)
	for {
		if _, err := os.Stat(want); err == nil {
			break
		}
		if time.Now().After(deadline) {
			o := out.String()
			t.Fatalf("no export; output %q", o[max(0, len(o)-2500):])
		}
		time.Sleep(20 * time.Millisecond)
	}
	st, err := os.Stat(want)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want a 0600 file", want, st, err)
	}
	if st, err := os.Stat(srv.exports); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("export directory: %v, %v; want 0700", st, err)
	}
}

// Issue 10: a pause or cancel sent from one session shows in the others
// with who sent it; --operators restricts them to some keys.
func TestSharedIntents(t *testing.T) {
	dir := t.TempDir()
	alice, bob, carol := newKey(t), newKey(t), newKey(t)
	keys := append(withOptions("", alice, "alice@laptop"), withOptions("", bob, "bob@desk")...)
	keys = append(keys, authorizedLine(carol)...) // no comment: named by fingerprint
	ops := filepath.Join(dir, "operators")
	if err := os.WriteFile(ops, append(authorizedLine(alice), authorizedLine(carol)...), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := start(t, dir, keys, func(o *Options) { o.Operators = ops })
	type sess struct {
		in  io.WriteCloser
		out *syncBuffer
	}
	open := func(k gossh.Signer) sess {
		c, err := dial(srv.addr, k, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, in, out := session(t, c)
		t.Cleanup(func() { s.Close() })
		return sess{in, out}
	}
	a, b, c := open(alice), open(bob), open(carol)
	waitUntil(t, "three subscriptions", func() bool { return srv.deps.Subscribers() == 3 })
	srv.deps.Publish(engine.Progress{Device: "npu", Done: 7, Total: 120, State: engine.StateMeasuring})
	waitUntil(t, "the progress everywhere", func() bool {
		return a.out.contains("measuring") && b.out.contains("measuring") && c.out.contains("measuring")
	})

	// Bob is not an operator: refused, logged, nothing sent to the run.
	if _, err := b.in.Write([]byte("p")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the refusal in bob's session", func() bool { return b.out.contains("only the operators' keys") })
	waitUntil(t, "the refusal in the log", func() bool { return srv.log.contains(`refused pause "npu" by bob@desk`) })
	if got := srv.deps.Intents(); len(got) != 0 {
		t.Fatalf("intents %v after a refused pause", got)
	}

	// Alice is: the run gets it and the others see who.
	if _, err := a.in.Write([]byte("p")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the pause to reach the run", func() bool { return len(srv.deps.Intents()) == 1 })
	// (The raw output holds only the cells that changed: look for the name.)
	waitUntil(t, "bob and carol to see alice's pause", func() bool {
		return b.out.contains("alice@laptop") && c.out.contains("sent by alice@laptop")
	})
	// Carol, named by her key's fingerprint, cancels.
	if _, err := c.in.Write([]byte("xy")); err != nil {
		t.Fatal(err)
	}
	fp := gossh.FingerprintSHA256(carol.PublicKey())
	waitUntil(t, "alice to see carol's cancel", func() bool { return a.out.contains(fp) })
	if got := srv.deps.Intents(); strings.Join(got, ",") != "pause npu,cancel npu" {
		t.Errorf("intents %v", got)
	}
	waitUntil(t, "the intents in the log", func() bool {
		return srv.log.contains(`pause "npu" by alice@laptop`) && srv.log.contains(`cancel "npu" by `+fp)
	})
}

func TestWho(t *testing.T) {
	k := newKey(t).PublicKey()
	long := strings.Repeat("é", 70)
	tests := []struct{ comment, want string }{
		{"alice@laptop", "alice@laptop"},
		{"", gossh.FingerprintSHA256(k)},
		{"\x1b[2Jmallory\x07", "[2Jmallory"},
		{"\x1b\x07", gossh.FingerprintSHA256(k)},
		{long, strings.Repeat("é", 64)},
	}
	for _, tc := range tests {
		if got := who(authkeys.Entry{Comment: tc.comment}, k); got != tc.want {
			t.Errorf("who(%q) = %q, want %q", tc.comment, got, tc.want)
		}
	}
}

// Issue 13 (7): unauthenticated connections that send nothing are closed
// by the server once the handshake timeout passes; a logged-in session is
// not.
func TestHandshakeTimeout(t *testing.T) {
	alice := newKey(t)
	srv := start(t, t.TempDir(), authorizedLine(alice), func(o *Options) { o.HandshakeTimeout = 2 * time.Second })

	// A session logged in before the timeout outlives it.
	c, err := dial(srv.addr, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, in, out := session(t, c)
	defer s.Close()
	waitUntil(t, "the devices view", func() bool { return out.contains("Devices") })

	const n = 50
	closed := openIdle(t, srv.addr, n)
	for i := 0; i < n; i++ {
		select {
		case <-closed:
		case <-time.After(patience):
			t.Fatalf("%d of %d idle connections still open", n-i, n)
		}
	}
	waitUntil(t, "the timeouts in the log", func() bool { return srv.log.count("no login within 2s") == n })

	// The session, logged in for longer than the timeout by now, works.
	if _, err := in.Write([]byte("2")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the friendliness view", func() bool { return out.contains("Friendliness") })
}

// openIdle opens n TCP connections that never speak; closed receives once
// for each connection the server closes (a read ends).
func openIdle(t testing.TB, addr string, n int) <-chan time.Time {
	t.Helper()
	closed := make(chan time.Time, n)
	for i := 0; i < n; i++ {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		go func() {
			// The server's version line comes first; then nothing until it
			// closes the connection.
			_, _ = io.Copy(io.Discard, conn)
			closed <- time.Now()
		}()
	}
	return closed
}

// Issue 13 (7): a session without input is closed after the idle timeout,
// even while the connection carries traffic (keepalives here).
func TestIdleSession(t *testing.T) {
	alice := newKey(t)
	srv := start(t, t.TempDir(), authorizedLine(alice), func(o *Options) { o.IdleTimeout = time.Second })
	c, err := dial(srv.addr, alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Millisecond):
				if _, _, err := c.SendRequest("keepalive@openssh.com", true, nil); err != nil {
					return
				}
			}
		}
	}()
	s, _, out := session(t, c)
	ended(t, s, "the idle timeout")
	if !out.contains("closed after 1s without input") {
		t.Errorf("no notice in the session")
	}
	waitUntil(t, "the log", func() bool { return srv.log.contains("closed after 1s without input") })
}

// fakeClock drives idleWatch.wait: the test moves the time and fires the
// timer.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	timer chan time.Time
	asked chan time.Duration
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) after(d time.Duration) <-chan time.Time {
	c.asked <- d
	return c.timer
}

func TestIdleWatch(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0), timer: make(chan time.Time), asked: make(chan time.Duration)}
	w := newIdleWatch(10*time.Minute, clk.now)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res := make(chan bool, 1)
	go func() { res <- w.wait(ctx, clk.after) }()
	expect := func(d time.Duration) {
		t.Helper()
		if got := <-clk.asked; got != d {
			t.Fatalf("waits %s, want %s", got, d)
		}
	}
	expect(10 * time.Minute)
	// Input after 6 minutes pushes the end to minute 16.
	clk.advance(6 * time.Minute)
	w.filter(nil, tea.KeyPressMsg{Code: 'j', Text: "j"})
	clk.advance(4 * time.Minute)
	clk.timer <- clk.now()
	expect(6 * time.Minute)
	// Messages that are not input (engine events, ticks) do not count.
	w.filter(nil, struct{}{})
	clk.advance(6 * time.Minute)
	clk.timer <- clk.now()
	if !<-res || !w.fired.Load() {
		t.Fatal("the watch did not fire after 10 minutes without input")
	}

	// The watch ends with its context.
	w2 := newIdleWatch(time.Minute, clk.now)
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { res <- w2.wait(ctx2, clk.after) }()
	expect(time.Minute)
	cancel2()
	if <-res || w2.fired.Load() {
		t.Error("a cancelled watch fired")
	}
	if msg := w.filter(nil, tea.SuspendMsg{}); msg != (tea.ResumeMsg{}) {
		t.Errorf("suspend became %T", msg)
	}
}

func TestWarnings(t *testing.T) {
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	exports := filepath.Join(dir, "exports")
	for _, d := range []string{keysDir, exports} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	keys := filepath.Join(keysDir, "authorized_keys")
	host := filepath.Join(dir, "host")
	k := newKey(t)
	for _, f := range []string{keys, host} {
		if err := os.WriteFile(f, withOptions("no-pty", k, "bob"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := ReadAuthorizedKeys(keys)
	if err != nil {
		t.Fatal(err)
	}
	sv := &server{opts: Options{AuthorizedKeys: keys, HostKey: host, Exports: exports, Now: time.Now}}
	loopback := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 2222}
	tests := []struct {
		name  string
		addr  net.Addr
		chmod map[string]os.FileMode
		want  []string
	}{
		{"loopback, private files", loopback, nil, []string{"no terminal allowed"}},
		{"every IPv4 interface", &net.TCPAddr{IP: net.IPv4zero, Port: 2222}, nil, []string{"listening on every interface", "no terminal allowed"}},
		{"every IPv6 interface", &net.TCPAddr{IP: net.IPv6unspecified, Port: 2222}, nil, []string{"listening on every interface", "no terminal allowed"}},
		{"host key readable", loopback, map[string]os.FileMode{host: 0o644}, []string{"host key " + host + " is readable by others (mode 0644)", "no terminal allowed"}},
		{"keys writable", loopback, map[string]os.FileMode{keys: 0o620}, []string{keys + " is writable by group or others (mode 0620)", "no terminal allowed"}},
		{"keys directory writable", loopback, map[string]os.FileMode{keysDir: 0o777}, []string{keysDir + " is writable by group or others (mode 0777)", "no terminal allowed"}},
		{"exports writable", loopback, map[string]os.FileMode{exports: 0o770}, []string{"export directory " + exports + " is writable", "no terminal allowed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for p, m := range tc.chmod {
				if err := os.Chmod(p, m); err != nil {
					t.Fatal(err)
				}
			}
			defer func() {
				for p := range tc.chmod {
					_ = os.Chmod(p, 0o700)
					if p == host || p == keys {
						_ = os.Chmod(p, 0o600)
					}
				}
			}()
			ws := sv.warnings(tc.addr, entries)
			if len(ws) != len(tc.want) {
				t.Fatalf("warnings %q, want %d", ws, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.Contains(ws[i], w) {
					t.Errorf("warning %q, want %q", ws[i], w)
				}
			}
		})
	}
}

// What held before issue 13 and must keep holding: 60 connect/disconnect
// cycles leave no goroutine or file behind.
func TestConnectCyclesLeakNothing(t *testing.T) {
	alice := newKey(t)
	srv := start(t, t.TempDir(), authorizedLine(alice), nil)
	cycle := func() {
		c, err := dial(srv.addr, alice, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, in, out := session(t, c)
		waitUntil(t, "the devices view", func() bool { return out.contains("Devices") })
		_, _ = in.Write([]byte("q"))
		ended(t, s, "q")
		c.Close()
	}
	cycle() // warm up: lazily started goroutines
	settle := func() (int, int) {
		runtime.GC()
		return runtime.NumGoroutine(), openFiles()
	}
	waitUntil(t, "the first session to end", func() bool { return srv.log.count("ended after") == 1 })
	g0, f0 := settle()
	for i := 0; i < 60; i++ {
		cycle()
	}
	waitUntil(t, "every session to end", func() bool { return srv.log.count("ended after") == 61 })
	// Allow a few goroutines of the runtime and the test's own timers.
	waitUntil(t, "goroutines and files back to where they were", func() bool {
		g, f := settle()
		return g <= g0+3 && f <= f0+3
	})
}

// openFiles counts this process's open files (-1 where /proc is missing).
func openFiles() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func TestRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	d := fakedeps.New(sp)
	good := filepath.Join(dir, "keys")
	if err := os.WriteFile(good, authorizedLine(newKey(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# nobody yet\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(dir, "host")
	ex := filepath.Join(dir, "exports")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no keys file", Options{Listen: "127.0.0.1:0", AuthorizedKeys: filepath.Join(dir, "missing"), HostKey: host, Exports: ex}, "no such file"},
		{"no keys flag", Options{Listen: "127.0.0.1:0", HostKey: host, Exports: ex}, "--authorized-keys"},
		{"empty keys", Options{Listen: "127.0.0.1:0", AuthorizedKeys: empty, HostKey: host, Exports: ex}, "no public key"},
		{"no host key", Options{Listen: "127.0.0.1:0", AuthorizedKeys: good, Exports: ex}, "--host-key"},
		{"no address", Options{AuthorizedKeys: good, HostKey: host, Exports: ex}, "--listen"},
		{"no export directory", Options{Listen: "127.0.0.1:0", AuthorizedKeys: good, HostKey: host}, "--exports"},
		{"export directory is a file", Options{Listen: "127.0.0.1:0", AuthorizedKeys: good, HostKey: host, Exports: filepath.Join(file, "x")}, "export directory"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			tc.opts.Log = log.New(io.Discard, "", 0)
			err := Run(ctx, d, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}
