package common

import (
	"fmt"
	"math"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Num formats x with about digits significant digits, never in exponent
// form for ordinary magnitudes; NaN is "–".
func Num(x float64, digits int) string {
	switch {
	case math.IsNaN(x):
		return "–"
	case math.IsInf(x, 1):
		return "∞"
	case math.IsInf(x, -1):
		return "-∞"
	case x == 0:
		return "0"
	}
	mag := int(math.Floor(math.Log10(math.Abs(x))))
	dec := digits - 1 - mag
	if dec < 0 {
		dec = 0
	}
	if dec > 6 {
		return fmt.Sprintf("%.*g", digits, x)
	}
	return fmt.Sprintf("%.*f", dec, x)
}

// Signed is Num with a leading "+" for positive values.
func Signed(x float64, digits int) string {
	s := Num(x, digits)
	if x > 0 && !math.IsInf(x, 0) {
		return "+" + s
	}
	return s
}

// Duration formats d compactly: "45s", "3m20s", "2h05m"; 0 is "–".
func Duration(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	}
	return fmt.Sprintf("%ds", s)
}

// Percent formats a fraction as a percentage: 0.0123 → "1.2%".
func Percent(f float64) string {
	if math.IsNaN(f) {
		return "–"
	}
	return Num(f*100, 2) + "%"
}

// Fit pads or truncates s (which may hold escape sequences) to exactly w
// cells, left aligned.
func Fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return s + strings.Repeat(" ", w-sw)
}

// FitRight pads or truncates s to exactly w cells, right aligned.
func FitRight(s string, w int) string {
	if w <= 0 {
		return ""
	}
	sw := ansi.StringWidth(s)
	if sw > w {
		return ansi.Truncate(s, w, "…")
	}
	return strings.Repeat(" ", w-sw) + s
}

// Block makes s exactly h lines of exactly w cells: long lines are cut,
// short ones padded, missing lines added.
func Block(s string, w, h int) string {
	if w <= 0 || h <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > h {
		lines = lines[:h]
	}
	var b strings.Builder
	for i := range h {
		if i > 0 {
			b.WriteByte('\n')
		}
		line := ""
		if i < len(lines) {
			line = lines[i]
		}
		b.WriteString(Fit(line, w))
	}
	return b.String()
}

// Wrap wraps s to w cells.
func Wrap(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return lipgloss.Wrap(s, w, " ,/")
}
