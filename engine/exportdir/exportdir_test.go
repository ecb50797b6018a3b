package exportdir

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture is an export directory beside a victim file and directory the
// exports must never reach.
type fixture struct {
	root, outside, victim string
}

var victimData = []byte("secret = true\n")

func newFixture(t *testing.T) fixture {
	t.Helper()
	base := t.TempDir()
	f := fixture{root: filepath.Join(base, "exports"), outside: filepath.Join(base, "other")}
	for _, d := range []string{f.root, f.outside} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	f.victim = filepath.Join(f.outside, "victim")
	if err := os.WriteFile(f.victim, victimData, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkVictim fails unless the victim file is untouched and nothing else
// appeared outside the export directory.
func (f fixture) checkVictim(t *testing.T) {
	t.Helper()
	st, err := os.Stat(f.victim)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(f.victim); !bytes.Equal(got, victimData) || st.Mode().Perm() != 0o600 {
		t.Errorf("the victim changed: %q, mode %v", got, st.Mode().Perm())
	}
	ents, err := os.ReadDir(f.outside)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("%d entries outside the export directory, want only the victim", len(ents))
	}
	ents, err = os.ReadDir(filepath.Dir(f.root))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 2 {
		t.Errorf("%d entries beside the export directory, want 2", len(ents))
	}
}

func TestWriteRefusesHostileNames(t *testing.T) {
	data := []byte("name = \"x\"\n")
	tests := []struct {
		name string
		// setup prepares the export directory and returns the name typed.
		setup func(t *testing.T, f fixture) string
		want  string // part of the error
	}{
		{"absolute path", func(_ *testing.T, f fixture) string { return f.victim }, "absolute paths are not allowed"},
		{"absolute path into the directory", func(_ *testing.T, f fixture) string { return filepath.Join(f.root, "x.toml") }, "absolute paths are not allowed"},
		{"dot-dot", func(*testing.T, fixture) string { return "../other/victim" }, `".." is not allowed`},
		{"dot-dot after a directory", func(*testing.T, fixture) string { return "a/../../other/victim" }, `".." is not allowed`},
		{"dot-dot staying inside", func(*testing.T, fixture) string { return "a/../x.toml" }, `".." is not allowed`},
		{"tilde", func(*testing.T, fixture) string { return "~/x.toml" }, "not expanded"},
		{"empty", func(*testing.T, fixture) string { return "  " }, "type a file name"},
		{"the directory itself", func(*testing.T, fixture) string { return "./" }, "not the export directory itself"},
		{"escape sequence", func(*testing.T, fixture) string { return "x\x1b[2J.toml" }, "control character"},
		{"newline", func(*testing.T, fixture) string { return "x\n.toml" }, "control character"},
		{"invalid utf-8", func(*testing.T, fixture) string { return "x\xff.toml" }, "UTF-8"},
		{"symlinked directory pointing out", func(t *testing.T, f fixture) string {
			symlink(t, f.outside, filepath.Join(f.root, "out"))
			return "out/victim"
		}, "out is a symbolic link"},
		{"symlinked directory pointing out, new file", func(t *testing.T, f fixture) string {
			symlink(t, f.outside, filepath.Join(f.root, "out"))
			return "out/new.toml"
		}, "out is a symbolic link"},
		{"relative symlink pointing out", func(t *testing.T, f fixture) string {
			symlink(t, "../other", filepath.Join(f.root, "out"))
			return "out/victim"
		}, "out is a symbolic link"},
		{"symlink below a directory", func(t *testing.T, f fixture) string {
			if err := os.Mkdir(filepath.Join(f.root, "a"), 0o700); err != nil {
				t.Fatal(err)
			}
			symlink(t, f.outside, filepath.Join(f.root, "a", "b"))
			return "a/b/victim"
		}, "a/b is a symbolic link"},
		{"file used as a directory", func(t *testing.T, f fixture) string {
			if err := os.WriteFile(filepath.Join(f.root, "a"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return "a/x.toml"
		}, "a is not a directory"},
		{"symlinked file pointing out", func(t *testing.T, f fixture) string {
			symlink(t, f.victim, filepath.Join(f.root, "x.toml"))
			return "x.toml"
		}, "symbolic link"},
		{"dangling symlink pointing out", func(t *testing.T, f fixture) string {
			symlink(t, filepath.Join(f.outside, "new"), filepath.Join(f.root, "x.toml"))
			return "x.toml"
		}, "symbolic link"},
		{"symlinked file inside", func(t *testing.T, f fixture) string {
			if err := os.WriteFile(filepath.Join(f.root, "real.toml"), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			symlink(t, "real.toml", filepath.Join(f.root, "x.toml"))
			return "x.toml"
		}, "symbolic link"},
		{"directory", func(t *testing.T, f fixture) string {
			if err := os.Mkdir(filepath.Join(f.root, "d"), 0o700); err != nil {
				t.Fatal(err)
			}
			return "d"
		}, "is a directory"},
	}
	for _, tc := range tests {
		for _, overwrite := range []bool{false, true} {
			name := tc.name
			if overwrite {
				name += ", confirmed"
			}
			t.Run(name, func(t *testing.T) {
				f := newFixture(t)
				typed := tc.setup(t, f)
				path, err := Write(f.root, typed, data, overwrite)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("Write(%q) = %q, %v; want an error with %q", typed, path, err, tc.want)
				}
				f.checkVictim(t)
			})
		}
	}
}

// Below Write's own checks, os.Root refuses a link out of the directory
// (a link that appears after the check, say).
func TestRootRefusesEscapes(t *testing.T) {
	f := newFixture(t)
	symlink(t, f.outside, filepath.Join(f.root, "out"))
	r, err := os.OpenRoot(f.root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, overwrite := range []bool{false, true} {
		for _, name := range []string{"out/victim", "out/new"} {
			if err := write(r, name, name, []byte("x"), overwrite, Perm, false); err == nil || !strings.Contains(err.Error(), "escapes") {
				t.Errorf("write(%s, overwrite %v): %v, want a path that escapes", name, overwrite, err)
			}
		}
	}
	if err := r.MkdirAll("out/d", DirPerm); err == nil {
		t.Error("MkdirAll went through the link")
	}
	f.checkVictim(t)
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name     string
		existing bool // a file is there already (mode 0644)
		typed    string
		rel      string // where it lands, relative to the directory
	}{
		{"file name", false, "a.toml", "a.toml"},
		{"sub-path", false, "team/alice/a.toml", "team/alice/a.toml"},
		{"redundant elements", false, "./team//a.toml", "team/a.toml"},
		{"existing file", true, "a.toml", "a.toml"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			want := filepath.Join(f.root, tc.rel)
			old := []byte("old\n")
			if tc.existing {
				if err := os.WriteFile(want, old, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data := []byte("name = \"" + tc.name + "\"\n")
			path, err := Write(f.root, tc.typed, data, false)
			if tc.existing {
				// Never replaced without the session's confirmation.
				if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), filepath.Clean(tc.typed)) {
					t.Fatalf("unconfirmed: %v, want ErrExists naming %s", err, want)
				}
				if got, _ := os.ReadFile(want); !bytes.Equal(got, old) {
					t.Fatalf("replaced without confirmation: %q", got)
				}
				path, err = Write(f.root, tc.typed, data, true)
			}
			if err != nil {
				t.Fatal(err)
			}
			if path != want {
				t.Errorf("path %s, want %s", path, want)
			}
			if res, err := Resolve(f.root, tc.typed); err != nil || res != want {
				t.Errorf("Resolve = %s, %v; want %s", res, err, want)
			}
			st, err := os.Lstat(want)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(want); !bytes.Equal(got, data) {
				t.Errorf("content %q, want %q", got, data)
			}
			if st.Mode() != Perm {
				t.Errorf("mode %v, want %v", st.Mode(), Perm)
			}
			for d := filepath.Dir(want); d != f.root; d = filepath.Dir(d) {
				if st, err := os.Stat(d); err != nil || st.Mode().Perm() != DirPerm {
					t.Errorf("directory %s: %v, %v; want mode %v", d, st.Mode().Perm(), err, DirPerm)
				}
			}
			ents, err := os.ReadDir(filepath.Dir(want))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range ents {
				if strings.HasPrefix(e.Name(), ".blockprof-export-") {
					t.Errorf("temporary file %s left behind", e.Name())
				}
			}
			f.checkVictim(t)
		})
	}
}

func TestWriteNeedsTheDirectory(t *testing.T) {
	_, err := Write(filepath.Join(t.TempDir(), "missing"), "a.toml", nil, false)
	if err == nil || !strings.Contains(err.Error(), "--exports") {
		t.Errorf("error %v, want one naming --exports", err)
	}
}

func TestWriteLocal(t *testing.T) {
	tests := []struct {
		name string
		// setup returns the path typed and the file it resolves to.
		setup    func(t *testing.T, dir string) (typed, target string)
		existing bool
	}{
		{"absolute path", func(_ *testing.T, dir string) (string, string) {
			return filepath.Join(dir, "a.toml"), filepath.Join(dir, "a.toml")
		}, false},
		{"existing file", func(t *testing.T, dir string) (string, string) {
			p := filepath.Join(dir, "a.toml")
			if err := os.WriteFile(p, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			return p, p
		}, true},
		{"symlink is replaced, not written through", func(t *testing.T, dir string) (string, string) {
			other := filepath.Join(dir, "other.toml")
			if err := os.WriteFile(other, []byte("old\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(dir, "a.toml")
			symlink(t, other, p)
			return p, p
		}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			typed, target := tc.setup(t, dir)
			data := []byte("x = 1\n")
			path, err := WriteLocal(typed, data, false)
			if tc.existing {
				if !errors.Is(err, ErrExists) {
					t.Fatalf("unconfirmed: %v, want ErrExists", err)
				}
				path, err = WriteLocal(typed, data, true)
			}
			if err != nil || path != target {
				t.Fatalf("WriteLocal = %s, %v; want %s", path, err, target)
			}
			st, err := os.Lstat(target)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(target); !bytes.Equal(got, data) || st.Mode() != LocalPerm {
				t.Errorf("%s: %q, mode %v; want %q, %v", target, got, st.Mode(), data, LocalPerm)
			}
			if other := filepath.Join(dir, "other.toml"); fileExists(other) {
				if got, _ := os.ReadFile(other); string(got) != "old\n" {
					t.Errorf("written through the link: %q", got)
				}
			}
		})
	}
	if _, err := WriteLocal(t.TempDir(), nil, true); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v", err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/srv/data")
	if d, err := DefaultDir(); err != nil || d != "/srv/data/blockprof/exports" {
		t.Errorf("DefaultDir = %s, %v", d, err)
	}
	t.Setenv("XDG_DATA_HOME", "relative") // ignored, as the XDG spec says
	t.Setenv("HOME", "/home/eng")
	if d, err := DefaultDir(); err != nil || d != "/home/eng/.local/share/blockprof/exports" {
		t.Errorf("DefaultDir = %s, %v", d, err)
	}
}

// FuzzClean: a name Clean accepts resolves strictly inside the directory.
func FuzzClean(f *testing.F) {
	root := "/srv/exports"
	f.Fuzz(func(t *testing.T, name string) {
		c, err := Clean(name)
		if err != nil {
			return
		}
		p, err := Resolve(root, name)
		if err != nil {
			t.Fatalf("Clean accepted %q but Resolve refused it: %v", name, err)
		}
		if !strings.HasPrefix(p, root+"/") || filepath.Clean(p) != p || filepath.Join(root, c) != p {
			t.Fatalf("%q resolves to %q, outside %s", name, p, root)
		}
		for _, el := range strings.Split(c, "/") {
			if el == ".." || el == "" || el == "." {
				t.Fatalf("%q cleans to %q", name, c)
			}
		}
	})
}
