package keys

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

func TestImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		StdlibOnly: true,
		Why:        "the server reads these names without the overlay's data plane",
	})
}
