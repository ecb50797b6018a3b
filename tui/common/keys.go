package common

import "charm.land/bubbles/v2/key"

// KeyMap holds every binding of the explorer. Components pick theirs for
// the help bar.
type KeyMap struct {
	// Global.
	Quit, Help, Devices, Friendliness, Pareto, Compare, NextView, Export, Back key.Binding
	// Movement.
	Up, Down, Left, Right key.Binding
	// Devices view.
	Pause, Cancel, Remeasure key.Binding
	// Friendliness view. Depth lowers the focused unit's max depth,
	// DepthUp raises it; MinDepthUp and MinDepthDown move its min depth.
	Expand, Stat, Details, Prune, Depth, DepthUp, MinDepthUp, MinDepthDown, Suggest, Load, Device, Metric, Clear key.Binding
	// Pareto view.
	Search, StopSearch key.Binding
	// Prompts.
	Confirm, Deny key.Binding
}

// DefaultKeyMap is the explorer's key map.
func DefaultKeyMap() *KeyMap {
	b := func(keys []string, k, help string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, help))
	}
	return &KeyMap{
		Quit:         b([]string{"q", "ctrl+c"}, "q", "quit"),
		Help:         b([]string{"?"}, "?", "help"),
		Devices:      b([]string{"1"}, "1", "devices"),
		Friendliness: b([]string{"2"}, "2", "friendliness"),
		Pareto:       b([]string{"3"}, "3", "pareto"),
		Compare:      b([]string{"4"}, "4", "compare devices"),
		NextView:     b([]string{"shift+tab"}, "shift+tab", "next view"),
		Export:       b([]string{"e"}, "e", "export"),
		Back:         b([]string{"esc"}, "esc", "close"),
		Up:           b([]string{"up", "k"}, "↑/k", "up"),
		Down:         b([]string{"down", "j"}, "↓/j", "down"),
		Left:         b([]string{"left", "h"}, "←/h", "left"),
		Right:        b([]string{"right", "l"}, "→/l", "right"),
		Pause:        b([]string{"p"}, "p", "pause/resume"),
		Cancel:       b([]string{"x"}, "x", "cancel device"),
		Remeasure:    b([]string{"r"}, "r", "re-measure noisy archs"),
		Expand:       b([]string{"L"}, "L", "units/layers"),
		Stat:         b([]string{"S"}, "S", "statistic"),
		Details:      b([]string{"enter"}, "enter", "details"),
		Prune:        b([]string{"space"}, "space", "prune"),
		Depth:        b([]string{"d"}, "d", "max depth −"),
		DepthUp:      b([]string{"D"}, "D", "max depth +"),
		MinDepthUp:   b([]string{">"}, ">", "min depth +"),
		MinDepthDown: b([]string{"<"}, "<", "min depth −"),
		Suggest:      b([]string{"s"}, "s", "suggested cuts"),
		Load:         b([]string{"o"}, "o", "load from file"),
		Device:       b([]string{"tab"}, "tab", "device"),
		Metric:       b([]string{"m"}, "m", "metric"),
		Clear:        b([]string{"c"}, "c", "clear cuts"),
		Search:       b([]string{"g"}, "g", "search"),
		StopSearch:   b([]string{"G"}, "G", "stop search"),
		Confirm:      b([]string{"y", "enter"}, "y", "yes"),
		Deny:         b([]string{"n", "esc"}, "n", "no"),
	}
}
