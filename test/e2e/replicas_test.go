package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/hostlab"
	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

// newHostLab starts a three-host cluster (a network namespace, a Docker
// engine with the hello image and a shoal server on each), removed when
// the test ends; it skips the test, saying why, where it cannot run.
func newHostLab(t *testing.T, prefix string, net int) *hostlab.Cluster {
	t.Helper()
	for _, bin := range []string{"dockerd", "docker"} {
		if _, err := exec.LookPath(bin); err != nil {
			testenv.Skip(t, "skipping: %s is missing (scripts/test.sh installs docker.io)", bin)
		}
	}
	if err := netlab.Available(); err != nil {
		testenv.Skip(t, "skipping: %v (CI runs as root)", err)
	}
	c, err := hostlab.New(hostlab.Config{Bin: shoalBin, Dir: t.TempDir(), Prefix: fmt.Sprintf("%s%d", prefix, os.Getpid()%10000),
		Net: net, Image: helloImage, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(c.Logs())
		}
		c.Close()
	})
	return c
}

// TestNeverMoreReplicasThanDeclared counts a service's running containers
// the way a user sees them — each engine's API polled every 50 ms from
// outside — through a scale-up and back, a host lost and returning (agent
// and engine restarted), an agent restarted alone, the leader's host lost
// and returning, and a rolling update. The count must never exceed the
// declared replicas (+ update.parallelism during the update): a returning
// host must not start replicas it no longer owns (issue 19's ghosts, which
// ran up to 13 of 3 declared).
func TestNeverMoreReplicasThanDeclared(t *testing.T) {
	c := newHostLab(t, "g", 83)
	spec := func(replicas int, version string) string {
		return fmt.Sprintf(`{"name": "web", "image": %q, "replicas": %d, "ports": [{"name": "http", "container": 8080}],
			"env": {"VERSION": %q}, "resources": {"cpu": 50, "memory": 32}, "restart": {"delay": "500ms"},
			"update": {"parallelism": 1}, "check": {"http": "/health", "interval": "1s"}}`, helloImage, replicas, version)
	}
	obs := c.Observer("web", 3)
	defer obs.Close()

	leader := func() *hostlab.Host {
		t.Helper()
		h, err := c.Leader(30 * time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	put := func(replicas int, version string) {
		t.Helper()
		testcluster.Eventually(t, 30*time.Second, func() error { return c.Put(leader(), "web", spec(replicas, version)) })
	}
	// converged waits until want containers run (on up hosts), all of one
	// version, and the servers report want running, then watches a little
	// longer; with old set, that version must be gone. It returns the
	// version.
	converged := func(step string, want int, down *hostlab.Host, old string) string {
		t.Helper()
		start := time.Now()
		testcluster.Eventually(t, 120*time.Second, func() error {
			var from *hostlab.Host
			for _, h := range c.Hosts {
				if h != down && h.Agent.Running() {
					from = h
				}
			}
			s, err := c.Service(from, "web")
			if err != nil {
				return err
			}
			if s.Running != want || s.Desired != want {
				return fmt.Errorf("%s: %d/%d running, want %d", step, s.Running, s.Desired, want)
			}
			for _, a := range s.Allocs {
				if a.DesiredStatus == "run" && a.Version == old {
					return fmt.Errorf("%s: version %s still runs", step, old)
				}
				if a.DesiredStatus == "run" && a.Version != s.Allocs[0].Version {
					return fmt.Errorf("%s: versions %s and %s run", step, a.Version, s.Allocs[0].Version)
				}
			}
			_, err = obs.WaitFor(time.Second, func(s hostlab.Sample) bool { return s.Total() == want && len(s.Versions) == 1 && s.Versions[old] == 0 })
			return err
		})
		time.Sleep(3 * time.Second) // late ghosts show up here
		t.Logf("%s: %d running after %v", step, want, time.Since(start).Round(time.Millisecond))
		s, _ := obs.WaitFor(time.Second, func(hostlab.Sample) bool { return true })
		for v := range s.Versions {
			return v
		}
		return ""
	}
	// victim picks a host that is not the leader's and runs a replica.
	victim := func(l *hostlab.Host) *hostlab.Host {
		t.Helper()
		for i, h := range c.Hosts {
			if h == l {
				continue
			}
			s, err := obs.WaitFor(time.Second, func(hostlab.Sample) bool { return true })
			if err == nil && s.PerHost[i] > 0 {
				return h
			}
		}
		t.Fatal("no host other than the leader's runs a replica")
		return nil
	}

	put(3, "1")
	v1 := converged("deploy", 3, nil, "")

	// An earlier scale-up whose allocations are long deleted: the issue's
	// ghosts were a returning host's share of it.
	obs.SetLimit(30)
	put(30, "1")
	converged("scale to 30", 30, nil, "")
	put(3, "1")
	converged("scale back to 3", 3, nil, "")
	obs.SetLimit(3)

	// A host goes down (link cut, agent killed, engine halted) and comes
	// back with both restarted.
	v := victim(leader())
	if err := c.Down(v); err != nil {
		t.Fatal(err)
	}
	converged("host "+v.Net.Name+" down", 3, v, "")
	if err := c.Up(v); err != nil {
		t.Fatal(err)
	}
	converged("host "+v.Net.Name+" back", 3, nil, "")

	// Only the agent restarts; its engine and containers stay.
	v = victim(leader())
	v.Agent.Kill9()
	if err := v.Agent.Start(); err != nil {
		t.Fatal(err)
	}
	converged("agent of "+v.Net.Name+" restarted", 3, nil, "")

	// The leader's host goes down and comes back.
	l := leader()
	if err := c.Down(l); err != nil {
		t.Fatal(err)
	}
	converged("leader's host "+l.Net.Name+" down", 3, l, "")
	if err := c.Up(l); err != nil {
		t.Fatal(err)
	}
	converged("leader's host "+l.Net.Name+" back", 3, nil, "")

	// A rolling update, one replica at a time: at most 3 + 1 at once.
	obs.SetLimit(3 + 1)
	put(3, "2")
	converged("rolling update", 3, nil, v1)
	obs.SetLimit(3)

	vs := obs.Violations()
	for i, s := range vs {
		if i < 20 {
			t.Errorf("at %s: %d running (per host %v, versions %v), limit %d", s.At.Format("15:04:05.000"), s.Total(), s.PerHost, s.Versions, s.Limit)
		}
	}
	t.Logf("%d samples, %d above the limit", obs.Samples(), len(vs))
}
