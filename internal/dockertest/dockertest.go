// Package dockertest gives tests a real Docker engine and the test image
// built from testdata/hello. Images are never pulled: BuildHello builds a
// FROM-scratch image around a static Go binary.
//
// Engine looks for an engine in this order:
//
//  1. DOCKER_HOST, when set and answering (scripts/test.sh exports the one
//     it starts);
//  2. unix:///var/run/docker.sock, when answering;
//  3. a dockerd of its own, when running as root and dockerd is installed:
//     data root, exec root, socket, pidfile and log in
//     $TMPDIR/shoal-dockertest, default bridge 172.31.250.1/24, iptables on
//     (as on a real node: NAT for published ports and outbound traffic).
//
// The engine of step 3 is shared by the test binaries running at the same
// time (go test runs packages in parallel, and two engines in one network
// namespace would fight over docker0 and the iptables chains): each binary
// holds a shared flock on a "users" file while it uses the engine, and the
// last one to finish stops the engine by PID (from its pidfile), then
// containerd leftovers by PID, removes the directory, and undoes what
// dockerd leaves in the network namespace (FORWARD policy DROP, the docker0
// bridge) when no other dockerd runs in it. An engine left by a killed test
// binary is joined by the next one, which stops it in turn. A
// package that may need step 3 must run its tests through Main:
//
//	func TestMain(m *testing.M) { os.Exit(dockertest.Main(m)) }
//
// When no engine can be had, Engine skips the test and says what is
// missing.
package dockertest

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/shoalproject/shoal/internal/testenv"
)

// DefaultSocket is the engine address tried when DOCKER_HOST does not answer.
const DefaultSocket = "unix:///var/run/docker.sock"

var (
	mu       sync.Mutex
	inMain   bool
	resolved bool
	host     string  // the engine found or started; "" when none
	skipMsg  string  // why there is none
	shared   *daemon // the engine of step 3, when this process uses one
)

// Main runs the package's tests (m.Run) and then releases the engine that
// Engine started or joined, stopping it if no other test binary uses it.
// It returns m.Run's exit code, for os.Exit.
func Main(m *testing.M) int {
	mu.Lock()
	inMain = true
	mu.Unlock()
	code := m.Run()
	mu.Lock()
	defer mu.Unlock()
	if shared != nil {
		if err := shared.release(); err != nil {
			fmt.Fprintf(os.Stderr, "dockertest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
		shared = nil
	}
	return code
}

// Engine returns the address of an answering Docker engine (such as
// "unix:///var/run/docker.sock"), for client.WithHost or DOCKER_HOST. The
// first call in a process decides; later calls return the same engine. It
// skips the test, saying what is missing, when no engine can be had (fails it
// under SHOAL_TEST_STRICT=1, see internal/testenv).
func Engine(t testing.TB) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	if !resolved {
		host, skipMsg = find(t)
		resolved = host != "" || skipMsg != ""
	}
	if host == "" {
		testenv.Skip(t, "dockertest: %s", skipMsg)
	}
	return host
}

// find runs the search of the package comment. It returns the host, or a
// reason to skip; both empty means the caller must fail (already reported).
func find(t testing.TB) (string, string) {
	var tried []string
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		if err := ping(h, 3*time.Second); err == nil {
			return h, ""
		} else {
			t.Logf("dockertest: DOCKER_HOST=%s does not answer: %v", h, err)
		}
		tried = append(tried, "DOCKER_HOST="+h)
	}
	if h := DefaultSocket; os.Getenv("DOCKER_HOST") != h {
		if err := ping(h, 3*time.Second); err == nil {
			return h, ""
		}
		tried = append(tried, h)
	}
	none := fmt.Sprintf("no Docker engine answers at %v", tried)
	dockerd, missing := canStart()
	if missing != "" {
		return "", none + " and one cannot be started: " + missing
	}
	if !inMain {
		t.Errorf("dockertest: %s; to start one, the package's TestMain must run its tests through dockertest.Main", none)
		return "", ""
	}
	d, err := join(dockerd)
	if err != nil {
		return "", none + " and starting one failed: " + err.Error()
	}
	shared = d
	how := "joined the"
	if d.started {
		how = "started a"
	}
	t.Logf("dockertest: %s shared test engine at %s (%s)", how, d.host, d.dir)
	return d.host, ""
}

// ping reports whether the engine at h answers, negotiating the API version
// as the drivers do.
func ping(h string, timeout time.Duration) error {
	c, err := client.New(client.WithHost(h))
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, err = c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return err
}
