// Package sshtest starts a throwaway OpenSSH server on loopback for the
// tests of the ssh transport and of the devices that use it: the system's
// sshd on a free 127.0.0.1 port, with a fresh host key and user key in the
// test's temporary directory, accepting the current user by key only.
// Tests skip (saying why) where sshd, ssh or ssh-keygen is missing. Run as
// root, sshd needs its privilege-separation directory /run/sshd (made by
// the ssh service at boot, missing in containers): Start creates it.
package sshtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"blockprof/devices/transport"
)

// Server is a running test sshd.
type Server struct {
	Host string
	Port int
	User string
	// Identity is the user's private key file.
	Identity string
	// ConfigFile is an ssh client configuration that pins the server's
	// host key and reads nothing of the user's own ssh setup.
	ConfigFile string

	dir    string
	cmd    *exec.Cmd
	exited chan error
	log    string
}

// Start starts a server that lives until the test ends, or skips the test
// when this machine cannot run one.
func Start(t testing.TB) *Server {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("sshtest: the loopback sshd test runs on Linux only")
	}
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		p, err := exec.LookPath("sshd")
		if err != nil {
			t.Skip("sshtest: OpenSSH sshd not installed (apt-get install openssh-server); skipping the loopback ssh test")
		}
		sshd = p
	}
	for _, tool := range []string{"ssh", "scp", "ssh-keygen"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("sshtest: %s not installed (apt-get install openssh-client); skipping the loopback ssh test", tool)
		}
	}
	u, err := user.Current()
	if err != nil {
		t.Skipf("sshtest: current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// sshd started as root separates privileges into /run/sshd (made
		// by the ssh service at boot; missing in containers).
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Skipf("sshtest: sshd run as root needs /run/sshd: %v", err)
		}
	}
	dir := t.TempDir()
	s := &Server{Host: "127.0.0.1", User: u.Username, dir: dir, log: filepath.Join(dir, "sshd.log")}
	hostKey := filepath.Join(dir, "host_ed25519")
	s.Identity = filepath.Join(dir, "user_ed25519")
	for _, k := range []string{hostKey, s.Identity} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "blockprof-test", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("sshtest: ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(s.Identity + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	hostPub, err := os.ReadFile(hostKey + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		s.Port = port
		if lastErr = s.start(t, sshd, hostKey, authKeys); lastErr == nil {
			break
		}
		if strings.Contains(lastErr.Error(), "Privilege separation user") {
			t.Skipf("sshtest: %v", lastErr)
		}
	}
	if lastErr != nil {
		t.Fatalf("sshtest: %v", lastErr)
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, fmt.Appendf(nil, "[%s]:%d %s", s.Host, s.Port, hostPub), 0o600); err != nil {
		t.Fatal(err)
	}
	s.ConfigFile = filepath.Join(dir, "ssh_config")
	clientCfg := fmt.Sprintf("Host *\n  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n  CheckHostIP no\n  LogLevel ERROR\n", knownHosts)
	if err := os.WriteFile(s.ConfigFile, []byte(clientCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.stop)
	return s
}

func (s *Server) start(t testing.TB, sshd, hostKey, authKeys string) error {
	cfg := filepath.Join(s.dir, "sshd_config")
	text := strings.Join([]string{
		fmt.Sprintf("ListenAddress %s:%d", s.Host, s.Port),
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + authKeys,
		"PidFile none",
		"StrictModes no",
		"UsePAM no",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"AllowUsers " + s.User,
		"UseDNS no",
		"PrintMotd no",
		"PrintLastLog no",
		"MaxStartups 50",
		"Subsystem sftp internal-sftp",
		"LogLevel VERBOSE",
	}, "\n") + "\n"
	if err := os.WriteFile(cfg, []byte(text), 0o600); err != nil {
		return err
	}
	_ = os.Remove(s.log)
	cmd := exec.Command(sshd, "-D", "-f", cfg, "-E", s.log)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", sshd, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			log, _ := os.ReadFile(s.log)
			return fmt.Errorf("sshd exited (%v): %s %s", err, stderr.String(), log)
		default:
		}
		c, err := net.DialTimeout("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			s.cmd, s.exited = cmd, exited
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return fmt.Errorf("sshd did not listen on port %d within 10s", s.Port)
}

// Options are the ssh transport options that reach the server.
func (s *Server) Options() transport.SSHOptions {
	return transport.SSHOptions{Host: s.Host, User: s.User, Port: s.Port, Identity: s.Identity, ConfigFile: s.ConfigFile}
}

// Log is the server's log so far (for failure messages).
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// DropConnections kills every process the server started (its
// per-connection processes and the commands they run), as a dropped
// network connection or a crashed remote host would; the server keeps
// listening for new connections. It returns how many processes it killed.
func (s *Server) DropConnections() int {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	killed := 0
	for round := 0; round < 5; round++ {
		pids := descendants(s.cmd.Process.Pid)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			if syscall.Kill(pid, syscall.SIGKILL) == nil {
				killed++
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	return killed
}

func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	s.DropConnections()
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// descendants lists the processes below pid, from /proc.
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
