package exec

import (
	"strconv"
	"testing"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/driver/drivertest"
	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/sched"
)

// TestConformance runs the driver conformance suite: each test gets a
// state directory of its own, and a restart is a new Driver on it.
func TestConformance(t *testing.T) {
	bin := dockertest.HelloBinary(t, t.TempDir())
	drivertest.Run(t, drivertest.Config{
		Node: func(t *testing.T) func() driver.Driver {
			dir := t.TempDir()
			return func() driver.Driver { return newDriver(t, dir) }
		},
		Spec: func(t *testing.T) *sched.Spec {
			return &sched.Spec{Driver: sched.DriverExec, Command: bin}
		},
		Alive: func(t *testing.T, id string) bool {
			pid, err := strconv.Atoi(id)
			if err != nil || pid <= 0 {
				t.Fatalf("status ID %q is not a PID", id)
			}
			return !processGone(pid)
		},
	})
}
