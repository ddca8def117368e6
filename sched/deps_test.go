package sched

import (
	"testing"

	"github.com/shoalproject/shoal/internal/deptest"
)

// TestPureImports fails if the package, or any package below it, imports
// anything outside the standard library (the drivers in
// github.com/shoalproject/shoal/driver included), does I/O, uses global
// randomness or reads the clock: the scheduler must not reach Raft, Serf,
// HTTP clients, Docker or netlink.
func TestPureImports(t *testing.T) {
	deptest.Check(t, deptest.Rules{
		StdlibOnly:  true,
		Forbidden:   []string{"net", "os/exec", "syscall", "unsafe", "math/rand"},
		NoClock:     true,
		Subpackages: true,
		Why:         "placement is a pure function of its inputs",
	})
}
