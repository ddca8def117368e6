package dns

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

// TestImports fails if the package reaches an edge: the agent, the
// servers, their RPC envelopes, Raft, Serf or HTTP. It reads the catalog
// through the Reader interface only, in the catalog's own types.
func TestImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		Forbidden: []string{"github.com/shoalproject/shoal/agent", "github.com/shoalproject/shoal/server", "github.com/shoalproject/shoal/rpcapi",
			"github.com/hashicorp/raft", "github.com/hashicorp/serf", "net/http"},
		Why: "dns answers over its Reader interface",
	})
}
