package acl

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

// TestPureImports fails if package acl reaches an edge or reads the wall
// clock: its writes run inside FSM.Apply and its decisions must depend on
// the rules alone.
func TestPureImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		Forbidden: []string{"net", "os/exec", "math/rand", "crypto/rand", "github.com/hashicorp/raft",
			"github.com/hashicorp/serf", "github.com/shoalproject/shoal/server", "github.com/shoalproject/shoal/agent"},
		NoClock: true,
		Why:     "package acl must stay pure: the server picks IDs and times",
	})
}
