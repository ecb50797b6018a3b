package transport_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/devices/transport"
	"blockprof/devices/transport/sshtest"
)

func newSSH(t *testing.T, o transport.SSHOptions) *transport.SSH {
	t.Helper()
	tr, err := transport.NewSSH(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

// TestSSH runs the transport conformance suite (hostile arguments, exit
// statuses, pipes, kill, cancel, put, cleanup) against a loopback sshd.
func TestSSH(t *testing.T) {
	srv := sshtest.Start(t)
	tr := newSSH(t, srv.Options())
	transport.Conformance(t, tr)
	if t.Failed() {
		t.Logf("sshd log:\n%s", srv.Log())
	}
}

// TestSSHHostileRemoteArgs passes hostile text as arguments of sh -c
// and as program names: each arrives as one word and nothing runs.
func TestSSHHostileRemoteArgs(t *testing.T) {
	srv := sshtest.Start(t)
	tr := newSSH(t, srv.Options())
	canary := transport.CanaryDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	args := transport.Hostile(canary)
	res, err := tr.Run(ctx, append([]string{"sh", "-c", `for a; do printf '%s\000' "$a"; done`, "sh"}, args...))
	if err != nil {
		t.Fatal(err)
	}
	if got := transport.SplitNUL(res.Stdout); !slices.Equal(got, args) {
		t.Errorf("arguments changed on the way:\n got %q\nwant %q", got, args)
	}
	for _, h := range args[:4] {
		if _, err := tr.Run(ctx, []string{h, "x"}); err == nil {
			t.Errorf("a program named %q ran", h)
		}
	}
	transport.CheckCanary(t, canary)
}

func TestSSHConnectionRefused(t *testing.T) {
	srv := sshtest.Start(t)
	o := srv.Options()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.Port = l.Addr().(*net.TCPAddr).Port
	l.Close() // nothing listens there now
	tr := newSSH(t, o)
	_, err = tr.Run(context.Background(), []string{"true"})
	if !errors.Is(err, transport.ErrDisconnected) || !errors.Is(err, devices.ErrTransient) {
		t.Fatalf("refused connection: %v, want ErrDisconnected and devices.ErrTransient", err)
	}
}

func TestSSHAuthFailures(t *testing.T) {
	srv := sshtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	// A key the server does not know.
	o := srv.Options()
	o.Identity = "/nonexistent/key"
	_, err := newSSH(t, o).Run(ctx, []string{"true"})
	if err == nil || errors.Is(err, devices.ErrTransient) || !strings.Contains(err.Error(), "authentication failed") {
		t.Errorf("unknown key: %v, want a non-transient authentication error", err)
	}

	// A host key not in known_hosts: BatchMode refuses instead of asking.
	o = srv.Options()
	cfg := filepath.Join(t.TempDir(), "ssh_config")
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	os.WriteFile(cfg, []byte("Host *\n  UserKnownHostsFile "+empty+"\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n"), 0o600)
	o.ConfigFile = cfg
	_, err = newSSH(t, o).Run(ctx, []string{"true"})
	if err == nil || errors.Is(err, devices.ErrTransient) || !strings.Contains(err.Error(), "host key") {
		t.Errorf("unknown host key: %v, want a non-transient host-key error", err)
	}
}

// TestSSHDrop drops the connection under a running process: Wait reports
// a lost connection (transient), and the transport connects again.
func TestSSHDrop(t *testing.T) {
	srv := sshtest.Start(t)
	tr := newSSH(t, srv.Options())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := tr.Start(ctx, []string{"cat"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stdin.Write([]byte("ping\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := p.Stdout.Read(buf); err != nil {
		t.Fatal(err)
	}
	if n := srv.DropConnections(); n == 0 {
		t.Fatal("no server processes to kill")
	}
	select {
	case <-p.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("ssh did not notice the dropped connection within 15s")
	}
	if err := p.Wait(); !errors.Is(err, transport.ErrDisconnected) || !errors.Is(err, devices.ErrTransient) {
		t.Errorf("Wait after the drop: %v, want ErrDisconnected", err)
	}
	res, err := tr.Run(ctx, []string{"echo", "again"})
	if err != nil || string(res.Stdout) != "again\n" {
		t.Errorf("after the drop: %q, %v", res.Stdout, err)
	}
}
