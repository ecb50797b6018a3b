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
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"blockprof/engine"
	"blockprof/tui/internal/fakedeps"
)

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

type server struct {
	addr     string
	deps     *fakedeps.Deps
	hostKeys chan gossh.PublicKey
	stop     func() error
}

// start serves a fake run with the given authorized keys file content.
func start(t *testing.T, dir string, authorized []byte) *server {
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
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, d, Options{Listen: "127.0.0.1:0", AuthorizedKeys: keys, HostKey: filepath.Join(dir, "host", "ed25519"),
			Ready: func(a net.Addr) { ready <- a }, Log: log.New(io.Discard, "", 0)})
	}()
	var addr net.Addr
	select {
	case addr = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("server not ready")
	}
	s := &server{addr: addr.String(), deps: d}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-errc:
			case <-time.After(10 * time.Second):
				stopErr = errors.New("server did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

func dial(addr string, key gossh.Signer, hostKey *gossh.PublicKey) (*gossh.Client, error) {
	return gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User: "engineer",
		Auth: []gossh.AuthMethod{gossh.PublicKeys(key)},
		HostKeyCallback: func(_ string, _ net.Addr, k gossh.PublicKey) error {
			if hostKey != nil {
				*hostKey = k
			}
			return nil
		},
		Timeout: 10 * time.Second,
	})
}

// syncBuffer collects a session's output.
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

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// session opens an explorer session with a PTY.
func session(t *testing.T, c *gossh.Client) (*gossh.Session, io.WriteCloser, *syncBuffer) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RequestPty("xterm-256color", 30, 100, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	out := &syncBuffer{}
	s.Stdout = out
	in, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Shell(); err != nil {
		t.Fatal(err)
	}
	return s, in, out
}

func authorizedLine(k gossh.Signer) []byte {
	return gossh.MarshalAuthorizedKey(k.PublicKey())
}

func TestSSH(t *testing.T) {
	dir := t.TempDir()
	alice, bob, stranger := newKey(t), newKey(t), newKey(t)
	keys := append([]byte("# the team\n\n"), authorizedLine(alice)...)
	keys = append(keys, authorizedLine(bob)...)
	srv := start(t, dir, keys)

	// An unknown key is refused.
	if c, err := dial(srv.addr, stranger, nil); err == nil {
		c.Close()
		t.Fatal("an unknown key got in")
	} else if !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("unknown key: %v", err)
	}

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
	done := make(chan error, 1)
	go func() { done <- sa.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("q did not end the session")
	}
	if _, err := inb.Write([]byte("2")); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the friendliness view in the other session", func() bool { return outb.contains("Friendliness") })
	_ = sb.Close()
	ca.Close()
	cb.Close()

	// The host key is kept at its path and reused after a restart.
	if err := srv.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "host", "ed25519")); err != nil {
		t.Fatalf("host key not kept: %v", err)
	}
	srv2 := start(t, dir, keys)
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
	host := filepath.Join(dir, "host")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no keys file", Options{Listen: "127.0.0.1:0", AuthorizedKeys: filepath.Join(dir, "missing"), HostKey: host}, "no such file"},
		{"no keys flag", Options{Listen: "127.0.0.1:0", HostKey: host}, "--authorized-keys"},
		{"empty keys", Options{Listen: "127.0.0.1:0", AuthorizedKeys: empty, HostKey: host}, "no public key"},
		{"no host key", Options{Listen: "127.0.0.1:0", AuthorizedKeys: good}, "--host-key"},
		{"no address", Options{AuthorizedKeys: good, HostKey: host}, "--listen"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := Run(ctx, d, tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one with %q", err, tc.want)
			}
		})
	}
}

func TestParseAuthorizedKeys(t *testing.T) {
	k := authorizedLine(newKey(t))
	tests := []struct {
		name string
		data string
		n    int
		err  string
	}{
		{"one", string(k), 1, ""},
		{"comments and blanks", "# c\n\n" + string(k) + "\n  \n" + string(k), 2, ""},
		{"options and comment", `from="127.0.0.1",no-pty ` + strings.TrimSpace(string(k)) + " alice@laptop\n", 1, ""},
		{"garbage line", string(k) + "ssh-ed25519 notbase64!!\n", 0, "line 2"},
		{"empty", "", 0, "no public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseAuthorizedKeys([]byte(tc.data))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(keys) != tc.n {
				t.Errorf("%d keys, %v; want %d", len(keys), err, tc.n)
			}
		})
	}
}

func FuzzParseAuthorizedKeys(f *testing.F) {
	f.Add([]byte("# comment\n"))
	f.Add([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEXAMPLEEX a@b\n"))
	f.Add([]byte("from=\"x\" ssh-rsa AAAA\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseAuthorizedKeys(data)
		if err == nil && len(keys) == 0 {
			t.Fatal("no error and no key")
		}
		for _, k := range keys {
			if k == nil {
				t.Fatal("nil key")
			}
		}
	})
}
