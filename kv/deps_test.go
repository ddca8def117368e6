package kv

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

// TestPureImports fails if package kv reaches an edge — Raft, networking,
// HTTP, the catalog — or reads the wall clock: every write must be
// deterministic given its Raft index and the command.
func TestPureImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		Forbidden: []string{"net", "os/exec", "math/rand", "github.com/hashicorp/raft",
			"github.com/hashicorp/serf", "github.com/shoalproject/shoal/catalog"},
		NoClock: true,
		Why:     "package kv must stay pure: take the time from the command",
	})
}
