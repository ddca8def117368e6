package driver

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

// TestInterfaceImports fails if the interface package imports an engine
// client or the kernel: the realiser and the agent depend on it, and each
// implementation (docker, exec) brings its own edge.
func TestInterfaceImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		Forbidden: []string{
			"github.com/moby", "github.com/docker", "github.com/containerd", "github.com/vishvananda",
			"golang.org/x/sys", "github.com/hashicorp/raft", "github.com/hashicorp/serf", "net/http", "os/exec", "syscall",
		},
		Why: "the driver package is the interface; engines live in its subpackages",
	})
}
