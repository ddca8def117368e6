// Package deptest checks, from a package's own tests, that its non-test
// files import nothing they must not (after Tailscale's tstest/deptest):
// the way pure packages stay free of Raft, networking, HTTP or the clock.
package deptest

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Rules say what the package in the test's working directory may not use.
type Rules struct {
	// Forbidden import paths; a path also forbids the packages below it.
	Forbidden []string
	// StdlibOnly forbids every import outside the standard library.
	StdlibOnly bool
	// NoClock forbids reading the wall clock (time.Now, time.Since).
	NoClock bool
	// Why ends each error message, saying what the rule protects.
	Why string
	// Subpackages applies the rules to every package below the directory
	// too (testdata aside), so that a pure tree cannot grow an impure
	// subpackage.
	Subpackages bool
}

// Check reports, as test errors, every non-test file of the current
// directory (and, with Subpackages, of the directories below it) that
// breaks the rules.
func Check(t testing.TB, r Rules) {
	t.Helper()
	dirs := []string{"."}
	if r.Subpackages {
		err := filepath.WalkDir(".", func(path string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && path != "." {
				if name := e.Name(); name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
					return filepath.SkipDir
				}
				dirs = append(dirs, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, dir := range dirs {
		checkDir(t, r, dir)
	}
}

// checkDir checks the non-test files of one directory.
func checkDir(t testing.TB, r Rules, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		af, err := parser.ParseFile(fset, f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); r.StdlibOnly && strings.Contains(first, ".") {
				t.Errorf("%s imports %s: only the standard library is allowed (%s)", f, path, r.Why)
			}
			for _, bad := range r.Forbidden {
				if path == bad || strings.HasPrefix(path, bad+"/") {
					t.Errorf("%s imports %s (%s)", f, path, r.Why)
				}
			}
		}
		if r.NoClock && (strings.Contains(string(src), "time.Now") || strings.Contains(string(src), "time.Since")) {
			t.Errorf("%s reads the wall clock (%s)", f, r.Why)
		}
	}
}
