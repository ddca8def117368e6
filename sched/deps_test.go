package sched

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports fails if the package imports anything outside the
// standard library: the scheduler must not reach Raft, Serf, HTTP clients,
// Docker or netlink (after Tailscale's tstest/deptest).
func TestPureImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"net", "net/http", "os/exec", "syscall", "unsafe", "math/rand"}
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
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s: the scheduler must use the standard library only", f, path)
			}
			for _, bad := range forbidden {
				if path == bad {
					t.Errorf("%s imports %s: placement must not do I/O or use global randomness", f, path)
				}
			}
		}
		// Placement must never read the wall clock.
		if strings.Contains(string(src), "time.Now") {
			t.Errorf("%s reads the wall clock", f)
		}
	}
}
