package compat

import (
	"strconv"
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
