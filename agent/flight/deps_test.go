package flight

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

func TestImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		Forbidden: []string{"github.com/shoalproject/shoal", "net/http", "github.com/hashicorp"},
		Why:       "sharing one call among callers is pure concurrency, below the HTTP layer that uses it",
	})
}
