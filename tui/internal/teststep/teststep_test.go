package teststep

import "testing"

func TestKeyStrings(t *testing.T) {
	for _, s := range []string{"enter", "esc", "space", "tab", "shift+tab", "up", "down", "left", "right", "backspace", "ctrl+c", "ctrl+u", "L", "S", "?", "q"} {
		if got := Key(s).String(); got != s {
			t.Errorf("Key(%q).String() = %q", s, got)
		}
	}
}
