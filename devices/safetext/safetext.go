// Package safetext makes text that came from a device safe to print on a
// terminal. A benchmark tool's output, an agent's error or hello, or an
// ssh or adb message may hold escape sequences that retitle, clear or
// recolour the user's terminal, move its cursor, or hide text; Escape turns
// every character that a terminal could act on into a visible escape, so
// the text reads the same wherever it is printed and cannot act.
//
// What is escaped, and how:
//
//   - C0 controls (U+0000–U+001F) other than tab and newline, and DEL
//     (U+007F): \xHH, e.g. ESC is \x1b, BEL \x07, NUL \x00. A carriage
//     return before a newline is dropped (CRLF line ends read as LF); any
//     other carriage return is \r, since it lets the rest of a line
//     overwrite its start.
//   - C1 controls (U+0080–U+009F, e.g. the one-character CSI U+009B):
//     \u009b.
//   - Unicode bidirectional formatting (U+061C, U+200E, U+200F,
//     U+202A–U+202E, U+2066–U+2069), which reorders what is displayed:
//     \u202e.
//   - Bytes that are not valid UTF-8: \xHH, so an invalid 0x9b byte (which
//     some terminals read as CSI) stays visible as \x9b.
//
// Backslashes are left as they are (paths stay readable), so Escape is
// for display, not a reversible encoding.
package safetext

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Escape returns s with every control character except tab and newline,
// every bidirectional formatting character and every invalid UTF-8 byte
// replaced by a visible escape (see the package comment). Text without
// them is returned unchanged.
func Escape(s string) string { return escape(s, false) }

// Line is Escape for text that must stay on one line (a device
// description, a table cell): tab and newline are escaped too, as \t and
// \n, so the text cannot start a line of its own.
func Line(s string) string { return escape(s, true) }

// Safe reports whether s holds nothing Escape would change: no control
// character but tab and newline, no bidirectional formatting, valid UTF-8.
func Safe(s string) bool { return clean(s, false) }

func escape(s string, oneLine bool) string {
	if clean(s, oneLine) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && !oneLine, r == '\t' && !oneLine:
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			if !oneLine && i+1 < len(s) && s[i+1] == '\n' {
				break // CRLF reads as LF
			}
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r <= 0x9f, bidi(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// clean reports whether s needs no escape (the common case, without
// allocating).
func clean(s string, oneLine bool) bool {
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c < 0x20 && (oneLine || c != '\n' && c != '\t') || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || r <= 0x9f || bidi(r) {
			return false
		}
		i += n
	}
	return true
}

// bidi reports whether r is a Unicode bidirectional formatting character.
func bidi(r rune) bool {
	return r == 0x061c || r == 0x200e || r == 0x200f || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}
