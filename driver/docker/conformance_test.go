package docker

import (
	"context"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/driver/drivertest"
	"github.com/shoalproject/shoal/sched"
)

// TestConformance runs the driver conformance suite on the test engine:
// each test is a node of its own (Options.Node), and a restart is a new
// Driver for that node.
func TestConformance(t *testing.T) {
	t.Parallel()
	host := engine(t)
	drivertest.Run(t, drivertest.Config{
		Node: func(t *testing.T) func() driver.Driver {
			node := "drivertest-" + drivertest.NewAllocID(t)[:8]
			return func() driver.Driver { return newDriver(t, host, Options{Node: node}) }
		},
		Spec: func(t *testing.T) *sched.Spec {
			return &sched.Spec{
				Image:     helloImage,
				Network:   sched.NetworkBridge,
				Labels:    map[string]string{testLabel: "TestConformance"}, // the parent's sweep
				Resources: sched.Resources{MemoryMB: 64, CPU: 100},
			}
		},
		Alive: func(t *testing.T, id string) bool {
			c, err := client.New(client.WithHost(host))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			res, err := c.ContainerInspect(context.Background(), id, client.ContainerInspectOptions{})
			if cerrdefs.IsNotFound(err) {
				return false
			}
			if err != nil {
				t.Fatalf("inspect container %s: %v", id, err)
			}
			return res.Container.State != nil && res.Container.State.Running
		},
	})
}
