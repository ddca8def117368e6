package kv

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestPureImports fails if package kv reaches an edge — Raft, networking,
// HTTP, the catalog — or reads the wall clock: every write must be
// deterministic given its Raft index and the command (after Tailscale's
// tstest/deptest).
func TestPureImports(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{"net", "net/http", "net/rpc", "os/exec", "math/rand", "math/rand/v2",
		"github.com/hashicorp/raft", "github.com/hashicorp/serf/serf", "github.com/shoalproject/shoal/catalog"}
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
			for _, bad := range forbidden {
				if path == bad {
					t.Errorf("%s imports %s: package kv must stay pure", f, path)
				}
			}
		}
		if strings.Contains(string(src), "time.Now") || strings.Contains(string(src), "time.Since") {
			t.Errorf("%s reads the wall clock: take the time from the command", f)
		}
	}
}
