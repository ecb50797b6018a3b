package tui_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// goFiles parses the non-test Go files under dir (relative to the module
// root, which is ".." from here).
func goFiles(t *testing.T, dir string) map[string]*ast.File {
	t.Helper()
	out := map[string]*ast.File{}
	fset := token.NewFileSet()
	root := filepath.Join("..", dir)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		out[path] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no Go files under %s", root)
	}
	return out
}

// TestEngineDoesNotImportTUI: the domain tree (model, devices, engine)
// never imports a front end.
func TestEngineDoesNotImportTUI(t *testing.T) {
	for _, dir := range []string{"engine", "model", "devices"} {
		for path, f := range goFiles(t, dir) {
			for _, im := range f.Imports {
				p, _ := strconv.Unquote(im.Path.Value)
				if p == "blockprof/tui" || strings.HasPrefix(p, "blockprof/tui/") {
					t.Errorf("%s imports %s: the engine must not depend on a front end", path, p)
				}
			}
		}
	}
}

// TestFrontEndsAreThin: tui/ (the explorer and the CLI) opens no device,
// fits no predictor, runs no analysis, suggestion or search and starts no
// run itself: it calls the engine's session (engine/session) for all of
// them.
func TestFrontEndsAreThin(t *testing.T) {
	forbiddenImports := map[string]string{
		"blockprof/devices/backends": "opens devices",
		"blockprof/devices/ort":      "a device backend",
		"blockprof/devices/agent":    "a device backend",
		"blockprof/devices/command":  "a device backend",
		"blockprof/devices/lut":      "a device backend",
		"blockprof/devices/replay":   "a device backend",
		"blockprof/devices/sim":      "a device backend",
		"blockprof/engine/search":    "runs searches",
		"blockprof/engine/accuracy":  "opens accuracy sources",
	}
	// Calls by package name and function name (prefix).
	forbiddenCalls := map[string][]string{
		"analysis": {"Analyze", "Fit"},
		"predict":  {"Fit", "New"},
		"reduce":   {"Suggest", "Evaluate"},
		"engine":   {"Prepare"},
		"store":    {"Open"},
	}
	// The plot package draws; only the front ends' own packages are
	// checked.
	for path, f := range goFiles(t, "tui") {
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if why, bad := forbiddenImports[p]; bad {
				t.Errorf("%s imports %s (%s): call the session instead", path, p, why)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			for _, prefix := range forbiddenCalls[pkg.Name] {
				if strings.HasPrefix(sel.Sel.Name, prefix) {
					t.Errorf("%s calls %s.%s: the session does that for every front end", path, pkg.Name, sel.Sel.Name)
				}
			}
			return true
		})
	}
}
