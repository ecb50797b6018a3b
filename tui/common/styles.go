package common

import (
	"image/color"

	"charm.land/lipgloss/v2"
)

// Styles are the explorer's styles. With colour off every style is plain
// (no escape sequence at all), so the views must never rely on a style
// alone: selections, pruned cells and warnings also carry a symbol.
type Styles struct {
	Color bool

	Title, Muted, Bold  lipgloss.Style
	TabActive, Tab      lipgloss.Style
	Header, Selected    lipgloss.Style
	Error, Warn, OK     lipgloss.Style
	Label               lipgloss.Style // provenance labels: "simulated", "proxy"
	Status, HelpKey     lipgloss.Style
	Pruned, Few, Cursor lipgloss.Style
	Box                 lipgloss.Style

	// heat holds the heat-map styles from best (index 0) to worst.
	heat []lipgloss.Style
}

// HeatLevels is the number of heat-map bins (odd: the middle one is
// "about zero").
const HeatLevels = 5

// heatGlyphs mark the bins without colour, from best to worst.
var heatGlyphs = [HeatLevels]string{"--", "-", "=", "+", "++"}

// NewStyles returns the styles for colour on or off.
func NewStyles(on bool) *Styles {
	s := &Styles{Color: on}
	plain := lipgloss.NewStyle()
	s.Title, s.Muted, s.Bold = plain, plain, plain
	s.TabActive, s.Tab = plain, plain
	s.Header, s.Selected = plain, plain
	s.Error, s.Warn, s.OK, s.Label = plain, plain, plain, plain
	s.Status, s.HelpKey = plain, plain
	s.Pruned, s.Few, s.Cursor, s.Box = plain, plain, plain, plain
	s.heat = make([]lipgloss.Style, HeatLevels)
	for i := range s.heat {
		s.heat[i] = plain
	}
	if !on {
		return s
	}
	c := func(n string) color.Color { return lipgloss.Color(n) }
	s.Title = plain.Bold(true)
	s.Muted = plain.Foreground(c("8"))
	s.Bold = plain.Bold(true)
	s.TabActive = plain.Bold(true).Reverse(true)
	s.Tab = plain.Foreground(c("8"))
	s.Header = plain.Bold(true).Foreground(c("12"))
	s.Selected = plain.Reverse(true)
	s.Error = plain.Foreground(c("9"))
	s.Warn = plain.Foreground(c("11"))
	s.OK = plain.Foreground(c("10"))
	s.Label = plain.Foreground(c("13"))
	s.Status = plain.Foreground(c("14"))
	s.HelpKey = plain.Bold(true)
	s.Pruned = plain.Foreground(c("8")).Strikethrough(true)
	s.Few = plain.Faint(true)
	s.Cursor = plain.Reverse(true).Bold(true)
	s.Box = plain.Border(lipgloss.RoundedBorder()).BorderForeground(c("8")).Padding(0, 1)
	// Best (green) to worst (red) through the terminal's default colour.
	s.heat = []lipgloss.Style{
		plain.Foreground(c("10")).Bold(true),
		plain.Foreground(c("2")),
		plain,
		plain.Foreground(c("3")),
		plain.Foreground(c("9")).Bold(true),
	}
	return s
}

// Heat is the style of heat-map bin level (0 best … HeatLevels-1 worst).
func (s *Styles) Heat(level int) lipgloss.Style {
	return s.heat[clamp(level, 0, HeatLevels-1)]
}

// HeatGlyph is the plain symbol of a bin, used when colour is off.
func HeatGlyph(level int) string { return heatGlyphs[clamp(level, 0, HeatLevels-1)] }

// HeatLevel bins v against scale (the largest magnitude shown): the middle
// bin holds |v| below a tenth of the scale, the outer bins more than half
// of it. higherIsBetter flips the direction (accuracy).
func HeatLevel(v, scale float64, higherIsBetter bool) int {
	if higherIsBetter {
		v = -v
	}
	if scale <= 0 {
		return HeatLevels / 2
	}
	r := v / scale
	switch {
	case r <= -0.5:
		return 0
	case r <= -0.1:
		return 1
	case r < 0.1:
		return 2
	case r < 0.5:
		return 3
	}
	return 4
}

func clamp(v, lo, hi int) int { return min(max(v, lo), hi) }
