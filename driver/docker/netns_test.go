package docker

import (
	"context"
	"errors"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/internal/testenv"
	"github.com/vishvananda/netns"
)

// TestCheckSameNetNS checks the agent's guard before it attaches the
// overlay to an engine: the engine shares this process's network
// namespace, and from a thread in another namespace it does not.
func TestCheckSameNetNS(t *testing.T) {
	host := dockertest.Engine(t)
	d, err := New(nil, Options{Host: host, Node: "netns-test"})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.CheckSameNetNS(ctx); err != nil {
		t.Fatalf("engine in this namespace: %v", err)
	}

	if os.Geteuid() != 0 {
		testenv.Skip(t, "skipping the other-namespace case: creating a network namespace needs root")
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		ns, err := netns.New() // a new namespace for this thread only
		if err != nil {
			errc <- err
			return
		}
		defer ns.Close()
		errc <- d.CheckSameNetNS(ctx)
	}()
	if err := <-errc; !errors.Is(err, driver.ErrOtherNetNS) {
		t.Fatalf("from another namespace: got %v, want ErrOtherNetNS", err)
	}
}
