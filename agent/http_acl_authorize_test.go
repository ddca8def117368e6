package agent_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

type authzAnswer struct {
	Resource, Segment, Access string
	Allow                     bool
}

// postAuthorize asks /v1/internal/acl/authorize with token and returns the
// status and the decoded answers.
func postAuthorize(t *testing.T, addr, token, body string) (int, []authzAnswer) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/internal/acl/authorize", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []authzAnswer
	if resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode, out
}

const authzQuestions = `[
	{"Resource":"key","Segment":"app/x","Access":"write"},
	{"Resource":"key","Segment":"app/x","Access":"read"},
	{"Resource":"deploy","Segment":"web","Access":"write"},
	{"Resource":"operator","Access":"read"}
]`

// TestACLAuthorize checks the answers the web UI disables actions by:
// for the caller's own token with ACLs on, everything with ACLs off, and
// 400 for a question it cannot answer.
func TestACLAuthorize(t *testing.T) {
	on := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, c *config.Config) {
		c.ACL.Enabled = true
		c.ACL.DefaultPolicy = "deny"
		c.ACL.Tokens.InitialManagement = mgmtSecret
	}})
	onNode := on.WaitForLeader(20 * time.Second)
	cfg := api.DefaultNonPooledConfig()
	cfg.Address, cfg.Token = onNode.HTTPAddr(), mgmtSecret
	mgmt, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := mgmt.ACL().PolicyCreate(&api.ACLPolicy{Name: "kv-read", Rules: `key_prefix "app/" { policy = "read" }`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := mgmt.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	off := testcluster.New(t, testcluster.Options{Servers: 1})
	offNode := off.WaitForLeader(20 * time.Second)

	tests := []struct {
		name, addr, token string
		want              []bool
	}{
		{"read-only token", onNode.HTTPAddr(), tok.SecretID, []bool{false, true, false, false}},
		{"anonymous, default deny", onNode.HTTPAddr(), "", []bool{false, false, false, false}},
		{"management token", onNode.HTTPAddr(), mgmtSecret, []bool{true, true, true, true}},
		{"ACLs disabled", offNode.HTTPAddr(), "", []bool{true, true, true, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, got := postAuthorize(t, tt.addr, tt.token, authzQuestions)
			if code != http.StatusOK {
				t.Fatalf("status %d, want 200", code)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d answers, want %d", len(got), len(tt.want))
			}
			for i, a := range got {
				if a.Allow != tt.want[i] {
					t.Errorf("%s %q %s: Allow %v, want %v", a.Resource, a.Segment, a.Access, a.Allow, tt.want[i])
				}
			}
			if got[0].Resource != "key" || got[0].Segment != "app/x" || got[0].Access != "write" {
				t.Errorf("answer does not echo its question: %+v", got[0])
			}
		})
	}

	bad := []struct{ name, body string }{
		{"unknown resource", `[{"Resource":"nope","Access":"read"}]`},
		{"unknown access", `[{"Resource":"key","Segment":"a","Access":"admin"}]`},
		{"segment on a global", `[{"Resource":"operator","Segment":"a","Access":"read"}]`},
		{"not a list", `{"Resource":"key"}`},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			if code, _ := postAuthorize(t, offNode.HTTPAddr(), "", b.body); code != http.StatusBadRequest {
				t.Errorf("status %d, want 400", code)
			}
		})
	}
	if code, _ := postAuthorize(t, onNode.HTTPAddr(), "no-such-secret", authzQuestions); code != http.StatusForbidden {
		t.Errorf("unknown token: status %d, want 403", code)
	}
}
