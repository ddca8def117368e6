package keyring

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

func TestImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		Forbidden: []string{"github.com/shoalproject/shoal", "github.com/hashicorp/serf", "net/http"},
		Why:       "gossip keys and the keyring file are a leaf the CLI, config and server share",
	})
}
