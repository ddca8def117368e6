package agent_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestACLDefaultTokenPersisted sets the agent's default token through
// /v1/agent/token/default: requests without a token then act with it, and
// with enable_token_persistence it survives a restart.
func TestACLDefaultTokenPersisted(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, c *config.Config) {
		c.ACL.Enabled = true
		c.ACL.EnableTokenPersistence = true
		c.ACL.Tokens.InitialManagement = mgmtSecret
	}})
	n := c.WaitForLeader(20 * time.Second)
	cfg := api.DefaultNonPooledConfig()
	cfg.Address, cfg.Token = n.HTTPAddr(), mgmtSecret
	mgmt, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var reader string
	testcluster.Eventually(t, 10*time.Second, func() error {
		p, _, err := mgmt.ACL().PolicyCreate(&api.ACLPolicy{Name: "kv-read", Rules: `key_prefix "" { policy = "read" }`}, nil)
		if err != nil {
			return err
		}
		tok, _, err := mgmt.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
		if err == nil {
			reader = tok.SecretID
		}
		return err
	})
	if _, err := mgmt.KV().Put(&api.KVPair{Key: "k", Value: []byte("v")}, nil); err != nil {
		t.Fatal(err)
	}
	get := func() int {
		code, _, _ := httpGet(t, "http://"+n.HTTPAddr()+"/v1/kv/k")
		return code
	}
	if code := get(); code != http.StatusForbidden {
		t.Fatalf("anonymous read: %d, want 403", code)
	}
	if _, err := mgmt.Agent().UpdateDefaultACLToken(reader, nil); err != nil {
		t.Fatal(err)
	}
	if code := get(); code != http.StatusOK {
		t.Fatalf("read under the default token: %d, want 200", code)
	}
	c.Kill(n)
	c.Start(n)
	c.WaitForLeader(20 * time.Second)
	testcluster.Eventually(t, 10*time.Second, func() error {
		if code := get(); code != http.StatusOK {
			return errStatus(code)
		}
		return nil
	})
}

type errStatus int

func (e errStatus) Error() string { return http.StatusText(int(e)) }
