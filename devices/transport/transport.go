// Package transport runs processes on a measurement target and moves files
// to it: this machine (local), a host reached with the system ssh and scp
// clients (ssh), or an Android device reached with adb (adb). The agent and
// command devices use it to start their agent or benchmark tool where the
// hardware is.
//
// Arguments are always argv. The local transport executes them directly.
// ssh and adb concatenate their arguments into one string that the
// target's login shell parses, so those transports quote every argument for
// a POSIX shell (Quote) before sending it: an architecture, a path or a
// config value can never run a command of its own. The remote login shell
// must be POSIX-like (sh, dash, bash, zsh, ksh, Android's mksh); csh and
// fish are not supported.
//
// Files go into a per-run temporary directory on the target (mktemp -d),
// created on first use and removed by Close.
package transport

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"blockprof/devices"
	"blockprof/devices/safetext"
)

// Transport runs processes on one target and puts files there.
type Transport interface {
	// String names the target for messages: "local", "ssh root@gpu1:22",
	// "adb R58M1234".
	String() string
	// Local reports whether processes run on this machine's cores.
	Local() bool
	// Start starts argv on the target with its stdin and stdout connected
	// to the returned Process. The process is killed when ctx ends, when
	// Kill is called or when the transport is closed.
	Start(ctx context.Context, argv []string) (*Process, error)
	// Run runs argv on the target to completion. A non-zero exit is an
	// *ExitError (the Result is still filled); a lost connection wraps
	// ErrDisconnected; when ctx ends the process is killed and the error
	// wraps ctx's error.
	Run(ctx context.Context, argv []string) (Result, error)
	// Dir is the per-run temporary directory on the target, created on
	// first use.
	Dir(ctx context.Context) (string, error)
	// Put writes data as the file name (letters, digits, '.', '_', '-')
	// in Dir and returns its path on the target.
	Put(ctx context.Context, name string, data []byte) (string, error)
	// Close kills the processes Start started and removes Dir.
	Close() error
}

// Result is the output of a finished process.
type Result struct {
	// Stdout and Stderr are what the process wrote to each (capped at
	// MaxOutput bytes each; the excess is dropped).
	Stdout, Stderr []byte
	// Output is stdout and stderr interleaved in the order written (capped
	// the same way): what a benchmark tool shows on a terminal.
	Output []byte
	// Code is the exit status (-1 when killed by a signal or not run).
	Code int
}

// MaxOutput caps each of a Result's buffers.
const MaxOutput = 16 << 20

// ErrDisconnected is wrapped by errors about a target that could not be
// reached or dropped the connection (ssh exit status 255, adb "device
// offline"): worth a retry. Such errors also wrap devices.ErrTransient.
var ErrDisconnected = errors.New("connection to the target lost")

// disconnected wraps err's text with ErrDisconnected and
// devices.ErrTransient.
func disconnected(format string, args ...any) error {
	return &connError{msg: fmt.Sprintf(format, args...)}
}

type connError struct{ msg string }

func (e *connError) Error() string   { return e.msg }
func (e *connError) Unwrap() []error { return []error{ErrDisconnected, devices.ErrTransient} }

// ExitError is a process that ended with a non-zero status.
type ExitError struct {
	// Target is the transport's String.
	Target string
	Argv   []string
	// Code is the exit status, -1 for a signal.
	Code int
	// Tail is the end of the process's output (stderr for Start, the
	// interleaved output for Run), at most about 1 KiB, as the process
	// wrote it; Error shows it through safetext.Escape.
	Tail string
}

func (e *ExitError) Error() string {
	what := fmt.Sprintf("exited with status %d", e.Code)
	if e.Code < 0 {
		what = "was killed"
	}
	msg := fmt.Sprintf("%s on %s %s", describeArgv(e.Argv), e.Target, what)
	if t := strings.TrimSpace(e.Tail); t != "" {
		msg += ": " + safetext.Escape(t)
	}
	return msg
}

// describeArgv shows a command for an error message: its argv quoted as a
// shell would need it, shortened, on one line.
func describeArgv(argv []string) string {
	return safetext.Line(Excerpt(QuoteArgs(argv), 160))
}

// Excerpt shortens s to about n bytes, keeping its start and end.
func Excerpt(s string, n int) string {
	if len(s) <= n || n < 16 {
		return s
	}
	half := n / 2
	return s[:half] + " … " + s[len(s)-half:]
}

// tail returns the last n bytes of b as text, starting at a line if it can.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := strings.IndexByte(string(b), '\n'); i >= 0 && i < len(b)-1 {
			b = b[i+1:]
		}
		return "… " + string(b)
	}
	return string(b)
}

// Quote quotes s as one word for a POSIX shell. Words made only of
// letters, digits and _-.,/:@%+ are left as they are; anything else is put
// in single quotes, inside which a POSIX shell expands nothing ($, `, \ and
// newlines are literal), and each single quote in s becomes a closing
// quote, an escaped quote and an opening quote:
//
//	it's  →  'it'\''s'
func Quote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-.,/:@%+", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// QuoteArgs quotes every argument and joins them with spaces: the shell
// string that runs argv exactly.
func QuoteArgs(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}

// checkArgv rejects what no process can receive: an empty argv or a NUL
// byte in an argument.
func checkArgv(argv []string) error {
	if len(argv) == 0 || argv[0] == "" {
		return errors.New("transport: empty command")
	}
	for i, a := range argv {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("transport: argument %d of %s contains a NUL byte", i, describeArgv(argv[:1]))
		}
	}
	return nil
}

var fileNameRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// checkName accepts plain file names that need no quoting anywhere.
func checkName(name string) error {
	if !fileNameRE.MatchString(name) || name == "." || name == ".." {
		return fmt.Errorf("transport: file name %q: want letters, digits, '.', '_' and '-' only (at most 128, not starting with '.' or '-')", name)
	}
	return nil
}

// tempDirRE is what a run directory made by mktemp under a plain base
// looks like; Close removes nothing else.
var tempDirRE = regexp.MustCompile(`^/[A-Za-z0-9_./-]*/blockprof\.[A-Za-z0-9]{6,}$`)

func checkTempDir(dir string) error {
	if !tempDirRE.MatchString(dir) || strings.Contains(dir, "/../") {
		return fmt.Errorf("mktemp printed %q, not a directory like /tmp/blockprof.XXXXXXXX", Excerpt(dir, 200))
	}
	return nil
}

// checkBase accepts the base of the run directory: an absolute path of
// plain characters.
func checkBase(base string) error {
	if !regexp.MustCompile(`^/[A-Za-z0-9_./-]*$`).MatchString(base) || strings.Contains(base, "..") {
		return fmt.Errorf("transport: temporary directory base %q: want an absolute path of letters, digits, '.', '_', '-' and '/'", base)
	}
	return nil
}

// Open returns the transport a device's config names: "local" (or empty),
// "ssh" (host, user, port, identity) or "adb" (serial).
func Open(cfg devices.Config) (Transport, error) {
	switch cfg.Transport {
	case "", "local":
		if cfg.Host != "" || cfg.Serial != "" {
			return nil, fmt.Errorf("device %s: host/serial set but transport is %q: set transport = \"ssh\" or \"adb\"", cfg.Name, orLocal(cfg.Transport))
		}
		return NewLocal(), nil
	case "ssh":
		t, err := NewSSH(SSHOptions{Host: cfg.Host, User: cfg.User, Port: cfg.Port, Identity: cfg.Identity})
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
		}
		return t, nil
	case "adb":
		t, err := NewADB(ADBOptions{Serial: cfg.Serial})
		if err != nil {
			return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
		}
		return t, nil
	}
	return nil, fmt.Errorf("device %s: unknown transport %q (want local, ssh or adb)", cfg.Name, cfg.Transport)
}

func orLocal(s string) string {
	if s == "" {
		return "local"
	}
	return s
}
