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

// Extreme is one of a default space's two extreme archs: its smallest at
// its smallest resolution ("min") or its largest at its largest ("max").
type Extreme struct {
	Space *model.Space
	Which string // "min" or "max"
	Arch  model.Arch
}

// Name is "SPACE/min" or "SPACE/max", the name tests and benchmarks run
// it under.
func (e Extreme) Name() string { return e.Space.Name + "/" + e.Which }

// Network expands the arch; an error fails t.
func (e Extreme) Network(t testing.TB) *model.Network {
	t.Helper()
	net, err := e.Space.Network(e.Arch)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// Extremes are the two extreme archs of every default space, in the
// spaces' order.
func Extremes(t testing.TB) []Extreme {
	t.Helper()
	ss := Spaces(t)
	var out []Extreme
	for _, name := range ss.Names() {
		sp, err := ss.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		rs := sp.Resolutions
		out = append(out, Extreme{sp, "min", sp.MinArch(rs[0])}, Extreme{sp, "max", sp.MaxArch(rs[len(rs)-1])})
	}
	return out
}
