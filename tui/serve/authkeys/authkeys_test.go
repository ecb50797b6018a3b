package authkeys

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// zone is a fixed local zone (UTC+2) so that expiry times do not depend on
// the machine's.
var zone = time.FixedZone("test", 2*3600)

func newKey(t testing.TB) gossh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func line(opts string, k gossh.PublicKey, comment string) string {
	l := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
	if opts != "" {
		l = opts + " " + l
	}
	if comment != "" {
		l += " " + comment
	}
	return l + "\n"
}

func TestParse(t *testing.T) {
	k := newKey(t)
	tests := []struct {
		name string
		data string
		n    int
		bad  []int // lines (1-based) with Bad set
		err  string
	}{
		{"one", line("", k, ""), 1, nil, ""},
		{"comments and blanks", "# c\n\n" + line("", k, "") + "  \n" + line("", k, "a@b"), 2, nil, ""},
		{"options and comment", line(`from="127.0.0.1",no-pty`, k, "alice@laptop"), 1, nil, ""},
		{"unknown option", line(`frobnicate`, k, "") + line("", k, ""), 2, []int{1}, ""},
		{"garbage line", line("", k, "") + "ssh-ed25519 notbase64!!\n", 0, nil, "line 2"},
		{"empty", "", 0, nil, "no public key"},
		{"only comments", "# nobody yet\n", 0, nil, "no public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, err := Parse([]byte(tc.data), zone)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || len(es) != tc.n {
				t.Fatalf("%d entries, %v; want %d", len(es), err, tc.n)
			}
			var bad []int
			for _, e := range es {
				if e.Bad != "" {
					bad = append(bad, e.Line)
				}
			}
			if len(bad) != len(tc.bad) || (len(bad) > 0 && bad[0] != tc.bad[0]) {
				t.Errorf("bad lines %v, want %v", bad, tc.bad)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	exp := time.Date(2031, 2, 3, 0, 0, 0, 0, zone)
	tests := []struct {
		opts string // comma-separated as ParseAuthorizedKey splits them
		want Options
		err  string
	}{
		{"", Options{PTY: true}, ""},
		{`no-pty`, Options{}, ""},
		{`NO-PTY`, Options{}, ""},
		{`restrict`, Options{}, ""},
		{`restrict,pty`, Options{PTY: true}, ""},
		{`pty,restrict`, Options{}, ""},
		{`no-pty,pty`, Options{PTY: true}, ""},
		{`from="10.0.0.0/8,!10.9.9.9"`, Options{PTY: true, From: "10.0.0.0/8,!10.9.9.9", HasFrom: true}, ""},
		{`From="*"`, Options{PTY: true, From: "*", HasFrom: true}, ""},
		{`expiry-time="20310203"`, Options{PTY: true, Expiry: exp}, ""},
		{`expiry-time="20320101",expiry-time="20310203"`, Options{PTY: true, Expiry: exp}, ""},
		{`command="echo \"hi\""`, Options{PTY: true, Command: `echo "hi"`, HasCommand: true}, ""},
		{`command="a\b"`, Options{PTY: true, Command: `a\b`, HasCommand: true}, ""},
		{`cert-authority`, Options{PTY: true, CertAuthority: true}, ""},
		{`verify-required`, Options{PTY: true, VerifyRequired: true}, ""},
		{`no-touch-required`, Options{PTY: true, NoTouchRequired: true}, ""},
		{`no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc`, Options{PTY: true,
			Ignored: []string{"no-port-forwarding", "no-agent-forwarding", "no-x11-forwarding", "no-user-rc"}}, ""},
		{`environment="LANG=C",permitopen="h:22",permitlisten="8080",tunnel="1",principals="a"`, Options{PTY: true,
			Ignored: []string{"environment", "permitopen", "permitlisten", "tunnel", "principals"}}, ""},
		{`frobnicate`, Options{}, "unknown option"},
		{`no-restrict`, Options{}, "unknown option"},
		{`ptyx`, Options{}, "unknown option"},
		{`pty="yes"`, Options{}, "takes no value"},
		{`colour="red"`, Options{}, "unknown option"},
		{`from=10.0.0.1`, Options{}, "double quotes"},
		{`from="10.0.0.1`, Options{}, "missing closing quote"},
		{`from="a"b`, Options{}, "after the closing quote"},
		{`from="a",from="b"`, Options{}, "more than one from="},
		{`command="a",command="b"`, Options{}, "more than one command="},
		{`from="10.0.0.1/8"`, Options{}, "beyond the mask"},
		{`from="10.0.0.0/33"`, Options{}, "not a network"},
		{`from="a,,b"`, Options{}, "empty pattern"},
		{`from="!"`, Options{}, "empty pattern"},
		{`expiry-time="2031"`, Options{}, "want YYYYMMDD"},
		{`expiry-time="20311301"`, Options{}, "month out of range"},
		{`expiry-time="19600101"`, Options{}, "after 1970"},
		{`environment="=x"`, Options{}, "NAME=value"},
	}
	for _, tc := range tests {
		t.Run(tc.opts, func(t *testing.T) {
			var opts []string
			if tc.opts != "" {
				opts = splitOptions(tc.opts)
			}
			got, err := ParseOptions(opts, zone)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.From != tc.want.From || got.HasFrom != tc.want.HasFrom || !got.Expiry.Equal(tc.want.Expiry) ||
				got.PTY != tc.want.PTY || got.Command != tc.want.Command || got.HasCommand != tc.want.HasCommand ||
				got.CertAuthority != tc.want.CertAuthority || got.VerifyRequired != tc.want.VerifyRequired ||
				got.NoTouchRequired != tc.want.NoTouchRequired || strings.Join(got.Ignored, ",") != strings.Join(tc.want.Ignored, ",") {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// splitOptions splits an options field as ParseAuthorizedKey does, by
// parsing a whole line; a field it refuses (an unmatched quote) is split
// at commas.
func splitOptions(s string) []string {
	k, _ := gossh.NewPublicKey(make(ed25519.PublicKey, ed25519.PublicKeySize))
	_, _, opts, _, err := gossh.ParseAuthorizedKey([]byte(line(s, k, "")))
	if err != nil {
		return strings.Split(s, ",")
	}
	return opts
}

func TestParseTime(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"20000101", time.Date(2000, 1, 1, 0, 0, 0, 0, zone), false},
		{"203012312359", time.Date(2030, 12, 31, 23, 59, 0, 0, zone), false},
		{"20301231235958", time.Date(2030, 12, 31, 23, 59, 58, 0, zone), false},
		{"20000101Z", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"20000101z", time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		{"203012312359UTC", time.Date(2030, 12, 31, 23, 59, 0, 0, time.UTC), false},
		{"2000010", time.Time{}, true},
		{"200001011", time.Time{}, true},
		{"2000-101", time.Time{}, true},
		{"+0000101", time.Time{}, true},
		{"20000230", time.Time{}, true},
		{"20000101246000", time.Time{}, true},
		{"Z", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tc := range tests {
		got, err := ParseTime(tc.in, zone)
		if (err != nil) != tc.err || !got.Equal(tc.want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v (error %v)", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestMatchFrom(t *testing.T) {
	tests := []struct {
		list, addr string
		want       bool
		err        bool
	}{
		{"127.0.0.1", "127.0.0.1", true, false},
		{"10.9.9.9", "127.0.0.1", false, false},
		{"127.0.0.0/8", "127.1.2.3", true, false},
		{"10.0.0.0/8", "127.0.0.1", false, false},
		{"127.0.0.*", "127.0.0.1", true, false},
		{"127.0.0.?", "127.0.0.1", true, false},
		{"127.0.0.?", "127.0.0.10", false, false},
		{"*", "127.0.0.1", true, false},
		{"*,!127.0.0.1", "127.0.0.1", false, false},
		{"!127.0.0.1,*", "127.0.0.1", false, false},
		{"!127.0.0.0/8,*", "127.0.0.1", false, false},
		{"!10.0.0.0/8,*", "127.0.0.1", true, false},
		{"!10.0.0.1", "127.0.0.1", false, false}, // only a negation: nothing allows it
		{"::1", "::1", true, false},
		{"fe80::/10", "fe80::1", true, false},
		{"FE80::*", "fe80::1", true, false},
		{"127.0.0.1", "::ffff:127.0.0.1", true, false},
		{"10.0.0.0/8", "::1", false, false},
		{"gpu-box.example.com", "127.0.0.1", false, false}, // names are not resolved
		{"10.0.0.1/8", "10.0.0.1", false, true},
		{"10.0.0.0/33", "10.0.0.1", false, true},
		{"", "127.0.0.1", false, true},
		{"127.0.0.1,", "127.0.0.1", false, true},
		{"fe80::1%eth0", "fe80::1", false, true},
	}
	for _, tc := range tests {
		got, err := MatchFrom(tc.list, netip.MustParseAddr(tc.addr))
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("MatchFrom(%q, %s) = %v, %v; want %v (error %v)", tc.list, tc.addr, got, err, tc.want, tc.err)
		}
	}
	if ok, _ := MatchFrom("*", netip.Addr{}); ok {
		t.Error("an unknown address matched *")
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		s, p string
		want bool
	}{
		{"", "", true},
		{"", "*", true},
		{"a", "", false},
		{"abc", "a*c", true},
		{"abc", "a*b", false},
		{"abcbc", "*bc", true},
		{"abc", "???", true},
		{"abc", "????", false},
		{"aaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*c", false},
	}
	for _, tc := range tests {
		if got := Match(tc.s, tc.p); got != tc.want {
			t.Errorf("Match(%q, %q) = %v", tc.s, tc.p, got)
		}
	}
}

func TestCheck(t *testing.T) {
	alice, bob := newKey(t), newKey(t)
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, zone)
	local := netip.MustParseAddr("127.0.0.1")
	tests := []struct {
		name    string
		file    string
		key     gossh.PublicKey
		ok      bool
		line    int    // the deciding line when ok
		pty     bool   // its terminal permission
		why     string // part of the reasons when refused
		nowhyOK bool   // refused without any reason (not listed)
	}{
		{"plain", line("", alice, ""), alice, true, 1, true, "", false},
		{"not listed", line("", alice, ""), bob, false, 0, false, "", true},
		{"issue 13: from, no-pty, expired", line(`from="10.9.9.9",no-pty,expiry-time="20000101"`, alice, ""), alice, false, 0, false, "expired", false},
		{"from elsewhere", line(`from="10.9.9.9"`, alice, ""), alice, false, 0, false, `from="10.9.9.9" does not allow 127.0.0.1`, false},
		{"from here", line(`from="127.0.0.0/8"`, alice, ""), alice, true, 1, true, "", false},
		{"not expired yet", line(`expiry-time="20300601130000"`, alice, ""), alice, true, 1, true, "", false},
		{"expired an hour ago", line(`expiry-time="20300601110000"`, alice, ""), alice, false, 0, false, "expired", false},
		{"expired in UTC", line(`expiry-time="20300601110000Z"`, alice, ""), alice, true, 1, true, "", false},
		{"no-pty lets in, without a terminal", line(`no-pty`, alice, ""), alice, true, 1, false, "", false},
		{"restrict,pty", line(`restrict,pty`, alice, ""), alice, true, 1, true, "", false},
		{"command refuses", line(`command="uptime"`, alice, ""), alice, false, 0, false, "command= is not supported", false},
		{"command decides over a later line", line(`command="uptime"`, alice, "") + line("", alice, ""), alice, false, 0, false, "command=", false},
		{"command on a line from elsewhere is skipped", line(`from="10.0.0.1",command="uptime"`, alice, "") + line("", alice, ""), alice, true, 2, true, "", false},
		{"verify-required refuses", line(`verify-required`, alice, ""), alice, false, 0, false, "verify-required", false},
		{"bad line skipped", line(`frobnicate`, alice, "") + line("no-pty", alice, ""), alice, true, 2, false, "", false},
		{"bad line alone", line(`frobnicate`, alice, ""), alice, false, 0, false, "unknown option", false},
		{"cert-authority skipped", line(`cert-authority`, alice, "") + line("", alice, ""), alice, true, 2, true, "", false},
		{"cert-authority alone", line(`cert-authority`, alice, ""), alice, false, 0, false, "certificates are not supported", false},
		{"first allowing line decides", line(`from="10.0.0.1"`, alice, "") + line("no-pty", alice, "") + line("", alice, ""), alice, true, 2, false, "", false},
		{"other key's lines ignored", line(`command="x"`, bob, "") + line("", alice, ""), alice, true, 2, true, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			es, err := Parse([]byte(tc.file), zone)
			if err != nil {
				t.Fatal(err)
			}
			e, ok, why := Check(es, tc.key, local, now)
			if ok != tc.ok {
				t.Fatalf("ok %v, want %v (%v)", ok, tc.ok, why)
			}
			if ok {
				if e.Line != tc.line || e.Options.PTY != tc.pty {
					t.Errorf("line %d pty %v, want line %d pty %v", e.Line, e.Options.PTY, tc.line, tc.pty)
				}
				return
			}
			all := strings.Join(why, "; ")
			if tc.nowhyOK != (len(why) == 0) || !strings.Contains(all, tc.why) {
				t.Errorf("reasons %q, want %q", all, tc.why)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	k := newKey(t)
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, zone)
	file := line("", k, "fine") + line("frobnicate", k, "bad") + line("cert-authority", k, "ca") + line(`command="x"`, k, "cmd") +
		line("verify-required", k, "uv") + line(`expiry-time="20000101"`, k, "old") + line("restrict", k, "\x1b[31mred")
	es, err := Parse([]byte(file), zone)
	if err != nil {
		t.Fatal(err)
	}
	ws := Warnings(es, now)
	want := []string{"line 2", "line 3", "line 4", "line 5", "line 6", "line 7"}
	if len(ws) != len(want) {
		t.Fatalf("%d warnings, want %d: %q", len(ws), len(want), ws)
	}
	for i, w := range ws {
		if !strings.Contains(w, want[i]) || !strings.Contains(w, gossh.FingerprintSHA256(k)) {
			t.Errorf("warning %q, want one about %s naming the key", w, want[i])
		}
		if strings.ContainsRune(w, 0x1b) {
			t.Errorf("warning %q holds a raw control character", w)
		}
	}
}

// FuzzParse: any file either fails with an error or yields keys, each
// with a line number within the file.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		es, err := Parse(data, zone)
		if err == nil && len(es) == 0 {
			t.Fatal("no error and no key")
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, e := range es {
			if e.Key == nil || e.Line < 1 || e.Line > lines {
				t.Fatalf("entry %+v of %d lines", e, lines)
			}
		}
	})
}

// FuzzParseOptions: the option parser never panics, and what it accepts
// is consistent: a from= list it accepted can be matched without error.
func FuzzParseOptions(f *testing.F) {
	addrs := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1"), netip.MustParseAddr("10.9.9.9")}
	f.Fuzz(func(t *testing.T, field string) {
		o, err := ParseOptions(strings.Split(field, ","), zone)
		if err != nil {
			return
		}
		if o.HasFrom {
			for _, a := range addrs {
				if _, err := MatchFrom(o.From, a); err != nil {
					t.Fatalf("accepted from=%q, then: %v", o.From, err)
				}
			}
		}
		if !o.Expiry.IsZero() && o.Expiry.Unix() <= 0 {
			t.Fatalf("expiry %v", o.Expiry)
		}
	})
}

// FuzzMatchFrom: matching never panics, a negated pattern that matches
// always refuses, and Match agrees with itself on a literal pattern.
func FuzzMatchFrom(f *testing.F) {
	f.Fuzz(func(t *testing.T, list, addr string) {
		a, err := netip.ParseAddr(addr)
		if err != nil {
			return
		}
		ok, err := MatchFrom(list, a)
		if err != nil && ok {
			t.Fatal("an error and a match")
		}
		if err == nil {
			if neg, _ := MatchFrom("!"+a.Unmap().WithZone("").String()+","+list, a); neg {
				t.Fatalf("a negated exact address matched %s", a)
			}
		}
		if !strings.ContainsAny(list, "*?") && !Match(list, list) {
			t.Fatalf("%q does not match itself", list)
		}
	})
}
