package agent_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestRaftSnapshotSettings: raft_snapshot_threshold, raft_snapshot_interval
// and raft_trailing_logs (Consul's keys) reach the server's Raft: with a
// threshold of 64 entries checked every second, 150 writes are followed by
// a snapshot; with the defaults (8192 entries) they are not.
func TestRaftSnapshotSettings(t *testing.T) {
	for _, tc := range []struct {
		name      string
		configure func(int, *config.Config)
		snapshot  bool
	}{
		{"set", func(_ int, c *config.Config) {
			c.RaftSnapshotThreshold, c.RaftSnapshotInterval, c.RaftTrailingLogs = 64, time.Second, 16
		}, true},
		{"defaults", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: tc.configure})
			n := c.WaitForLeader(20 * time.Second)
			cl := n.API(t)
			for i := range 150 {
				if _, err := cl.KV().Put(&api.KVPair{Key: fmt.Sprintf("snap/%d", i), Value: []byte("x")}, nil); err != nil {
					t.Fatal(err)
				}
			}
			snapIndex := func() (uint64, error) {
				self, err := cl.Agent().Self()
				if err != nil {
					return 0, err
				}
				raft, _ := self["Stats"]["raft"].(map[string]interface{})
				s, _ := raft["last_snapshot_index"].(string)
				return strconv.ParseUint(s, 10, 64)
			}
			if tc.snapshot {
				testcluster.Eventually(t, 10*time.Second, func() error {
					idx, err := snapIndex()
					if err == nil && idx < 64 {
						err = fmt.Errorf("last_snapshot_index %d, want a snapshot after 64 entries", idx)
					}
					return err
				})
				return
			}
			time.Sleep(3 * time.Second) // three intervals of the "set" case
			if idx, err := snapIndex(); err != nil || idx != 0 {
				t.Fatalf("last_snapshot_index %d (%v) with the defaults, want no snapshot", idx, err)
			}
		})
	}
}

// TestAutopilotSettingsFromConfig: the autopilot block's min_quorum and
// health thresholds (Consul's keys) are the configuration the operator
// API answers, and dead-server cleanup uses, until one is stored.
func TestAutopilotSettingsFromConfig(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(_ int, cfg *config.Config) {
		cfg.Autopilot.MinQuorum = 3
		cfg.Autopilot.LastContactThreshold = 500 * time.Millisecond
		cfg.Autopilot.MaxTrailingLogs = 100
		cfg.Autopilot.ServerStabilizationTime = 20 * time.Second
	}})
	n := c.WaitForLeader(20 * time.Second)
	got, err := n.API(t).Operator().AutopilotGetConfiguration(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.MinQuorum != 3 || got.LastContactThreshold.Duration() != 500*time.Millisecond || got.MaxTrailingLogs != 100 ||
		got.ServerStabilizationTime.Duration() != 20*time.Second || !got.CleanupDeadServers {
		t.Fatalf("autopilot configuration %+v, want the agent's block", got)
	}
}

// TestRPCHoldTimeout: performance.rpc_hold_timeout (Consul's key) bounds
// how long a write waits for a leader: with 1s, a write to a server that
// cannot elect one (it expects two more) fails after about a second, not
// the default 7.
func TestRPCHoldTimeout(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(_ int, cfg *config.Config) {
		cfg.BootstrapExpect = 3
		cfg.Performance.RPCHoldTimeout = time.Second
	}})
	cl := c.Nodes[0].API(t)
	start := time.Now()
	_, err := cl.KV().Put(&api.KVPair{Key: "hold", Value: []byte("x")}, nil)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "No cluster leader") {
		t.Fatalf("put without a leader: %v", err)
	}
	if took < 900*time.Millisecond || took > 4*time.Second {
		t.Fatalf("put failed after %s, want about 1s", took)
	}
}
