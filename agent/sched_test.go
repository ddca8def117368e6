package agent_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

type schedAlloc struct {
	ID, NodeName, DesiredStatus, ClientStatus, DesiredDescription, ClientDescription string
	Index                                                                            int
	Healthy                                                                          bool
}

type schedService struct {
	Name, Version, Error      string
	Desired, Running, Healthy int
	Allocs                    []schedAlloc
}

func getService(t *testing.T, n *testcluster.Node, name string) (*schedService, error) {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/shoal/services/" + name)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%d %s", resp.StatusCode, body)
	}
	var s schedService
	return &s, json.Unmarshal(body, &s)
}

// liveByNode counts the live (desired run) replicas of a service per node,
// failing on two live replicas in one slot.
func liveByNode(s *schedService) (map[string]int, error) {
	out := map[string]int{}
	slots := map[int]bool{}
	for _, a := range s.Allocs {
		if a.DesiredStatus != "run" {
			continue
		}
		if slots[a.Index] {
			return nil, fmt.Errorf("slot %d has two live replicas", a.Index)
		}
		slots[a.Index] = true
		out[a.NodeName]++
	}
	return out, nil
}

// stopAllServices registers a cleanup, run before the cluster's shutdown,
// that deletes every spec and waits until no replica runs: agents that
// shut down leave their tasks running (as Nomad's do), and a test must not
// leave processes behind.
func stopAllServices(t *testing.T, n *testcluster.Node) {
	t.Cleanup(func() {
		if _, err := n.API(t).KV().DeleteTree("shoal/services/", nil); err != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		testcluster.Eventually(t, 30*time.Second, func() error {
			resp, err := http.Get("http://" + n.HTTPAddr() + "/v1/shoal/services")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var list []schedService
			if err := json.Unmarshal(body, &list); err != nil {
				return err
			}
			if len(list) > 0 {
				return fmt.Errorf("%d services still listed", len(list))
			}
			return nil
		})
	})
}

// waitRunning waits until the service has want live replicas, all running
// and registered in the catalog as passing instances.
func waitRunning(t *testing.T, n *testcluster.Node, name string, want int, timeout time.Duration) *schedService {
	t.Helper()
	var s *schedService
	testcluster.Eventually(t, timeout, func() error {
		var err error
		if s, err = getService(t, n, name); err != nil {
			return err
		}
		if s.Error != "" {
			return fmt.Errorf("spec error: %s", s.Error)
		}
		if _, err := liveByNode(s); err != nil {
			return err
		}
		if s.Desired != want || s.Running != want {
			return fmt.Errorf("%d/%d running, want %d", s.Running, s.Desired, want)
		}
		entries, _, err := n.API(t).Health().Service(name, "", true, nil)
		if err != nil {
			return err
		}
		if len(entries) != want {
			return fmt.Errorf("catalog has %d passing instances, want %d", len(entries), want)
		}
		return nil
	})
	return s
}

// TestSchedulerWithExecDriver deploys a service by a KV write and follows
// it through scale-up, a node loss (re-placement after the grace period),
// the node's return (its stale process is stopped), a bad spec (recorded,
// replicas kept) and removal. It uses the exec driver: real processes, no
// container engine needed.
func TestSchedulerWithExecDriver(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Clients: 1})
	leader := c.WaitForLeader(15 * time.Second)
	stopAllServices(t, leader)
	kv := leader.API(t).KV()
	spec := func(replicas int) []byte {
		return []byte(fmt.Sprintf(`{"name": "sleeper", "driver": "exec", "command": "/bin/sleep", "args": ["600"],
			"replicas": %d, "resources": {"cpu": 10, "memory": 10}, "restart": {"delay": "200ms"}}`, replicas))
	}
	if _, err := kv.Put(&api.KVPair{Key: "shoal/services/sleeper", Value: spec(3)}, nil); err != nil {
		t.Fatal(err)
	}
	s := waitRunning(t, leader, "sleeper", 3, 30*time.Second)
	byNode, _ := liveByNode(s)
	if len(byNode) != 3 {
		t.Fatalf("spread placed 3 replicas on %d nodes: %v", len(byNode), byNode)
	}

	// Scale up: 5 replicas over 4 nodes.
	if _, err := kv.Put(&api.KVPair{Key: "shoal/services/sleeper", Value: spec(5)}, nil); err != nil {
		t.Fatal(err)
	}
	s = waitRunning(t, leader, "sleeper", 5, 30*time.Second)

	// Lose the client node (not the leader): its replicas move elsewhere.
	client := c.Nodes[3]
	byNode, _ = liveByNode(s)
	lost := byNode[client.Name]
	if lost == 0 {
		t.Fatalf("no replica on %s to lose: %v", client.Name, byNode)
	}
	start := time.Now()
	c.Kill(client)
	testcluster.Eventually(t, 40*time.Second, func() error {
		s, err := getService(t, leader, "sleeper")
		if err != nil {
			return err
		}
		byNode, err := liveByNode(s)
		if err != nil {
			return err
		}
		if byNode[client.Name] != 0 || s.Running != 5 {
			return fmt.Errorf("on lost node: %d, running %d/%d", byNode[client.Name], s.Running, s.Desired)
		}
		return nil
	})
	t.Logf("replicas of the lost node re-placed and running after %v", time.Since(start).Round(time.Millisecond))

	// The node returns: nothing runs there twice, and the set stays at 5.
	c.Start(client)
	time.Sleep(3 * time.Second)
	s = waitRunning(t, leader, "sleeper", 5, 30*time.Second)
	if byNode, _ := liveByNode(s); byNode[client.Name] > 2 {
		t.Fatalf("returning node got %d replicas", byNode[client.Name])
	}

	// A bad spec is recorded; the running replicas stay.
	if _, err := kv.Put(&api.KVPair{Key: "shoal/services/sleeper", Value: []byte(`{"name": "sleeper", "replicas": -1}`)}, nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		s, err := getService(t, leader, "sleeper")
		if err != nil {
			return err
		}
		if s.Error == "" || s.Running != 5 {
			return fmt.Errorf("error %q, running %d", s.Error, s.Running)
		}
		return nil
	})

	// Removal stops everything and forgets the service.
	if _, err := kv.Delete("shoal/services/sleeper", nil); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		_, err := getService(t, leader, "sleeper")
		if err == nil {
			return fmt.Errorf("service still listed")
		}
		entries, _, err := leader.API(t).Health().Service("sleeper", "", false, nil)
		if err != nil || len(entries) != 0 {
			return fmt.Errorf("%d instances still in the catalog (%v)", len(entries), err)
		}
		return nil
	})
}

// TestDependsOnWaitsForHealthyDependency deploys a service that depends on
// another: its replicas wait (pending, saying why) until the dependency
// has a passing instance, then start.
func TestDependsOnWaitsForHealthyDependency(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
	}})
	n := c.WaitForLeader(10 * time.Second)
	stopAllServices(t, n)
	kv := n.API(t).KV()
	put := func(name, extra string) {
		spec := fmt.Sprintf(`{"name": %q, "driver": "exec", "command": "/bin/sleep", "args": ["600"], "replicas": 1,
			"resources": {"cpu": 10, "memory": 10}%s}`, name, extra)
		if _, err := kv.Put(&api.KVPair{Key: "shoal/services/" + name, Value: []byte(spec)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	put("app", `, "depends_on": ["db"]`)
	testcluster.Eventually(t, 20*time.Second, func() error {
		s, err := getService(t, n, "app")
		if err != nil {
			return err
		}
		if len(s.Allocs) != 1 || s.Allocs[0].ClientStatus != "pending" ||
			!strings.Contains(s.Allocs[0].ClientDescription, "waiting for dependencies: db") {
			return fmt.Errorf("app allocations: %+v", s.Allocs)
		}
		return nil
	})
	put("db", "")
	waitRunning(t, n, "db", 1, 30*time.Second)
	waitRunning(t, n, "app", 1, 30*time.Second)
}

// TestValidateAppliesMaxReplicas checks that the validate endpoint, which
// `shoal svc deploy` calls before writing a spec, rejects a spec asking for
// more replicas than the agent's scheduler.max_replicas with a 400, and
// accepts one at the limit.
func TestValidateAppliesMaxReplicas(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1,
		Configure: func(_ int, c *config.Config) { c.Scheduler.MaxReplicas = 5 }})
	n := c.WaitForLeader(15 * time.Second)
	tests := []struct {
		name     string
		replicas int
		wantCode int
		wantBody string
	}{
		{name: "at the limit", replicas: 5, wantCode: http.StatusOK, wantBody: `"Name":"web"`},
		{name: "beyond the limit", replicas: 6, wantCode: http.StatusBadRequest,
			wantBody: `replicas: must be <= 5 (the scheduler's max_replicas), got 6`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			spec := fmt.Sprintf(`{"name": "web", "image": "nginx:1.27", "replicas": %d}`, tc.replicas)
			resp, err := http.Post("http://"+n.HTTPAddr()+"/v1/shoal/validate", "application/json", strings.NewReader(spec))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantCode || !strings.Contains(string(body), tc.wantBody) {
				t.Errorf("%d %s, want %d containing %q", resp.StatusCode, body, tc.wantCode, tc.wantBody)
			}
		})
	}
}
