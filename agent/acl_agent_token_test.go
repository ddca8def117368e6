package agent_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestACLAntiEntropyUsesAgentToken: with default deny, a client agent's
// anti-entropy cannot write its node's services until it has an agent
// token (set at run time through /v1/agent/token/agent); then it can.
func TestACLAntiEntropyUsesAgentToken(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Clients: 1, Configure: func(i int, c *config.Config) {
		c.ACL.Enabled = true
		c.ACL.Tokens.InitialManagement = mgmtSecret
	}})
	c.WaitForLeader(20 * time.Second)
	client := c.Nodes[1]
	cfg := api.DefaultNonPooledConfig()
	cfg.Address, cfg.Token = client.HTTPAddr(), mgmtSecret
	mgmt, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		return mgmt.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "ae-svc", Port: 1234})
	})
	inCatalog := func() error {
		svcs, _, err := mgmt.Catalog().Service("ae-svc", "", nil)
		if err != nil {
			return err
		}
		if len(svcs) == 0 {
			return fmt.Errorf("ae-svc not in the catalog")
		}
		return nil
	}
	// Without an agent token, anti-entropy runs as anonymous and is refused.
	time.Sleep(2 * time.Second)
	if inCatalog() == nil {
		t.Fatal("anti-entropy wrote the catalog without an agent token")
	}
	p, _, err := mgmt.ACL().PolicyCreate(&api.ACLPolicy{Name: "agent-c1", Rules: `node "c1" { policy = "write" }
service_prefix "" { policy = "write" }
node_prefix "" { policy = "read" }
key_prefix "shoal/overlay/" { policy = "write" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := mgmt.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mgmt.Agent().UpdateAgentACLToken(tok.SecretID, nil); err != nil {
		t.Fatal(err)
	}
	// A change to the local state triggers a sync.
	if err := mgmt.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "ae-svc", Port: 1235}); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 20*time.Second, inCatalog)
}
