// Package teststep drives Bubble Tea models in tests without a program:
// Update, then run the returned commands and feed their messages back,
// dropping commands that do not answer quickly (ticks, subscriptions that
// wait for events).
package teststep

import (
	"time"

	tea "charm.land/bubbletea/v2"
)

// Wait is how long a command may take before it is dropped.
const Wait = 300 * time.Millisecond

// Run runs cmd and returns the messages it produced within Wait,
// flattening batches. Quit messages are returned like any other.
func Run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	ch := make(chan tea.Msg, 1)
	go func() { ch <- cmd() }()
	var msg tea.Msg
	select {
	case msg = <-ch:
	case <-time.After(Wait):
		return nil
	}
	switch m := msg.(type) {
	case nil:
		return nil
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range m {
			out = append(out, Run(c)...)
		}
		return out
	}
	return []tea.Msg{msg}
}

// Model is any model with a value Update of its own type.
type Model[M any] interface {
	Update(tea.Msg) (M, tea.Cmd)
}

// Settle updates m with msg, then with every message its commands produce,
// until none is left (at most 100 rounds). It returns the model and the
// messages it did not route back because they quit the program.
func Settle[M Model[M]](m M, msgs ...tea.Msg) (M, bool) {
	quit := false
	for round := 0; len(msgs) > 0 && round < 100; round++ {
		var next []tea.Msg
		for _, msg := range msgs {
			if _, ok := msg.(tea.QuitMsg); ok {
				quit = true
				continue
			}
			var cmd tea.Cmd
			m, cmd = m.Update(msg)
			next = append(next, Run(cmd)...)
		}
		msgs = next
	}
	return m, quit
}

// Key is a key press of a printable key or a named one ("enter", "esc",
// "space", "tab", "up", "down", "left", "right", "backspace", "ctrl+c",
// "shift+tab").
func Key(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "left":
		return tea.KeyPressMsg{Code: tea.KeyLeft}
	case "right":
		return tea.KeyPressMsg{Code: tea.KeyRight}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "ctrl+u":
		return tea.KeyPressMsg{Code: 'u', Mod: tea.ModCtrl}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

// Keys returns the key presses of each string.
func Keys(ss ...string) []tea.Msg {
	out := make([]tea.Msg, len(ss))
	for i, s := range ss {
		out[i] = Key(s)
	}
	return out
}

// teaModel adapts a tea.Model to Model.
type teaModel struct{ tea.Model }

func (t teaModel) Update(msg tea.Msg) (teaModel, tea.Cmd) {
	m, cmd := t.Model.Update(msg)
	return teaModel{m}, cmd
}

// SettleTea is Settle for a tea.Model.
func SettleTea(m tea.Model, msgs ...tea.Msg) (tea.Model, bool) {
	out, quit := Settle(teaModel{m}, msgs...)
	return out.Model, quit
}
