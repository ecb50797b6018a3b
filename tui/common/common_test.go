package common

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
)

func TestHeatLevel(t *testing.T) {
	tests := []struct {
		v, scale float64
		higher   bool
		want     int
	}{
		{-1, 1, false, 0},
		{-0.5, 1, false, 0},
		{-0.3, 1, false, 1},
		{-0.05, 1, false, 2},
		{0, 1, false, 2},
		{0.05, 1, false, 2},
		{0.3, 1, false, 3},
		{0.9, 1, false, 4},
		{0.9, 1, true, 0}, // higher is better: a big positive effect is best
		{-0.9, 1, true, 4},
		{5, 0, false, 2}, // no scale: everything about zero
	}
	for _, tc := range tests {
		if got := HeatLevel(tc.v, tc.scale, tc.higher); got != tc.want {
			t.Errorf("HeatLevel(%v, %v, %v) = %d, want %d", tc.v, tc.scale, tc.higher, got, tc.want)
		}
	}
	for l := range HeatLevels {
		if HeatGlyph(l) == "" {
			t.Errorf("level %d has no glyph", l)
		}
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{Num(12.3456, 3), "12.3"},
		{Num(0.0123456, 3), "0.0123"},
		{Num(1234.6, 3), "1235"},
		{Num(0, 3), "0"},
		{Num(math.NaN(), 3), "–"},
		{Num(math.Inf(1), 3), "∞"},
		{Signed(0.5, 2), "+0.50"},
		{Signed(-0.5, 2), "-0.50"},
		{Signed(0, 2), "0"},
		{Percent(0.0123), "1.2%"},
		{Duration(0), "–"},
		{Duration(45 * time.Second), "45s"},
		{Duration(200 * time.Second), "3m20s"},
		{Duration(2*time.Hour + 5*time.Minute), "2h05m"},
	}
	for i, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("case %d: %q, want %q", i, tc.got, tc.want)
		}
	}
}

func TestFitAndBlock(t *testing.T) {
	for _, w := range []int{1, 5, 12} {
		for _, s := range []string{"", "abc", "a long line of text", "\x1b[1mbold\x1b[m text"} {
			if got := ansi.StringWidth(Fit(s, w)); got != w {
				t.Errorf("Fit(%q, %d) is %d wide", s, w, got)
			}
			if got := ansi.StringWidth(FitRight(s, w)); got != w {
				t.Errorf("FitRight(%q, %d) is %d wide", s, w, got)
			}
		}
	}
	b := Block("one\ntwo that is long\n", 6, 4)
	lines := strings.Split(b, "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if ansi.StringWidth(l) != 6 {
			t.Errorf("line %q", l)
		}
	}
	if Block("x", 0, 3) != "" || Block("x", 3, 0) != "" {
		t.Error("empty block not empty")
	}
}

func TestPlainStylesHaveNoEscapes(t *testing.T) {
	s := NewStyles(false)
	for i, st := range []string{s.Title.Render("a"), s.Error.Render("a"), s.Heat(0).Render("a"), s.Heat(4).Render("a"), s.Cursor.Render("a"), s.Pruned.Render("a")} {
		if strings.Contains(st, "\x1b") {
			t.Errorf("style %d: %q", i, st)
		}
	}
	c := NewStyles(true)
	if !strings.Contains(c.Heat(0).Render("a"), "\x1b[") {
		t.Error("colour styles render no colour")
	}
}

func TestDeviceInfo(t *testing.T) {
	// An unknown provenance is said, never taken for "measured".
	if got := (DeviceInfo{}).Source(); got != "provenance unknown" || (DeviceInfo{}).Measured() {
		t.Errorf("empty source %q", got)
	}
	d := DeviceInfo{Provenance: "simulated"}
	if d.Measured() || d.Source() != "simulated" {
		t.Errorf("sim device: %v %q", d.Measured(), d.Source())
	}
	d.Label = "simulated (npu)"
	if d.Source() != "simulated (npu)" {
		t.Errorf("label %q", d.Source())
	}
}
