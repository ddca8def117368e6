package agent_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestDeadServerCleanupFollowsStoredAutopilotConfig: the leader's
// dead-server cleanup reads the configuration stored through
// /v1/operator/autopilot/configuration, not only its flags. A dead server
// stays while the stored configuration forbids its removal, and goes as
// soon as the configuration allows it, without a restart.
func TestDeadServerCleanupFollowsStoredAutopilotConfig(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *api.AutopilotConfiguration)
	}{
		{"cleanup off", func(c *api.AutopilotConfiguration) { c.CleanupDeadServers = false }},
		{"min quorum of 3", func(c *api.AutopilotConfiguration) { c.MinQuorum = 3 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testcluster.New(t, testcluster.Options{Servers: 3, Configure: func(i int, cfg *config.Config) {
				cfg.Autopilot.DeadServerGrace = time.Second
			}})
			leader := c.WaitForLeader(15 * time.Second)
			op := leader.API(t).Operator()
			conf := api.NewAutopilotConfiguration()
			tc.edit(&conf)
			if err := op.AutopilotSetConfiguration(&conf, nil); err != nil {
				t.Fatal(err)
			}
			var dead *testcluster.Node
			var rest []string
			for _, n := range c.Nodes {
				if n != leader && dead == nil {
					dead = n
					continue
				}
				rest = append(rest, n.Name)
			}
			c.Kill(dead)
			// Four grace periods: the flags alone would have removed it.
			deadline := time.Now().Add(4 * time.Second)
			for time.Now().Before(deadline) {
				got, err := raftVoters(t, leader)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != 3 {
					t.Fatalf("voters %v: the dead server was removed against the stored configuration", got)
				}
				time.Sleep(200 * time.Millisecond)
			}
			def := api.NewAutopilotConfiguration()
			if err := op.AutopilotSetConfiguration(&def, nil); err != nil {
				t.Fatal(err)
			}
			slices.Sort(rest)
			wantVoters(t, leader, rest...)
		})
	}
}
