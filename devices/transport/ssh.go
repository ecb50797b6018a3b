package transport

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SSHOptions configure the ssh transport. Everything not set here comes
// from the user's ssh configuration (~/.ssh/config, keys, ssh-agent), as
// with a plain `ssh HOST`.
type SSHOptions struct {
	// Host is a host name, address or ~/.ssh/config alias; "user@host" is
	// accepted when User is empty.
	Host string
	User string
	// Port, 0 for the configured or default port.
	Port int
	// Identity is a private key file (ssh -i), with IdentitiesOnly.
	Identity string
	// ConfigFile replaces the user's ssh configuration (ssh -F).
	ConfigFile string
	// Options are extra ssh -o options ("ControlMaster=auto", ...). They
	// cannot override BatchMode, ConnectTimeout and the ServerAlive
	// settings, which come first.
	Options []string
	// ConnectTimeout bounds the connection set-up (default 10s).
	ConnectTimeout time.Duration
	// TempBase is where the run directory is made (default /tmp).
	TempBase string
	// SSH and SCP are the client programs (default "ssh" and "scp").
	SSH, SCP string
}

// SSH runs processes on a host through the system ssh client and copies
// files with scp. It never prompts (BatchMode): the host key must be known
// (connect once by hand) and the key must be usable without a passphrase
// prompt (ssh-agent, or an unencrypted key).
type SSH struct {
	base
	opts   SSHOptions
	common []string
}

// NewSSH checks o and returns the ssh transport. Nothing connects until
// the first Run, Start, Dir or Put.
func NewSSH(o SSHOptions) (*SSH, error) {
	if o.User == "" {
		if u, h, ok := strings.Cut(o.Host, "@"); ok {
			o.User, o.Host = u, h
		}
	}
	if err := validWord("ssh host", o.Host, "@/'\"\\`$;&|<>(){}*?!#"); err != nil {
		return nil, fmt.Errorf("%w (set host = \"NAME\" in the device's config)", err)
	}
	if o.User != "" {
		if err := validWord("ssh user", o.User, "@:/'\"\\`$;&|<>(){}*?!#"); err != nil {
			return nil, err
		}
	}
	if o.Port < 0 || o.Port > 65535 {
		return nil, fmt.Errorf("transport: ssh port %d: want 1-65535 (0 for the default)", o.Port)
	}
	if strings.HasPrefix(o.Identity, "-") || strings.HasPrefix(o.ConfigFile, "-") {
		return nil, fmt.Errorf("transport: ssh identity or config file starts with '-'")
	}
	for _, opt := range o.Options {
		if !strings.Contains(opt, "=") || strings.HasPrefix(opt, "-") {
			return nil, fmt.Errorf("transport: ssh option %q: want NAME=VALUE", opt)
		}
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.TempBase == "" {
		o.TempBase = "/tmp"
	}
	if err := checkBase(o.TempBase); err != nil {
		return nil, err
	}
	if o.SSH == "" {
		o.SSH = "ssh"
	}
	if o.SCP == "" {
		o.SCP = "scp"
	}
	t := &SSH{opts: o}
	secs := max(1, int(o.ConnectTimeout.Round(time.Second)/time.Second))
	t.common = []string{
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=" + strconv.Itoa(secs),
		"-o", "ServerAliveInterval=15",
		"-o", "ServerAliveCountMax=3",
	}
	if o.ConfigFile != "" {
		t.common = append(t.common, "-F", o.ConfigFile)
	}
	if o.Port != 0 {
		t.common = append(t.common, "-o", "Port="+strconv.Itoa(o.Port))
	}
	if o.User != "" {
		t.common = append(t.common, "-o", "User="+o.User)
	}
	if o.Identity != "" {
		t.common = append(t.common, "-i", o.Identity, "-o", "IdentitiesOnly=yes")
	}
	for _, opt := range o.Options {
		t.common = append(t.common, "-o", opt)
	}
	name := "ssh " + o.Host
	if o.User != "" {
		name = "ssh " + o.User + "@" + o.Host
	}
	if o.Port != 0 {
		name += ":" + strconv.Itoa(o.Port)
	}
	t.base = newBase(launcher{target: name, wrap: t.wrap, classify: classifySSH})
	return t, nil
}

// wrap is the ssh command line that runs argv on the host: every
// argument quoted for the remote shell, which ssh hands one string.
func (t *SSH) wrap(argv []string, _ bool) []string {
	a := append([]string{t.opts.SSH}, t.common...)
	return append(a, "-T", "--", t.opts.Host, QuoteArgs(argv))
}

// scpTarget is host:path as scp wants it (IPv6 addresses in brackets).
func (t *SSH) scpTarget(path string) string {
	h := t.opts.Host
	if strings.Contains(h, ":") {
		h = "[" + h + "]"
	}
	return h + ":" + path
}

// Local reports false.
func (*SSH) Local() bool { return false }

// Args is the ssh command line that runs argv on the host (for logs and
// tests).
func (t *SSH) Args(argv []string) []string { return t.wrap(argv, false) }

// Dir implements Transport: mktemp -d under TempBase on the host.
func (t *SSH) Dir(ctx context.Context) (string, error) { return t.remoteDir(ctx, t.opts.TempBase) }

// Put implements Transport with scp.
func (t *SSH) Put(ctx context.Context, name string, data []byte) (string, error) {
	if err := checkName(name); err != nil {
		return "", err
	}
	dir, err := t.Dir(ctx)
	if err != nil {
		return "", err
	}
	remote := dir + "/" + name
	err = withLocalFile(data, func(local string) error {
		argv := append([]string{t.opts.SCP, "-q"}, t.common...)
		argv = append(argv, "--", local, t.scpTarget(remote))
		l := launcher{target: t.target, wrap: func(a []string, _ bool) []string { return a }, classify: classifySCP}
		_, err := l.run(ctx, argv)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("%s: copying %s: %w", t.target, name, err)
	}
	return remote, nil
}

// Close implements Transport: kills the started processes and removes the
// run directory on the host.
func (t *SSH) Close() error {
	return t.removeRemote(t.closeProcs())
}

// classifySSH reads ssh's failure: exit status 255 is ssh's own error
// (any other status is the remote command's).
func classifySSH(code int, stderr string) error {
	if code != 255 {
		return nil
	}
	return classifySCP(code, stderr)
}

// classifySCP reads an ssh or scp failure. Authentication and host-key
// failures need the user; other connection failures are worth a retry.
func classifySCP(code int, stderr string) error {
	switch {
	case matchAny(stderr, "Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED", "No ED25519 host key is known", "host key is known"):
		return &setupError{"ssh: the host key is not in known_hosts or has changed; connect once with `ssh HOST` by hand to check and accept it (" + firstLine(stderr) + ")"}
	case matchAny(stderr, "Permission denied", "Too many authentication failures"):
		return &setupError{"ssh: authentication failed; load the key into ssh-agent or set identity = \"KEY FILE\" (" + firstLine(stderr) + ")"}
	case matchAny(stderr, "Could not resolve hostname", "Bad configuration option", "Unsupported option", "no argument after keyword", "command-line line"):
		return &setupError{"ssh: " + firstLine(stderr)}
	case matchAny(stderr, "Connection refused", "Connection timed out", "Connection reset", "Connection closed", "connection lost",
		"No route to host", "Network is unreachable", "Broken pipe", "Timeout, server", "not responding", "kex_exchange_identification"):
		return disconnected("ssh: %s: %s", ErrDisconnected, firstLine(stderr))
	case code == 255:
		if l := firstLine(stderr); l != "" {
			return disconnected("ssh: %s: %s", ErrDisconnected, l)
		}
		return disconnected("ssh: %s (ssh exited with status 255)", ErrDisconnected)
	}
	return nil
}

var _ Transport = (*SSH)(nil)
