package safetext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// hostile are outputs a device tool could print to attack the terminal that
// shows its errors, with what Escape and Line make of them.
var hostile = []struct {
	name, in, escape, line string
}{
	{"plain", "latency 3.2 ms", "latency 3.2 ms", "latency 3.2 ms"},
	{"utf-8 text", "µs — Ünïcode ✓", "µs — Ünïcode ✓", "µs — Ünïcode ✓"},
	{"newline and tab", "a\tb\nc", "a\tb\nc", `a\tb\nc`},
	{"OSC retitle with BEL", "\x1b]0;pwned\x07ok", `\x1b]0;pwned\x07ok`, `\x1b]0;pwned\x07ok`},
	{"OSC retitle with ST", "\x1b]2;t\x1b\\", `\x1b]2;t\x1b\`, `\x1b]2;t\x1b\`},
	{"clear screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`, `\x1b[2J\x1b[H`},
	{"CSI colour and cursor", "\x1b[31mred\x1b[0m\x1b[10A", `\x1b[31mred\x1b[0m\x1b[10A`, `\x1b[31mred\x1b[0m\x1b[10A`},
	{"C1 CSI rune", "\u009b2J", `\u009b2J`, `\u009b2J`},
	{"C1 OSC and ST runes", "\u009d0;t\u009c", `\u009d0;t\u009c`, `\u009d0;t\u009c`},
	{"raw C1 byte (invalid UTF-8)", "\x9b2J", `\x9b2J`, `\x9b2J`},
	{"NUL and DEL", "a\x00b\x7fc", `a\x00b\x7fc`, `a\x00b\x7fc`},
	{"backspace over text", "ok\x08\x08no", `ok\x08\x08no`, `ok\x08\x08no`},
	{"invalid UTF-8", "ab\xff\xfe\xc3", `ab\xff\xfe\xc3`, `ab\xff\xfe\xc3`},
	{"CRLF line ends", "one\r\ntwo\r\n", "one\ntwo\n", `one\r\ntwo\r\n`},
	{"lone carriage return", "fake ok\rreal", `fake ok\rreal`, `fake ok\rreal`},
	{"bidi override", "abc\u202edcba\u202c", `abc\u202edcba\u202c`, `abc\u202edcba\u202c`},
	{"bidi isolate and mark", "\u2066x\u2069\u200f", `\u2066x\u2069\u200f`, `\u2066x\u2069\u200f`},
	{"escape in a multi-byte run", "é\x1bé", `é\x1bé`, `é\x1bé`},
	{"backslash kept", `C:\path\x1b`, `C:\path\x1b`, `C:\path\x1b`},
}

func TestEscape(t *testing.T) {
	for _, tc := range hostile {
		t.Run(tc.name, func(t *testing.T) {
			if got := Escape(tc.in); got != tc.escape {
				t.Errorf("Escape(%q) = %q, want %q", tc.in, got, tc.escape)
			}
			if got := Line(tc.in); got != tc.line {
				t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.line)
			}
		})
	}
}

// TestCleanTextIsNotCopied: text without anything to escape comes back as
// the same string.
func TestCleanTextIsNotCopied(t *testing.T) {
	in := strings.Repeat("GPU Compute Time: mean = 1.5 ms µ\n", 100)
	if got := Escape(in); got != in {
		t.Fatal("clean text changed")
	}
	if n := testing.AllocsPerRun(20, func() { _ = Escape(in) }); n != 0 {
		t.Errorf("Escape of clean text allocates %v times", n)
	}
}

// FuzzEscape: the output is valid UTF-8 without any character a terminal
// acts on (only tab and newline among the controls, none for Line), and
// escaping again changes nothing.
func FuzzEscape(f *testing.F) {
	for _, tc := range hostile {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, oneLine := range []bool{false, true} {
			out := escape(in, oneLine)
			if !utf8.ValidString(out) {
				t.Fatalf("escape(%q, %v) = %q: invalid UTF-8", in, oneLine, out)
			}
			for _, r := range out {
				allowed := !oneLine && (r == '\n' || r == '\t')
				if (r < 0x20 || r >= 0x7f && r <= 0x9f || bidi(r)) && !allowed {
					t.Fatalf("escape(%q, %v) = %q keeps %U", in, oneLine, out, r)
				}
			}
			if again := escape(out, oneLine); again != out {
				t.Fatalf("escape is not idempotent on %q: %q then %q", in, out, again)
			}
		}
	})
}
