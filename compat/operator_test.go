package compat

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/version"
)

// TestMembersCarryConsulTags: `consul members` types members by the role
// tag (consul = server, node = client) and reads build and protocol tags.
func TestMembersCarryConsulTags(t *testing.T) {
	members, err := entries[0].node.API(t).Agent().Members(false)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]int{}
	for _, m := range members {
		roles[m.Tags["role"]]++
		want := map[string]string{
			"dc": "dc1", "build": version.Version + ":" + version.GitCommit, "vsn": "2", "vsn_min": "2",
			"vsn_max": "3", "raft_vsn": "3", "segment": "", "shoal_vsn": strconv.Itoa(version.ProtocolVersion),
		}
		for k, v := range want {
			if got, ok := m.Tags[k]; !ok || got != v {
				t.Errorf("%s: tag %s = %q (present %v), want %q", m.Name, k, got, ok, v)
			}
		}
		if m.Tags["id"] == "" {
			t.Errorf("%s: Shoal's id tag is gone: %v", m.Name, m.Tags)
		}
		if m.Tags["role"] == "consul" && m.Tags["port"] == "" {
			t.Errorf("%s: a server without Shoal's port tag: %v", m.Name, m.Tags)
		}
	}
	if roles["consul"] != 3 || roles["node"] != 1 {
		t.Fatalf("roles %v, want 3 consul and 1 node", roles)
	}
}

// TestRaftConfigurationLastIndex: list-peers shows each server's commit
// index; every server of a healthy cluster is close to the leader's.
func TestRaftConfigurationLastIndex(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		if _, err := c.KV().Put(&api.KVPair{Key: "lastindex", Value: []byte("x")}, nil); err != nil {
			t.Fatal(err)
		}
		cf, err := c.Operator().RaftGetConfiguration(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(cf.Servers) != 3 {
			t.Fatalf("%d servers", len(cf.Servers))
		}
		for _, s := range cf.Servers {
			if s.LastIndex == 0 {
				t.Errorf("server %s: LastIndex 0", s.Node)
			}
		}
	})
}

// TestAutopilot: configuration, health and state through the Go client.
func TestAutopilot(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		op := c.Operator()
		cfg, err := op.AutopilotGetConfiguration(nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.LastContactThreshold.Duration() != 200*time.Millisecond || cfg.MaxTrailingLogs != 250 {
			t.Fatalf("config %+v", cfg)
		}
		var health *api.OperatorHealthReply
		testcluster.Eventually(t, 10*time.Second, func() error {
			health, err = op.AutopilotServerHealth(nil)
			if err != nil {
				return err
			}
			if !health.Healthy {
				return errUnhealthy(health)
			}
			return nil
		})
		if health.FailureTolerance != 1 || len(health.Servers) != 3 {
			t.Fatalf("tolerance %d, %d servers", health.FailureTolerance, len(health.Servers))
		}
		leaders := 0
		for _, s := range health.Servers {
			if s.Leader {
				leaders++
			}
			if s.Name == "" || s.SerfStatus != "alive" || s.LastIndex == 0 || s.Version != version.Version || !s.Voter {
				t.Errorf("server %+v", s)
			}
		}
		if leaders != 1 {
			t.Fatalf("%d leaders", leaders)
		}
		st, err := op.AutopilotState(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !st.Healthy || len(st.Servers) != 3 || len(st.Voters) != 3 || st.Servers[st.Leader].Status != api.AutopilotServerLeader {
			t.Fatalf("state %+v", st)
		}
	})
}

type unhealthy struct{ r *api.OperatorHealthReply }

func (u unhealthy) Error() string {
	s := "unhealthy:"
	for _, x := range u.r.Servers {
		s += " " + x.Name + "=" + x.SerfStatus + "/" + x.LastContact.String()
	}
	return s
}

func errUnhealthy(r *api.OperatorHealthReply) error { return unhealthy{r} }

// TestAutopilotSetConfiguration: the configuration is stored through
// Raft; a plain set always applies, a CAS only on the ModifyIndex last
// read, and every agent reads back what was stored.
func TestAutopilotSetConfiguration(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		op := c.Operator()
		t.Cleanup(func() {
			def := api.NewAutopilotConfiguration()
			if err := op.AutopilotSetConfiguration(&def, nil); err != nil {
				t.Errorf("restore the defaults: %v", err)
			}
		})
		set := api.NewAutopilotConfiguration()
		set.CleanupDeadServers = false
		set.MaxTrailingLogs = 300
		set.LastContactThreshold = api.NewReadableDuration(time.Second)
		if err := op.AutopilotSetConfiguration(&set, nil); err != nil {
			t.Fatal(err)
		}
		for _, other := range entries {
			got, err := other.node.API(t).Operator().AutopilotGetConfiguration(nil)
			if err != nil {
				t.Fatal(err)
			}
			if got.CleanupDeadServers || got.MaxTrailingLogs != 300 || got.LastContactThreshold.Duration() != time.Second ||
				got.ServerStabilizationTime.Duration() != 10*time.Second || got.ModifyIndex == 0 || got.CreateIndex == 0 {
				t.Fatalf("%s reads %+v after the set", other.name, got)
			}
		}
		cur, err := op.AutopilotGetConfiguration(nil)
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name  string
			index uint64
			want  bool
		}{
			{"stale index", cur.ModifyIndex - 1, false},
			{"current index", cur.ModifyIndex, true},
			{"index already used", cur.ModifyIndex, false},
		}
		for i, tc := range cases {
			set.MaxTrailingLogs = uint64(400 + i)
			set.ModifyIndex = tc.index
			ok, err := op.AutopilotCASConfiguration(&set, nil)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tc.want {
				t.Fatalf("%s: CAS answered %v, want %v", tc.name, ok, tc.want)
			}
			got, err := op.AutopilotGetConfiguration(nil)
			if err != nil {
				t.Fatal(err)
			}
			if applied := got.MaxTrailingLogs == set.MaxTrailingLogs; applied != tc.want {
				t.Fatalf("%s: MaxTrailingLogs %d after the CAS, applied %v, want %v", tc.name, got.MaxTrailingLogs, applied, tc.want)
			}
		}
		resp, body := rawHTTP(t, n, "PUT", "/v1/operator/autopilot/configuration", `{"LastContactThreshold": "soon"}`)
		if resp.StatusCode != 400 {
			t.Fatalf("a bad duration: %d %s, want 400", resp.StatusCode, body)
		}
	})
}

// TestRaftTransferLeader: Consul's /v1/operator/raft/transfer-leader
// through the official client: to a named voter, to any, and the refusals.
func TestRaftTransferLeader(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, testcluster.Options{Servers: 3})
	leader := c.WaitForLeader(20 * time.Second)
	follower := c.Follower(leader)
	cl := follower.API(t)
	cf, err := cl.Operator().RaftGetConfiguration(nil)
	if err != nil {
		t.Fatal(err)
	}
	idOf := map[string]string{} // Raft address -> ID
	for _, s := range cf.Servers {
		idOf[s.Address] = s.ID
	}

	// Refusals first, while the leader is known: 400 and the cause.
	for _, tc := range []struct{ name, id, want string }{
		{"unknown ID", "no-such-server", "raft peer not found"},
		{"the leader itself", idOf[leader.RPCAddr()], "already the leader"},
	} {
		_, err := cl.Operator().RaftLeaderTransfer(tc.id, nil)
		var se api.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusBadRequest || !strings.Contains(se.Body, tc.want) {
			t.Fatalf("%s: err %v, want a 400 saying %q", tc.name, err, tc.want)
		}
	}
	if l, _ := cl.Status().Leader(); l != leader.RPCAddr() {
		t.Fatalf("a refused transfer changed the leader: %s, was %s", l, leader.RPCAddr())
	}

	// To a named voter: the follower asked through.
	target := follower
	res, err := cl.Operator().RaftLeaderTransfer(idOf[target.RPCAddr()], nil)
	if err != nil || !res.Success {
		t.Fatalf("transfer to %s: %+v %v", target.Name, res, err)
	}
	// The old leader has stepped down when the call returns; the others
	// learn the new one with its first heartbeat.
	testcluster.Eventually(t, 10*time.Second, func() error {
		if got := c.WaitForLeader(10 * time.Second); got != target {
			return fmt.Errorf("leader after the transfer: %s, want %s", got.Name, target.Name)
		}
		return nil
	})
	if _, err := cl.KV().Put(&api.KVPair{Key: "after-transfer", Value: []byte("1")}, nil); err != nil {
		t.Fatalf("write after the transfer: %v", err)
	}

	// To any other voter, asked through the new leader.
	res, err = target.API(t).Operator().RaftLeaderTransfer("", nil)
	if err != nil || !res.Success {
		t.Fatalf("transfer without an ID: %+v %v", res, err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		if got := c.WaitForLeader(10 * time.Second); got == target {
			return fmt.Errorf("leader still %s after a transfer without an ID", got.Name)
		}
		return nil
	})
	if p, _, err := cl.KV().Get("after-transfer", &api.QueryOptions{RequireConsistent: true}); err != nil || p == nil {
		t.Fatalf("read after two transfers: %v %v", p, err)
	}
}
