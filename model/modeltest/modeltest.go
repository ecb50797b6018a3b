// Package modeltest gives tests the repository's embedded default spaces
// and the shared measurement data beside the repository.
package modeltest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"blockprof/model"
)

// Root is the repository root (the folder holding go.mod).
func Root(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("modeltest: cannot locate the repository")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Spaces parses the repository's config.toml.
func Spaces(t testing.TB) *model.Spaces {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Root(t), "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	ss, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// Space returns one space of the default config.
func Space(t testing.TB, name string) *model.Space {
	t.Helper()
	sp, err := Spaces(t).Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// SharedData is ../shared/data beside the repository; the test is skipped
// when it is absent.
func SharedData(t testing.TB) string {
	t.Helper()
	d := filepath.Join(Root(t), "..", "shared", "data")
	if _, err := os.Stat(filepath.Join(d, "README.md")); err != nil {
		t.Skip("shared/data not found beside the repository")
	}
	return d
}
