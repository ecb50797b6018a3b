// Package authkeys reads OpenSSH authorized_keys files for the explorer's
// SSH server (tui/serve) and decides, per login, whether a key may come in,
// honouring the key options of sshd(8) that matter to a server offering
// one interactive terminal session and nothing else:
//
//   - from="pattern-list": the client's IP address must match the list:
//     comma-separated patterns with * and ?, CIDR networks (10.0.0.0/8,
//     fe80::/10) and !negation; any negated match refuses. Host names are
//     not resolved (as sshd with UseDNS no): patterns match the address.
//     A malformed network (10.0.0.1/8, 10.0.0.0/33) refuses the line.
//   - expiry-time="YYYYMMDD[HHMM[SS]]": the key is refused after that time,
//     local time, or UTC with a Z (or UTC) suffix.
//   - no-pty, and restrict (unless followed by pty): the key logs in, but
//     its session is refused, since the explorer needs a terminal.
//   - command="...": forced commands are not supported (the server runs no
//     commands), so the key is refused outright, not let in unrestricted.
//   - verify-required: not enforced by the SSH library, so refused too.
//   - no-touch-required: security keys (sk-*) may sign without a touch.
//   - cert-authority: certificates are not supported; the line is skipped.
//   - port-forwarding, agent-forwarding, x11-forwarding, user-rc (and their
//     no- forms), permitopen, permitlisten, tunnel, environment and
//     principals are accepted and have no effect: the server offers none of
//     them.
//   - any other option, a repeated from=, command= or principals=, or a
//     malformed value makes the line let nobody in (sshd skips such lines).
//
// As in sshd, the lines holding the offered key are tried in order and the
// first one whose options let it in decides.
package authkeys

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// Entry is one key line.
type Entry struct {
	// Line is the 1-based line number in the file.
	Line    int
	Key     gossh.PublicKey
	Comment string
	Options Options
	// Bad says why the line lets nobody in (a malformed or unknown
	// option); empty if its options are understood.
	Bad string
}

// Options are a line's key options, as far as they matter here.
type Options struct {
	// From is the from= pattern list; HasFrom says it was given.
	From    string
	HasFrom bool
	// Expiry is the expiry-time= (the earliest if repeated); zero if none.
	Expiry time.Time
	// PTY says a session may have a terminal (no-pty and restrict clear
	// it, pty sets it again).
	PTY bool
	// Command is command=; HasCommand says it was given.
	Command    string
	HasCommand bool
	// CertAuthority marks the key as a certificate authority.
	CertAuthority bool
	// VerifyRequired and NoTouchRequired are the security-key options.
	VerifyRequired  bool
	NoTouchRequired bool
	// Ignored names the options accepted without effect here.
	Ignored []string
}

// Read reads an authorized_keys file; expiry times without a zone are in
// loc (time.Local for sshd's meaning).
func Read(path string, loc *time.Location) ([]Entry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("authorized keys: %w (the explorer is served only to the public keys listed there; create it, e.g. from ~/.ssh/id_ed25519.pub)", err)
	}
	entries, err := Parse(data, loc)
	if err != nil {
		return nil, fmt.Errorf("authorized keys %s: %w", path, err)
	}
	return entries, nil
}

// Parse parses the content of an authorized_keys file: one key per line,
// blank lines and # comments ignored. A line whose key does not parse is
// an error naming it (so a typo lets nobody in rather than someone
// unintended), and so is a file without any key. A line with options it
// does not understand is returned with Bad set.
func Parse(data []byte, loc *time.Location) ([]Entry, error) {
	var entries []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, comment, opts, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		e := Entry{Line: n, Key: k, Comment: comment}
		if e.Options, err = ParseOptions(opts, loc); err != nil {
			e.Bad = err.Error()
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, errors.New("no public key in the file: add one key per line (the contents of an id_*.pub)")
	}
	return entries, nil
}

// flags are the options without a value; negatable ones also take no-.
var flags = map[string]bool{
	"restrict": false, "cert-authority": false,
	"port-forwarding": true, "agent-forwarding": true, "x11-forwarding": true,
	"touch-required": true, "verify-required": true, "pty": true, "user-rc": true,
}

// ParseOptions parses a line's options as split by
// golang.org/x/crypto/ssh.ParseAuthorizedKey (name or name="value").
// Names are case-insensitive, as in sshd.
func ParseOptions(opts []string, loc *time.Location) (Options, error) {
	o := Options{PTY: true}
	for _, raw := range opts {
		name, quoted, hasValue := strings.Cut(raw, "=")
		lname := strings.ToLower(name)
		if !hasValue {
			neg := false
			base := lname
			if rest, ok := strings.CutPrefix(lname, "no-"); ok && flags[rest] {
				base, neg = rest, true
			}
			negatable, ok := flags[base]
			if !ok || (neg && !negatable) {
				return o, fmt.Errorf("unknown option %q", raw)
			}
			switch base {
			case "restrict":
				o.PTY = false
			case "cert-authority":
				o.CertAuthority = true
			case "pty":
				o.PTY = !neg
			case "verify-required":
				o.VerifyRequired = !neg
			case "touch-required":
				o.NoTouchRequired = neg
			default:
				o.Ignored = append(o.Ignored, lname)
			}
			continue
		}
		v, err := dequote(quoted)
		if err != nil {
			return o, fmt.Errorf("option %s: %w", name, err)
		}
		switch lname {
		case "from":
			if o.HasFrom {
				return o, errors.New(`more than one from= option`)
			}
			if err := checkFrom(v); err != nil {
				return o, fmt.Errorf("from=%q: %w", v, err)
			}
			o.From, o.HasFrom = v, true
		case "expiry-time":
			t, err := ParseTime(v, loc)
			if err != nil {
				return o, fmt.Errorf("expiry-time=%q: %w", v, err)
			}
			if o.Expiry.IsZero() || t.Before(o.Expiry) {
				o.Expiry = t
			}
		case "command":
			if o.HasCommand {
				return o, errors.New(`more than one command= option`)
			}
			o.Command, o.HasCommand = v, true
		case "principals":
			if contains(o.Ignored, lname) {
				return o, errors.New(`more than one principals= option`)
			}
			o.Ignored = append(o.Ignored, lname)
		case "environment":
			if k, _, ok := strings.Cut(v, "="); !ok || !validEnvName(k) {
				return o, fmt.Errorf("environment=%q: want NAME=value", v)
			}
			o.Ignored = append(o.Ignored, lname)
		case "permitopen", "permitlisten", "tunnel":
			o.Ignored = append(o.Ignored, lname)
		default:
			if _, ok := flags[lname]; ok {
				return o, fmt.Errorf("option %s takes no value", name)
			}
			return o, fmt.Errorf("unknown option %q", name)
		}
	}
	return o, nil
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// dequote reads a double-quoted option value: \" stands for a quote, any
// other character (a backslash too) for itself, and nothing may follow
// the closing quote.
func dequote(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		return "", errors.New("the value must be in double quotes")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch {
		case s[i] == '\\' && i+1 < len(s) && s[i+1] == '"':
			b.WriteByte('"')
			i++
		case s[i] == '"':
			if i != len(s)-1 {
				return "", errors.New("text after the closing quote")
			}
			return b.String(), nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", errors.New("missing closing quote")
}

// ParseTime parses an expiry-time: YYYYMMDD, YYYYMMDDHHMM or
// YYYYMMDDHHMMSS, in loc, or in UTC with a Z or UTC suffix.
func ParseTime(s string, loc *time.Location) (time.Time, error) {
	v := s
	switch {
	case len(v) > 1 && strings.EqualFold(v[len(v)-1:], "z"):
		v, loc = v[:len(v)-1], time.UTC
	case len(v) > 3 && strings.EqualFold(v[len(v)-3:], "utc"):
		v, loc = v[:len(v)-3], time.UTC
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(v)]
	if !ok || strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
		return time.Time{}, errors.New("want YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS, optionally followed by Z for UTC")
	}
	if loc == nil {
		loc = time.Local
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return time.Time{}, err
	}
	if t.Unix() <= 0 {
		return time.Time{}, errors.New("the time must be after 1970-01-01")
	}
	return t, nil
}

// checkFrom checks a from= pattern list's syntax.
func checkFrom(list string) error {
	_, err := MatchFrom(list, netip.IPv4Unspecified())
	return err
}

// MatchFrom reports whether addr matches the from= pattern list: no
// negated pattern matches it and some other pattern does. An error (an
// empty pattern, a malformed network) is a refusal too.
func MatchFrom(list string, addr netip.Addr) (bool, error) {
	addr = addr.Unmap().WithZone("")
	ip := strings.ToLower(addr.String())
	ok := false
	for _, p := range strings.Split(list, ",") {
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if p == "" {
			return false, errors.New("empty pattern")
		}
		var hit bool
		if pfx, isNet, err := parseNet(p); err != nil {
			return false, err
		} else if isNet {
			hit = addr.IsValid() && pfx.Contains(addr)
		} else {
			hit = addr.IsValid() && Match(ip, strings.ToLower(p))
		}
		if hit && neg {
			return false, nil
		}
		ok = ok || hit
	}
	return ok, nil
}

// parseNet reads an address or a CIDR network; isNet is false for a
// wildcard or host pattern.
func parseNet(p string) (netip.Prefix, bool, error) {
	if a, err := netip.ParseAddr(p); err == nil {
		if a.Zone() != "" {
			return netip.Prefix{}, false, fmt.Errorf("%q: zones are not supported", p)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true, nil
	}
	if !strings.Contains(p, "/") {
		return netip.Prefix{}, false, nil
	}
	pfx, err := netip.ParsePrefix(p)
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("%q is not a network (want e.g. 10.0.0.0/8)", p)
	}
	if pfx.Masked() != pfx {
		return netip.Prefix{}, false, fmt.Errorf("%q has bits set beyond the mask (want %s)", p, pfx.Masked())
	}
	if pfx.Addr().Is4In6() {
		return netip.Prefix{}, false, fmt.Errorf("%q: write IPv4 networks as such", p)
	}
	return pfx, true, nil
}

// Match reports whether s matches the pattern p, where * matches any run
// of characters and ? any one byte.
func Match(s, p string) bool {
	// Greedy with backtracking to the last star: O(len(s)·len(p)).
	si, pi := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			mark++
			si, pi = mark, star+1
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// Check decides whether key, offered from addr at now, may log in: the
// lines holding that key are tried in order and the first whose options
// let it in decides. With ok false, why says what each line holding the
// key decided (nothing: the key is not listed).
func Check(entries []Entry, key gossh.PublicKey, addr netip.Addr, now time.Time) (e Entry, ok bool, why []string) {
	marshaled := key.Marshal()
	for _, e := range entries {
		if !bytes.Equal(e.Key.Marshal(), marshaled) {
			continue
		}
		o := e.Options
		switch {
		case e.Bad != "":
			why = append(why, fmt.Sprintf("line %d: %s (the line lets nobody in)", e.Line, e.Bad))
			continue
		case o.CertAuthority:
			why = append(why, fmt.Sprintf("line %d: cert-authority (certificates are not supported)", e.Line))
			continue
		case !o.Expiry.IsZero() && o.Expiry.Before(now):
			why = append(why, fmt.Sprintf("line %d: expired at %s", e.Line, o.Expiry.Format(time.RFC3339)))
			continue
		case o.HasFrom:
			if m, err := MatchFrom(o.From, addr); err != nil || !m {
				why = append(why, fmt.Sprintf("line %d: from=%q does not allow %s", e.Line, o.From, addr))
				continue
			}
		}
		// This line lets the key in: it decides.
		switch {
		case o.HasCommand:
			return e, false, append(why, fmt.Sprintf("line %d: command= is not supported (the explorer runs no commands): key refused", e.Line))
		case o.VerifyRequired:
			return e, false, append(why, fmt.Sprintf("line %d: verify-required cannot be enforced here: key refused", e.Line))
		}
		return e, true, nil
	}
	return Entry{}, false, why
}

// Warnings are what an operator should know about the file at start:
// lines that let nobody in, keys that will be refused, options without
// effect.
func Warnings(entries []Entry, now time.Time) []string {
	var out []string
	for _, e := range entries {
		o := e.Options
		at := fmt.Sprintf("authorized keys line %d (%s %q)", e.Line, gossh.FingerprintSHA256(e.Key), e.Comment)
		switch {
		case e.Bad != "":
			out = append(out, fmt.Sprintf("%s: %s: the line lets nobody in", at, e.Bad))
		case o.CertAuthority:
			out = append(out, at+": cert-authority: certificates are not supported, the line is skipped")
		case o.HasCommand:
			out = append(out, at+": command= is not supported (the explorer runs no commands): the key is refused")
		case o.VerifyRequired:
			out = append(out, at+": verify-required cannot be enforced: the key is refused")
		case !o.Expiry.IsZero() && o.Expiry.Before(now):
			out = append(out, fmt.Sprintf("%s: expired at %s", at, o.Expiry.Format(time.RFC3339)))
		case !o.PTY:
			out = append(out, at+": no terminal allowed (no-pty or restrict): its sessions are refused, the explorer needs one")
		}
	}
	return out
}
