package compat

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// newACLCluster starts one server and one client agent with ACLs on and
// returns the client agent's node.
func newACLCluster(t *testing.T) (srv, cli *testcluster.Node) {
	t.Helper()
	c := testcluster.New(t, testcluster.Options{Servers: 1, Clients: 1, Configure: func(i int, c *config.Config) {
		c.ACL.Enabled = true
	}})
	c.WaitForLeader(20 * time.Second)
	return c.Nodes[0], c.Nodes[1]
}

func withToken(t *testing.T, n *testcluster.Node, secret string) *api.Client {
	t.Helper()
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = n.HTTPAddr()
	cfg.Token = secret
	cl, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func statusCode(err error) int {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// TestACLOfficialClient drives the official client's ACL calls through a
// client agent (forwarded to the server): bootstrap once, policies, roles
// and tokens linked by name, self, read, list (secrets redacted), update
// and delete.
func TestACLOfficialClient(t *testing.T) {
	_, cli := newACLCluster(t)
	anon := cli.API(t).ACL()

	var boot *api.ACLToken
	testcluster.Eventually(t, 10*time.Second, func() error {
		var err error
		boot, _, err = anon.Bootstrap()
		return err
	})
	if boot.SecretID == "" || boot.AccessorID == "" || len(boot.Policies) != 1 || boot.Policies[0].Name != "global-management" {
		t.Fatalf("bootstrap token %+v", boot)
	}
	if _, _, err := anon.Bootstrap(); statusCode(err) != http.StatusForbidden || !strings.Contains(err.Error(), "ACL bootstrap no longer allowed") {
		t.Fatalf("second bootstrap: %v, want 403 ACL bootstrap no longer allowed", err)
	}

	mgmt := withToken(t, cli, boot.SecretID).ACL()
	pol, _, err := mgmt.PolicyCreate(&api.ACLPolicy{Name: "app-kv", Description: "app keys",
		Rules: `key_prefix "app/" { policy = "write" }`}, nil)
	if err != nil || pol.ID == "" {
		t.Fatalf("PolicyCreate: %+v %v", pol, err)
	}
	if _, _, err := mgmt.PolicyCreate(&api.ACLPolicy{Name: "bad", Rules: `key "x" { policy = "everything" }`}, nil); statusCode(err) != http.StatusBadRequest {
		t.Fatalf("PolicyCreate with bad rules: %v, want 400", err)
	}
	role, _, err := mgmt.RoleCreate(&api.ACLRole{Name: "app", Policies: []*api.ACLRolePolicyLink{{Name: "app-kv"}}}, nil)
	if err != nil || role.ID == "" || len(role.Policies) != 1 || role.Policies[0].ID != pol.ID {
		t.Fatalf("RoleCreate: %+v %v", role, err)
	}
	tok, _, err := mgmt.TokenCreate(&api.ACLToken{Description: "app token", Roles: []*api.ACLTokenRoleLink{{Name: "app"}}}, nil)
	if err != nil || tok.SecretID == "" || len(tok.Roles) != 1 || tok.Roles[0].ID != role.ID {
		t.Fatalf("TokenCreate: %+v %v", tok, err)
	}

	self, _, err := withToken(t, cli, tok.SecretID).ACL().TokenReadSelf(nil)
	if err != nil || self.AccessorID != tok.AccessorID {
		t.Fatalf("TokenReadSelf: %+v %v", self, err)
	}
	if _, _, err := withToken(t, cli, tok.SecretID).ACL().TokenList(nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("TokenList without acl:read: %v, want 403", err)
	}
	if _, _, err := withToken(t, cli, "no-such-secret").ACL().TokenReadSelf(nil); statusCode(err) != http.StatusForbidden || !strings.Contains(err.Error(), "ACL not found") {
		t.Fatalf("unknown secret: %v, want 403 ACL not found", err)
	}
	read, _, err := mgmt.TokenRead(tok.AccessorID, nil)
	if err != nil || read.SecretID != tok.SecretID {
		t.Fatalf("TokenRead by a management token: %+v %v", read, err)
	}
	list, _, err := mgmt.TokenList(nil)
	if err != nil || len(list) != 3 { // anonymous, bootstrap, app
		t.Fatalf("TokenList: %d tokens, %v", len(list), err)
	}
	for _, e := range list {
		if e.SecretID == tok.SecretID || e.SecretID == boot.SecretID {
			t.Fatalf("TokenList shows a secret: %+v", e)
		}
	}
	if got, _, err := mgmt.PolicyReadByName("app-kv", nil); err != nil || got.ID != pol.ID || got.Rules != pol.Rules {
		t.Fatalf("PolicyReadByName: %+v %v", got, err)
	}
	if got, _, err := mgmt.RoleReadByName("app", nil); err != nil || got.ID != role.ID {
		t.Fatalf("RoleReadByName: %+v %v", got, err)
	}
	tok.Description = "renamed"
	tok.SecretID = ""
	if up, _, err := mgmt.TokenUpdate(tok, nil); err != nil || up.Description != "renamed" || up.SecretID != read.SecretID {
		t.Fatalf("TokenUpdate: %+v %v", up, err)
	}
	if _, err := mgmt.TokenDelete(tok.AccessorID, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := withToken(t, cli, read.SecretID).ACL().TokenReadSelf(nil); statusCode(err) != http.StatusForbidden {
		t.Fatalf("deleted token still resolves: %v", err)
	}
	if got, _, err := mgmt.TokenRead(tok.AccessorID, nil); err == nil && got != nil {
		t.Fatalf("deleted token still readable: %+v", got)
	}
	if _, err := mgmt.RoleDelete(role.ID, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := mgmt.PolicyDelete(pol.ID, nil); err != nil {
		t.Fatal(err)
	}
	if pols, _, err := mgmt.PolicyList(nil); err != nil || len(pols) != 1 || pols[0].Name != "global-management" {
		t.Fatalf("PolicyList after delete: %+v %v", pols, err)
	}
}
