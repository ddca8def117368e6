package ui

import (
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

const aclMgmtSecret = "11111111-2222-3333-4444-555555555555"

// tokenWith creates a token holding rules and returns its secret.
func tokenWith(t *testing.T, mgmt *api.Client, name, rules string) string {
	t.Helper()
	p, _, err := mgmt.ACL().PolicyCreate(&api.ACLPolicy{Name: name, Rules: rules}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := mgmt.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return tok.SecretID
}

// TestACLDisablesActions drives the UI against an agent with ACLs on and
// default deny: with a token that may only read app/, the KV editor's
// Save and Delete are disabled and say which permission is missing; a
// token change in the open view (another token with write) enables them,
// and Save then works.
func TestACLDisablesActions(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, c *config.Config) {
		c.ACL.Enabled = true
		c.ACL.DefaultPolicy = "deny"
		c.ACL.Tokens.InitialManagement = aclMgmtSecret
	}})
	n := c.WaitForLeader(20 * time.Second)
	cfg := api.DefaultNonPooledConfig()
	cfg.Address, cfg.Token = n.HTTPAddr(), aclMgmtSecret
	mgmt, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := mgmt.KV().Put(&api.KVPair{Key: "app/x", Value: []byte("v1")}, nil); err != nil {
		t.Fatal(err)
	}
	readTok := tokenWith(t, mgmt, "app-read", `key_prefix "app/" { policy = "read" }
session_prefix "" { policy = "read" }
key_prefix "shoal/services/" { policy = "read" }
deploy_prefix "" { policy = "read" }`)
	spec := `{"name": "uiacl", "driver": "exec", "command": "/bin/sleep", "args": ["600"], "replicas": 0}`
	if _, err := mgmt.KV().Put(&api.KVPair{Key: "shoal/services/uiacl", Value: []byte(spec)}, nil); err != nil {
		t.Fatal(err)
	}
	sid, _, err := mgmt.Session().Create(&api.SessionEntry{Name: "ui-acl", Node: n.Name, Checks: []string{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	writeTok := tokenWith(t, mgmt, "app-write", `key_prefix "app/" { policy = "write" }`)
	b := newBrowser(t, n.HTTPAddr())

	const save = `document.querySelector('#kv-save')`
	const del = `[...document.querySelectorAll('main .confirm button')].find((e) => e.textContent === 'Delete')`
	state := func(disabled bool) string {
		return fmt.Sprintf(`(() => { const s = %s, d = %s; return !!s && !!d && s.disabled === %v && d.disabled === %v; })()`, save, del, disabled, disabled)
	}

	b.subtest(t, "read-only token: save and delete disabled", func(t *testing.T) {
		b.goTo("#/settings")
		b.setValue("#token", readTok)
		b.clickText("Save")
		b.goTo("#/kv/app/x")
		b.waitJS(5*time.Second, "editor", `document.querySelector('#kv-value')?.value === 'v1'`)
		b.waitJS(5*time.Second, "save and delete disabled", state(true))
		for _, el := range []string{save, del} {
			if title := eval[string](b, el+`.title`); title != `Not allowed: your ACL token lacks key:write on "app/x"` {
				t.Errorf("tooltip %q does not name the missing permission", title)
			}
		}
		b.screenshot("acl-kv-read-only")

		// Sessions: listed (session:read) but not destroyable.
		b.goTo("#/sessions")
		destroy := fmt.Sprintf(`document.querySelector('tr[data-session=%q] .confirm button')`, sid)
		b.waitJS(5*time.Second, "destroy disabled", destroy+`?.disabled === true`)
		want := fmt.Sprintf(`Not allowed: your ACL token lacks session:write on %q`, n.Name)
		if title := eval[string](b, destroy+`.title`); title != want {
			t.Errorf("destroy tooltip %q, want %q", title, want)
		}
		b.goTo("#/kv/app/x")
		b.waitJS(5*time.Second, "editor again", `document.querySelector('#kv-value')?.value === 'v1'`)
	})

	b.subtest(t, "token change in the open view enables them", func(t *testing.T) {
		eval[bool](b, fmt.Sprintf(`import('/ui/js/api.js').then((m) => { m.setToken(%q); return true; })`, writeTok))
		b.waitJS(5*time.Second, "save and delete enabled", state(false))
		if title := eval[string](b, save+`.title`); title != "" {
			t.Errorf("enabled Save keeps the tooltip %q", title)
		}
		b.typeInto("#kv-value", "2")
		b.click("#kv-save")
		b.waitJS(5*time.Second, "saved", `document.querySelector('main .status')?.textContent.includes('Saved')`)
		p, _, err := mgmt.KV().Get("app/x", nil)
		if err != nil || p == nil || string(p.Value) != "v12" {
			t.Fatalf("after save: %v %v", p, err)
		}
	})

	b.subtest(t, "read-only again disables them without a reload", func(t *testing.T) {
		eval[bool](b, fmt.Sprintf(`import('/ui/js/api.js').then((m) => { m.setToken(%q); return true; })`, readTok))
		b.waitJS(5*time.Second, "save and delete disabled", state(true))
	})

	b.subtest(t, "read-only token: deployment actions disabled", func(t *testing.T) {
		b.goTo("#/deployments/uiacl")
		b.waitJS(10*time.Second, "deployment shown", `!!document.querySelector('#counts')`)
		b.waitJS(5*time.Second, "scale and remove disabled, edit link inert", `(() => {
			const remove = [...document.querySelectorAll('main .confirm button')].find((e) => e.textContent === 'Remove');
			const edit = [...document.querySelectorAll('main a.button')].find((e) => e.textContent === 'Edit spec');
			return document.querySelector('#scale')?.disabled === true && remove?.disabled === true &&
				edit?.getAttribute('aria-disabled') === 'true' && !edit.hasAttribute('href'); })()`)
		want := `Not allowed: your ACL token lacks key:write on "shoal/services/uiacl" and deploy:write on "uiacl"`
		if title := eval[string](b, `document.querySelector('#scale').title`); title != want {
			t.Errorf("scale tooltip %q, want %q", title, want)
		}
		b.screenshot("acl-deployment-read-only")
	})
}
