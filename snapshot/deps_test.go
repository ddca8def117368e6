package snapshot

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

func TestImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		StdlibOnly: true,
		Why:        "the archive format is pure: the CLI and the server both use it",
	})
}
