// Package export is the explorer's export prompt: it asks for a path
// (default from the space and the device), shows which file that names
// when the writer can tell (Locator), confirms before overwriting, has the
// engine side write the reduced space's TOML, and shows what was written.
//
// Locally the writer is tui/app's, which writes where the user says. A
// session served over SSH writes through Dir instead: only under the
// server's export directory (engine/exportdir), whatever path it types.
package export

import (
	"errors"
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"blockprof/engine/exportdir"
	"blockprof/model"
	"blockprof/tui/common"
)

// ErrExists is wrapped by Writer.Export when the file exists and
// overwrite is false.
var ErrExists = exportdir.ErrExists

// Written is what an export wrote.
type Written struct {
	// Path is the absolute path of the file (on the machine blockprof runs
	// on, which over SSH is the server).
	Path  string
	Bytes []byte
}

// Writer writes a reduced space.
type Writer interface {
	Export(path string, r model.Reduction, overwrite bool) (Written, error)
}

// Locator is implemented by Writers that can tell, before writing, which
// file a typed path names (or why it is refused); the prompt shows it as
// the user types.
type Locator interface {
	Destination(path string) (string, error)
}

// Encoder checks a reduction against the profiled space and returns the
// file's content (the engine side: tui/app).
type Encoder interface {
	EncodeReduction(r model.Reduction) ([]byte, error)
}

// Dir is the Writer of a session served to someone else: it encodes with
// Enc and writes only under the directory Root (exportdir.Write: a file
// name or relative sub-path, no absolute path, no "..", no symbolic link
// out of it, files 0600, never replaced without confirmation).
type Dir struct {
	Enc  Encoder
	Root string
}

// Export implements Writer.
func (d Dir) Export(path string, r model.Reduction, overwrite bool) (Written, error) {
	if _, err := exportdir.Resolve(d.Root, path); err != nil {
		return Written{}, err
	}
	if d.Enc == nil {
		return Written{}, errors.New("no encoder")
	}
	data, err := d.Enc.EncodeReduction(r)
	if err != nil {
		return Written{}, err
	}
	abs, err := exportdir.Write(d.Root, path, data, overwrite)
	if err != nil {
		return Written{}, err
	}
	return Written{Path: abs, Bytes: data}, nil
}

// Destination implements Locator.
func (d Dir) Destination(path string) (string, error) { return exportdir.Resolve(d.Root, path) }

type state int

const (
	closed state = iota
	prompting
	confirming
	writing
	done
)

type writtenMsg struct {
	w   Written
	err error
}

// Model is the export prompt.
type Model struct {
	c       common.Common
	w       Writer
	st      state
	input   []rune
	pos     int
	red     model.Reduction
	summary string
	written *Written
	err     error
	off     int
}

// New returns a closed prompt.
func New(c common.Common, w Writer) Model { return Model{c: c, w: w} }

// SetCommon hands the prompt a new context (size, colour).
func (m Model) SetCommon(c common.Common) Model {
	m.c = c
	return m
}

// Open shows the prompt for r with a default path; summary says what was
// cut.
func (m Model) Open(path string, r model.Reduction, summary string) Model {
	m.st, m.input, m.red, m.summary, m.written, m.err, m.off = prompting, []rune(path), r, summary, nil, nil, 0
	m.pos = len(m.input)
	return m
}

// Active reports whether the prompt is shown (it then takes every key).
func (m Model) Active() bool { return m.st != closed }

// Path is the path typed so far.
func (m Model) Path() string { return string(m.input) }

// Written is the last file written (nil before).
func (m Model) Written() *Written { return m.written }

// DefaultPath is "<space>-<device>-reduced.toml" with characters that are
// awkward in file names replaced.
func DefaultPath(space, device string) string {
	name := space
	if device != "" {
		name += "-" + device
	}
	clean := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, name)
	return clean + "-reduced.toml"
}

// Update handles the keys while the prompt is shown.
func (m Model) Update(msg tea.Msg) (Model, tea.Cmd) {
	k := m.c.Keys
	switch msg := msg.(type) {
	case writtenMsg:
		switch {
		case errors.Is(msg.err, ErrExists):
			m.st = confirming
		case msg.err != nil:
			m.st, m.err = prompting, msg.err
		default:
			w := msg.w
			m.st, m.written, m.err = done, &w, nil
		}
		return m, nil
	case tea.PasteMsg:
		if m.st == prompting {
			m.insert(strings.NewReplacer("\n", "", "\r", "").Replace(msg.Content))
		}
		return m, nil
	case tea.KeyPressMsg:
		switch m.st {
		case prompting:
			return m.edit(msg)
		case confirming:
			switch {
			case key.Matches(msg, k.Confirm):
				return m.write(true)
			case key.Matches(msg, k.Deny):
				m.st = prompting
			}
		case done:
			switch {
			case key.Matches(msg, k.Up):
				m.off = max(m.off-1, 0)
			case key.Matches(msg, k.Down):
				m.off++
			case key.Matches(msg, k.Back), msg.String() == "enter", msg.String() == "q":
				m.st = closed
			}
		}
	}
	return m, nil
}

func (m *Model) insert(s string) {
	rs := []rune(s)
	in := append([]rune{}, m.input[:m.pos]...)
	in = append(in, rs...)
	m.input = append(in, m.input[m.pos:]...)
	m.pos += len(rs)
}

func (m Model) edit(msg tea.KeyPressMsg) (Model, tea.Cmd) {
	m.err = nil
	switch msg.String() {
	case "esc":
		m.st = closed
	case "enter":
		if strings.TrimSpace(string(m.input)) == "" {
			m.err = errors.New("type a path")
			return m, nil
		}
		return m.write(false)
	case "backspace", "ctrl+h":
		if m.pos > 0 {
			m.input = append(m.input[:m.pos-1:m.pos-1], m.input[m.pos:]...)
			m.pos--
		}
	case "delete", "ctrl+d":
		if m.pos < len(m.input) {
			m.input = append(m.input[:m.pos:m.pos], m.input[m.pos+1:]...)
		}
	case "left", "ctrl+b":
		m.pos = max(m.pos-1, 0)
	case "right", "ctrl+f":
		m.pos = min(m.pos+1, len(m.input))
	case "home", "ctrl+a":
		m.pos = 0
	case "end", "ctrl+e":
		m.pos = len(m.input)
	case "ctrl+u":
		m.input, m.pos = m.input[m.pos:], 0
	default:
		if msg.Text != "" && msg.Mod&^tea.ModShift == 0 {
			m.insert(msg.Text)
		}
	}
	return m, nil
}

func (m Model) write(overwrite bool) (Model, tea.Cmd) {
	m.st = writing
	w, path, red := m.w, strings.TrimSpace(string(m.input)), m.red
	return m, func() tea.Msg {
		if w == nil {
			return writtenMsg{err: errors.New("no writer")}
		}
		out, err := w.Export(path, red, overwrite)
		return writtenMsg{w: out, err: err}
	}
}

// wrap breaks a message into lines at most w wide, each styled.
func wrap(style lipgloss.Style, msg string, w int) []string {
	var out []string
	for _, l := range strings.Split(ansi.Wrap(msg, w, " /"), "\n") {
		out = append(out, style.Render(l))
	}
	return out
}

// Help lists the bindings for the help bar.
func (m Model) Help() []key.Binding {
	k := m.c.Keys
	switch m.st {
	case prompting:
		return []key.Binding{
			key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "write")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		}
	case confirming:
		return []key.Binding{k.Confirm, k.Deny}
	case done:
		return []key.Binding{k.Up, k.Down, k.Back}
	}
	return nil
}

// View renders the prompt in exactly Width×Height cells.
func (m Model) View() string {
	w, h := m.c.Width, m.c.Height
	if w <= 0 || h <= 0 {
		return ""
	}
	st := m.c.Styles
	var lines []string
	lines = append(lines, st.Title.Render("Export the reduced space")+fmt.Sprintf(" · %s (parent %s) · %s", m.red.Name, m.red.Parent, m.summary), "")
	switch m.st {
	case prompting, confirming, writing:
		in := string(m.input[:m.pos]) + "▏" + string(m.input[m.pos:])
		if !m.c.Color {
			in = string(m.input[:m.pos]) + "|" + string(m.input[m.pos:])
		}
		lines = append(lines, "path: "+in)
		loc, located := m.w.(Locator)
		var dest string
		var destErr error
		if located {
			dest, destErr = loc.Destination(strings.TrimSpace(string(m.input)))
			if destErr == nil {
				lines = append(lines, "file: "+dest)
			}
		}
		switch {
		case m.st == confirming && located && destErr == nil:
			lines = append(lines, "", st.Warn.Render("That file exists. Overwrite it? [y/n]"))
		case m.st == confirming:
			lines = append(lines, "", st.Warn.Render(fmt.Sprintf("%s exists. Overwrite it? [y/n]", string(m.input))))
		case m.st == writing:
			lines = append(lines, "", "writing…")
		case m.err != nil:
			lines = append(lines, "")
			lines = append(lines, wrap(st.Error, "not written: "+m.err.Error(), w)...)
		case destErr != nil:
			lines = append(lines, "")
			lines = append(lines, wrap(st.Error, "cannot write there: "+destErr.Error(), w)...)
		case located:
			lines = append(lines, "", st.Muted.Render("enter writes the TOML to that file · esc cancels"))
		default:
			lines = append(lines, "", st.Muted.Render("enter writes the TOML (relative paths are relative to blockprof's working directory) · esc cancels"))
		}
		lines = append(lines, "", st.Muted.Render("preview:"))
		lines = append(lines, strings.Split(strings.TrimRight(string(m.red.Marshal()), "\n"), "\n")...)
	case done:
		wr := m.written
		lines = append(lines, st.OK.Render(fmt.Sprintf("wrote %d bytes to %s", len(wr.Bytes), wr.Path)), "")
		text := strings.Split(strings.TrimRight(string(wr.Bytes), "\n"), "\n")
		room := max(h-len(lines)-1, 1)
		off := min(m.off, max(len(text)-room, 0))
		end := min(off+room, len(text))
		lines = append(lines, text[off:end]...)
		if end < len(text) {
			lines = append(lines, st.Muted.Render(fmt.Sprintf("… %d more lines (↓)", len(text)-end)))
		}
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…")
	}
	return common.Block(strings.Join(lines, "\n"), w, h)
}
