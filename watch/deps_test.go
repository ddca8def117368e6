package watch

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

// TestImports fails if the package imports any of Shoal's: it reaches an
// agent only through Consul's HTTP API, so the CLI and the agent share it
// without an import cycle, and it works against Consul too.
func TestImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		Forbidden: []string{"github.com/shoalproject/shoal"},
		Why:       "watch talks to an agent through Consul's API client only",
	})
}
