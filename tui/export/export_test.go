package export_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"blockprof/model"
	"blockprof/tui/common"
	"blockprof/tui/export"
	"blockprof/tui/internal/fakedeps"
	ts "blockprof/tui/internal/teststep"
)

func TestDefaultPath(t *testing.T) {
	tests := []struct{ space, device, want string }{
		{"ofa-mbv3", "cpu", "ofa-mbv3-cpu-reduced.toml"},
		{"ofa-mbv3-w1.0", "h100/graph x", "ofa-mbv3-w1.0-h100_graph_x-reduced.toml"},
		{"ofa-resnet50", "", "ofa-resnet50-reduced.toml"},
	}
	for _, tc := range tests {
		if got := export.DefaultPath(tc.space, tc.device); got != tc.want {
			t.Errorf("DefaultPath(%q, %q) = %q, want %q", tc.space, tc.device, got, tc.want)
		}
	}
}

func setup(t testing.TB, w, h int) (export.Model, *fakedeps.Deps, model.Reduction) {
	t.Helper()
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	d := fakedeps.New(sp)
	s, err := d.Suggest(context.Background(), "npu", "latency")
	if err != nil {
		t.Fatal(err)
	}
	r := s.Cuts.Reduction("ofa-mbv3-w1.0-npu-reduced")
	m := export.New(common.New(context.Background(), false, w, h), d)
	return m.Open("ofa-mbv3-w1.0-npu-reduced.toml", r, "12 blocks pruned, 2 unit depth ranges cut"), d, r
}

func typed(m export.Model, s string) export.Model {
	for _, r := range s {
		m, _ = ts.Settle(m, ts.Key(string(r)))
	}
	return m
}

func TestEditing(t *testing.T) {
	m, _, _ := setup(t, 80, 24)
	if !m.Active() || m.Path() != "ofa-mbv3-w1.0-npu-reduced.toml" {
		t.Fatalf("open: %v %q", m.Active(), m.Path())
	}
	m, _ = ts.Settle(m, ts.Key("ctrl+u"))
	m = typed(m, "abd.toml")
	m, _ = ts.Settle(m, ts.Keys("left", "left", "left", "left", "left", "backspace")...)
	m = typed(m, "c")
	if m.Path() != "abc.toml" {
		t.Errorf("path %q, want abc.toml", m.Path())
	}
	m, _ = ts.Settle(m, tea.PasteMsg{Content: "x\ny"})
	if m.Path() != "abcxy.toml" {
		t.Errorf("after paste %q", m.Path())
	}
	m, _ = ts.Settle(m, ts.Key("esc"))
	if m.Active() {
		t.Error("esc does not close")
	}
}

func TestWriteAndOverwrite(t *testing.T) {
	m, d, r := setup(t, 100, 30)
	path := filepath.Join(t.TempDir(), "r.toml")
	m, _ = ts.Settle(m, ts.Key("ctrl+u"))
	m = typed(m, path)
	m, _ = ts.Settle(m, ts.Key("enter"))
	w := m.Written()
	if w == nil || w.Path != path {
		t.Fatalf("written %+v; view:\n%s", w, m.View())
	}
	data, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(data, r.Marshal()) {
		t.Fatalf("file differs from Marshal (%v)", err)
	}
	if v := m.View(); !strings.Contains(v, "wrote") || !strings.Contains(v, path) || !strings.Contains(v, "[[reduced.units]]") {
		t.Errorf("what was written is not shown:\n%s", v)
	}
	// Again: the file exists, n keeps it, y overwrites.
	m = m.Open(path, r, "")
	m, _ = ts.Settle(m, ts.Key("enter"))
	if !strings.Contains(m.View(), "Overwrite it?") {
		t.Fatalf("no question:\n%s", m.View())
	}
	m, _ = ts.Settle(m, ts.Key("n"))
	if len(d.Exports()) != 1 || !strings.Contains(m.View(), "path: ") {
		t.Errorf("n wrote or left the prompt: %v", d.Exports())
	}
	m, _ = ts.Settle(m, ts.Key("enter"))
	m, _ = ts.Settle(m, ts.Key("y"))
	if len(d.Exports()) != 2 || m.Written() == nil {
		t.Errorf("y did not overwrite: %v", d.Exports())
	}
}

func TestErrors(t *testing.T) {
	m, _, r := setup(t, 100, 30)
	m, _ = ts.Settle(m, ts.Keys("ctrl+u", "enter")...)
	if !strings.Contains(m.View(), "type a path") {
		t.Errorf("empty path accepted:\n%s", m.View())
	}
	bad := r
	bad.Units = append([]model.UnitReduction{{Blocks: nil, Depths: []int{2}}}, r.Units[1:]...)
	m = m.Open(filepath.Join(t.TempDir(), "bad.toml"), bad, "")
	m, _ = ts.Settle(m, ts.Key("enter"))
	if !strings.Contains(m.View(), "not written") || m.Written() != nil {
		t.Errorf("invalid reduction written:\n%s", m.View())
	}
}

func TestGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		for _, done := range []bool{false, true} {
			name := fmt.Sprintf("prompt_%dx%d", sz[0], sz[1])
			if done {
				name = fmt.Sprintf("written_%dx%d", sz[0], sz[1])
			}
			t.Run(name, func(t *testing.T) {
				m, _, _ := setup(t, sz[0], sz[1])
				if done {
					m, _ = ts.Settle(m, ts.Key("ctrl+u"))
					m = typed(m, filepath.Join(t.TempDir(), "out.toml"))
					m, _ = ts.Settle(m, ts.Key("enter"))
				}
				out := m.View()
				lines := strings.Split(out, "\n")
				if len(lines) != sz[1] {
					t.Fatalf("%d lines", len(lines))
				}
				for _, l := range lines {
					if ansi.StringWidth(l) != sz[0] {
						t.Fatalf("line %q is %d wide", l, ansi.StringWidth(l))
					}
				}
				if done {
					// The temporary directory differs on every run.
					for i, l := range lines {
						lines[i] = strings.TrimRight(strings.ReplaceAll(l, m.Written().Path, "/tmp/…/out.toml"), " ")
					}
					out = strings.Join(lines, "\n")
				}
				golden.RequireEqual(t, out)
			})
		}
	}
}

// served opens the prompt of a session served over SSH: its exports go
// through export.Dir under root.
func served(t testing.TB, root string, w, h int) (export.Model, model.Reduction) {
	t.Helper()
	_, d, r := setup(t, w, h)
	m := export.New(common.New(context.Background(), false, w, h), export.Dir{Enc: d, Root: root})
	return m.Open("ofa-mbv3-w1.0-npu-reduced.toml", r, "12 blocks pruned, 1 unit depths capped"), r
}

// The reproduction of issue 13: e, ctrl-u, another file's absolute path,
// enter, y. A served session writes nothing outside its directory.
func TestServedSessionStaysInItsDirectory(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "exports")
	if err := os.Mkdir(root, 0o700); err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(base, "victim")
	if err := os.WriteFile(victim, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(base, filepath.Join(root, "up")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		typed, want string
		// asTyped: the prompt refuses the name before enter (links are
		// found when writing).
		asTyped bool
	}{
		{victim, "absolute paths are not allowed", true},
		{"../victim", `".." is not allowed`, true},
		{"up/victim", "up is a symbolic link", false},
	}
	for _, tc := range tests {
		t.Run(tc.typed, func(t *testing.T) {
			m, _ := served(t, root, 100, 30)
			m, _ = ts.Settle(m, ts.Key("ctrl+u"))
			m = typed(m, tc.typed)
			if v := m.View(); tc.asTyped && (strings.Contains(v, "file: ") || !strings.Contains(v, "cannot write there: "+tc.want)) {
				t.Errorf("the prompt does not say the path is refused:\n%s", v)
			}
			m, _ = ts.Settle(m, ts.Keys("enter", "y")...)
			if v := m.View(); m.Written() != nil || !strings.Contains(v, "not written") || !strings.Contains(v, tc.want) {
				t.Errorf("written %+v; view:\n%s", m.Written(), v)
			}
			if got, _ := os.ReadFile(victim); string(got) != "keep\n" {
				t.Errorf("the victim changed: %q", got)
			}
		})
	}

	// A plain name lands in the directory, shown before writing, 0600; a
	// second export asks before replacing it.
	m, r := served(t, root, 100, 30)
	want := filepath.Join(root, "ofa-mbv3-w1.0-npu-reduced.toml")
	if v := m.View(); !strings.Contains(v, "file: "+want) {
		t.Errorf("the destination is not shown:\n%s", v)
	}
	m, _ = ts.Settle(m, ts.Key("enter"))
	if w := m.Written(); w == nil || w.Path != want {
		t.Fatalf("written %+v; view:\n%s", w, m.View())
	}
	st, err := os.Stat(want)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want mode 0600", want, st, err)
	}
	m = m.Open("ofa-mbv3-w1.0-npu-reduced.toml", r, "")
	m, _ = ts.Settle(m, ts.Key("enter"))
	if v := m.View(); !strings.Contains(v, "file: "+want) || !strings.Contains(v, "That file exists. Overwrite it?") {
		t.Errorf("no question naming the file:\n%s", v)
	}
}

func TestServedGolden(t *testing.T) {
	for _, sz := range [][2]int{{80, 24}, {120, 40}} {
		t.Run(fmt.Sprintf("prompt_%dx%d", sz[0], sz[1]), func(t *testing.T) {
			// Resolve does not touch the directory: a fixed path keeps the
			// golden stable.
			m, _ := served(t, "/srv/blockprof/exports", sz[0], sz[1])
			out := m.View()
			if n := strings.Count(out, "\n") + 1; n != sz[1] {
				t.Fatalf("%d lines", n)
			}
			golden.RequireEqual(t, out)
		})
	}
}
