package agent_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// raftVoters returns the sorted node names of the Raft voters as seen by n.
func raftVoters(t *testing.T, n *testcluster.Node) ([]string, error) {
	t.Helper()
	cfg, err := n.API(t).Operator().RaftGetConfiguration(nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, s := range cfg.Servers {
		if s.Voter {
			out = append(out, s.Node)
		}
	}
	slices.Sort(out)
	return out, nil
}

func wantVoters(t *testing.T, n *testcluster.Node, want ...string) {
	t.Helper()
	testcluster.Eventually(t, 20*time.Second, func() error {
		got, err := raftVoters(t, n)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("voters %v, want %v", got, want)
		}
		return nil
	})
}

func put(t *testing.T, n *testcluster.Node, key, val string) {
	t.Helper()
	if _, err := n.API(t).KV().Put(&api.KVPair{Key: key, Value: []byte(val)}, nil); err != nil {
		t.Fatalf("put %s via %s: %v", key, n.Name, err)
	}
}

func getValue(t *testing.T, n *testcluster.Node, key string, q *api.QueryOptions) (string, error) {
	t.Helper()
	p, _, err := n.API(t).KV().Get(key, q)
	if err != nil {
		return "", err
	}
	if p == nil {
		return "", fmt.Errorf("%s: key %q missing", n.Name, key)
	}
	return string(p.Value), nil
}

func TestThreeServersBootstrapAndReplicate(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3})
	leader := c.WaitForLeader(15 * time.Second)
	wantVoters(t, leader, "s1", "s2", "s3")

	// The leader reconciles every member into the catalog with serfHealth.
	testcluster.Eventually(t, 10*time.Second, func() error {
		nodes, _, err := leader.API(t).Catalog().Nodes(nil)
		if err != nil {
			return err
		}
		if len(nodes) != 3 {
			return fmt.Errorf("catalog has %d nodes, want 3", len(nodes))
		}
		return nil
	})

	// A write through any server is readable from every server.
	for i, n := range c.Nodes {
		put(t, n, fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
	}
	for _, n := range c.Nodes {
		for i := range c.Nodes {
			got, err := getValue(t, n, fmt.Sprintf("k%d", i), nil)
			if err != nil || got != fmt.Sprintf("v%d", i) {
				t.Fatalf("%s: k%d = %q, %v", n.Name, i, got, err)
			}
		}
	}
}

func TestClientAgentForwards(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Clients: 1})
	c.WaitForLeader(15 * time.Second)
	client := c.Nodes[3]
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, err := client.API(t).KV().Put(&api.KVPair{Key: "via/client", Value: []byte("ok")}, nil)
		return err
	})
	for _, q := range []*api.QueryOptions{nil, {AllowStale: true}, {RequireConsistent: true}} {
		testcluster.Eventually(t, 5*time.Second, func() error {
			got, err := getValue(t, client, "via/client", q)
			if err == nil && got != "ok" {
				return fmt.Errorf("got %q", got)
			}
			return err
		})
	}
	// The client's node is in the catalog, registered by the leader.
	testcluster.Eventually(t, 10*time.Second, func() error {
		nodes, meta, err := client.API(t).Catalog().Nodes(nil)
		if err != nil {
			return err
		}
		if !meta.KnownLeader || meta.LastIndex == 0 {
			return fmt.Errorf("meta %+v", meta)
		}
		for _, n := range nodes {
			if n.Node == "c1" {
				return nil
			}
		}
		return fmt.Errorf("c1 not in catalog: %d nodes", len(nodes))
	})
	// The client is not a Raft peer.
	wantVoters(t, client, "s1", "s2", "s3")
}

func TestLeaderLossElectsNewLeaderAndRejoin(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3})
	leader := c.WaitForLeader(15 * time.Second)
	put(t, leader, "before", "1")

	start := time.Now()
	c.Kill(leader)
	newLeader := c.WaitForLeader(10 * time.Second)
	t.Logf("new leader %s after %v", newLeader.Name, time.Since(start))
	if newLeader == leader {
		t.Fatal("killed leader still reported as leader")
	}
	put(t, newLeader, "after", "2")

	// The old leader restarts from its data dir and catches up.
	c.Start(leader)
	testcluster.Eventually(t, 15*time.Second, func() error {
		got, err := getValue(t, leader, "after", &api.QueryOptions{AllowStale: true})
		if err == nil && got != "2" {
			return fmt.Errorf("got %q", got)
		}
		return err
	})
	wantVoters(t, newLeader, "s1", "s2", "s3")
}

func TestAllServersRestartKeepData(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3})
	leader := c.WaitForLeader(15 * time.Second)
	for i := 0; i < 50; i++ {
		put(t, leader, fmt.Sprintf("data/%02d", i), fmt.Sprint(i))
	}
	for _, n := range c.Nodes {
		c.Kill(n)
	}
	for _, n := range c.Nodes {
		c.Start(n)
	}
	leader = c.WaitForLeader(20 * time.Second)
	pairs, _, err := leader.API(t).KV().List("data/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(pairs) != 50 {
		t.Fatalf("after restart: %d keys, want 50", len(pairs))
	}
	for i, p := range pairs {
		if string(p.Value) != fmt.Sprint(i) {
			t.Fatalf("%s = %q, want %d", p.Key, p.Value, i)
		}
	}
}

func TestFiveServersSurviveTwoLosses(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 5})
	leader := c.WaitForLeader(20 * time.Second)
	wantVoters(t, leader, "s1", "s2", "s3", "s4", "s5")
	// Lose the leader and one follower: three of five still form a quorum.
	put(t, leader, "before", "1")
	c.Kill(leader)
	for _, n := range c.Running() {
		c.Kill(n)
		break
	}
	leader = c.WaitForLeader(20 * time.Second)
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, err := leader.API(t).KV().Put(&api.KVPair{Key: "survived", Value: []byte("yes")}, nil)
		return err
	})
	// Every survivor holds the write acknowledged before the losses (a
	// lagging follower may need a moment to apply it: stale reads).
	for _, n := range c.Running() {
		testcluster.Eventually(t, 10*time.Second, func() error {
			got, err := getValue(t, n, "before", &api.QueryOptions{AllowStale: true})
			if err == nil && got != "1" {
				return fmt.Errorf("%s: before = %q", n.Name, got)
			}
			return err
		})
	}
}

func TestLeaveShrinksRaftConfiguration(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3})
	leader := c.WaitForLeader(15 * time.Second)
	wantVoters(t, leader, "s1", "s2", "s3")
	leaver := c.Follower(leader)
	if err := leaver.API(t).Agent().Leave(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-leaver.Agent.ShutdownCh():
	case <-time.After(15 * time.Second):
		t.Fatal("agent did not shut down after leave")
	}
	var rest []string
	for _, n := range c.Nodes {
		if n != leaver {
			rest = append(rest, n.Name)
		}
	}
	wantVoters(t, leader, rest...)
	testcluster.Eventually(t, 10*time.Second, func() error {
		nodes, _, err := leader.API(t).Catalog().Nodes(nil)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			if n.Node == leaver.Name {
				return fmt.Errorf("%s still in catalog", leaver.Name)
			}
		}
		return nil
	})
}

func TestDeadServerRemovedAfterGraceAndReadded(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Configure: func(i int, cfg *config.Config) {
		cfg.Autopilot.DeadServerGrace = time.Second
	}})
	leader := c.WaitForLeader(15 * time.Second)
	dead := c.Follower(leader)
	c.Kill(dead)
	var rest []string
	for _, n := range c.Nodes {
		if n != dead {
			rest = append(rest, n.Name)
		}
	}
	wantVoters(t, leader, rest...)
	c.Start(dead)
	wantVoters(t, leader, "s1", "s2", "s3")
}
