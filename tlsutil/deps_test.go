package tlsutil

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

func TestImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		StdlibOnly: true,
		Why:        "the CLI, the agent and the server all build their TLS from it",
	})
}
