// Package exportdir writes exported files: either confined to one
// directory (Write, for sessions served to other people, whose names must
// not reach any other file the server can write), or where the local user
// says (WriteLocal).
//
// Write takes a file name or a relative sub-path, never an absolute path
// or one with a ".." element, and resolves it through os.Root, so a
// symbolic link inside the directory cannot lead out of it. It replaces an
// existing file only when asked to (the caller's confirmation), never
// writes into a symbolic link, a directory or a device, creates missing
// sub-directories 0700 and files 0600, and replaces a file atomically
// (a temporary file renamed over it).
package exportdir

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrExists is wrapped by Write and WriteLocal when the file exists and
// overwrite is false: ask, then call again with overwrite.
var ErrExists = errors.New("file exists")

// Perm is the mode of the files Write creates; DirPerm that of the
// directories.
const (
	Perm    fs.FileMode = 0o600
	DirPerm fs.FileMode = 0o700
	// LocalPerm is the mode of the files WriteLocal creates (the local
	// user's own files, as before).
	LocalPerm fs.FileMode = 0o644
)

// DefaultDir is where served sessions export by default:
// $XDG_DATA_HOME/blockprof/exports, or ~/.local/share/blockprof/exports.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_DATA_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "blockprof", "exports"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no data directory for exports (%w): give one with --exports DIR", err)
	}
	return filepath.Join(home, ".local", "share", "blockprof", "exports"), nil
}

// Clean checks a name given for Write and returns it cleaned: a file name
// or a relative sub-path without ".." elements or control characters.
func Clean(name string) (string, error) {
	if strings.TrimSpace(name) == "" {
		return "", errors.New("type a file name")
	}
	if !utf8.ValidString(name) {
		return "", errors.New("the name is not valid UTF-8: type a plain file name")
	}
	if i := strings.IndexFunc(name, unicode.IsControl); i >= 0 {
		r, _ := utf8.DecodeRuneInString(name[i:])
		return "", fmt.Errorf("the name holds a control character (%U): type a plain file name", r)
	}
	if filepath.IsAbs(name) || strings.HasPrefix(name, "/") || filepath.VolumeName(name) != "" {
		return "", errors.New("absolute paths are not allowed here: type a file name (exports go under the server's export directory)")
	}
	if strings.HasPrefix(name, "~") {
		return "", errors.New(`"~" is not expanded here: type a file name (exports go under the server's export directory)`)
	}
	for _, el := range strings.FieldsFunc(name, func(r rune) bool { return r == '/' || r == filepath.Separator }) {
		if el == ".." {
			return "", errors.New(`".." is not allowed here: type a file name (exports go under the server's export directory)`)
		}
	}
	c := filepath.Clean(name)
	if c == "." {
		return "", errors.New("type a file name, not the export directory itself")
	}
	return c, nil
}

// Resolve is the absolute path Write(root, name, ...) would write, or why
// it would refuse the name. It does not touch the file system beyond
// making root absolute.
func Resolve(root, name string) (string, error) {
	c, err := Clean(name)
	if err != nil {
		return "", err
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", fmt.Errorf("export directory %s: %w", root, err)
	}
	return filepath.Join(abs, c), nil
}

// Write writes data to name under the directory root (which must exist)
// and returns the absolute path written. See the package documentation
// for what it refuses.
func Write(root, name string, data []byte, overwrite bool) (string, error) {
	path, err := Resolve(root, name)
	if err != nil {
		return "", err
	}
	rel, _ := Clean(name) // checked by Resolve
	r, err := os.OpenRoot(root)
	if err != nil {
		return "", fmt.Errorf("export directory: %w (create it, or give another with --exports DIR)", err)
	}
	defer r.Close()
	if dir := filepath.Dir(rel); dir != "." {
		// os.Root keeps every step inside root whatever happens; this
		// check only makes the common refusal say why.
		parts := strings.Split(dir, string(filepath.Separator))
		for i := range parts {
			p := filepath.Join(parts[:i+1]...)
			st, err := r.Lstat(p)
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			switch {
			case err != nil:
				return "", fmt.Errorf("writing %s: %w", rel, err)
			case st.Mode()&fs.ModeSymlink != 0:
				return "", fmt.Errorf("%s is a symbolic link: give another name (exports never go through links)", p)
			case !st.IsDir():
				return "", fmt.Errorf("%s is not a directory: give another name", p)
			}
		}
		if err := r.MkdirAll(dir, DirPerm); err != nil {
			return "", fmt.Errorf("writing %s: %w", rel, err)
		}
	}
	if err := write(r, rel, rel, data, overwrite, Perm, false); err != nil {
		return "", err
	}
	return path, nil
}

// LocalPath is the absolute path WriteLocal(path, ...) would write.
func LocalPath(path string) (string, error) {
	if strings.TrimSpace(path) == "" {
		return "", errors.New("type a path")
	}
	return filepath.Abs(path)
}

// WriteLocal writes data to path (relative to the working directory)
// wherever it is, for the local user: it replaces an existing file only
// with overwrite, atomically, and leaves it LocalPerm. It returns the
// absolute path written.
func WriteLocal(path string, data []byte, overwrite bool) (string, error) {
	abs, err := LocalPath(path)
	if err != nil {
		return "", err
	}
	r, err := os.OpenRoot(filepath.Dir(abs))
	if err != nil {
		return "", fmt.Errorf("writing %s: %w", abs, err)
	}
	defer r.Close()
	if err := write(r, filepath.Base(abs), abs, data, overwrite, LocalPerm, true); err != nil {
		return "", err
	}
	return abs, nil
}

// write writes data to rel inside r (show names it in messages): a new
// file is created exclusively; an existing regular file (or, with
// replaceLinks, a symbolic link itself) is replaced by renaming a
// temporary file over it, only with overwrite.
func write(r *os.Root, rel, show string, data []byte, overwrite bool, perm fs.FileMode, replaceLinks bool) error {
	st, err := r.Lstat(rel)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return create(r, rel, show, data, perm)
	case err != nil:
		return fmt.Errorf("writing %s: %w", show, err)
	case st.IsDir():
		return fmt.Errorf("%s is a directory: give a file name", show)
	case st.Mode()&fs.ModeSymlink != 0 && replaceLinks:
		if t, err := r.Stat(rel); err == nil && t.IsDir() {
			return fmt.Errorf("%s is a directory: give a file name", show)
		}
		if !overwrite {
			return fmt.Errorf("%s: %w", show, ErrExists)
		}
	case st.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("%s is a symbolic link: give another name (exports never write through links)", show)
	case !st.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file (%s): give another name", show, st.Mode().Type())
	case !overwrite:
		return fmt.Errorf("%s: %w", show, ErrExists)
	}
	tmp, err := tempName(rel)
	if err != nil {
		return fmt.Errorf("writing %s: %w", show, err)
	}
	if err := create(r, tmp, show, data, perm); err != nil {
		return err
	}
	if err := r.Rename(tmp, rel); err != nil {
		_ = r.Remove(tmp)
		return fmt.Errorf("writing %s: %w", show, err)
	}
	return nil
}

// create writes data to a file rel that must not exist yet; on failure
// the partial file is removed.
func create(r *os.Root, rel, show string, data []byte, perm fs.FileMode) error {
	f, err := r.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		// Created since the check: ask again.
		return fmt.Errorf("%s: %w", show, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", show, err)
	}
	_, err = f.Write(data)
	if err == nil {
		// The mode regardless of the umask (which only narrows it).
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = r.Remove(rel)
		return fmt.Errorf("writing %s: %w", show, err)
	}
	return nil
}

// tempName is a fresh hidden name beside rel.
func tempName(rel string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(rel), ".blockprof-export-"+hex.EncodeToString(b[:])), nil
}
