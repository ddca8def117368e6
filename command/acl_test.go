package command

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestACLCommandsAgainstAgent runs the acl commands against a real
// single-server agent with ACLs on: bootstrap once, a policy, a role on
// it, a token on the role (linked by name), list without secrets, read
// self, update, delete.
func TestACLCommandsAgainstAgent(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, c *config.Config) {
		c.ACL.Enabled = true
	}})
	c.WaitForLeader(20 * time.Second)
	addr := "-http-addr=" + c.Nodes[0].HTTPAddr()
	run := func(args ...string) result {
		t.Helper()
		ui := cli.NewMockUi()
		cmd, err := Commands(ui)[args[0]]()
		if err != nil {
			t.Fatal(err)
		}
		code := cmd.Run(append([]string{addr}, args[1:]...))
		return result{code: code, stdout: ui.OutputWriter.String(), stderr: ui.ErrorWriter.String()}
	}
	clearHTTPEnv(t)

	var boot struct{ AccessorID, SecretID string }
	testcluster.Eventually(t, 10*time.Second, func() error {
		r := run("acl bootstrap", "-format=json")
		if r.code != 0 {
			return errString(r.stderr)
		}
		return json.Unmarshal([]byte(r.stdout), &boot)
	})
	if r := run("acl bootstrap"); r.code != 1 || !strings.Contains(r.stderr, "ACL bootstrap no longer allowed") {
		t.Fatalf("second bootstrap: %+v", r)
	}
	mgmt := "-token=" + boot.SecretID
	steps := []struct {
		args    []string
		code    int
		outHas  string
		errHas  string
		outLack string
	}{
		{[]string{"acl policy create", mgmt, "-name=app", "-rules", `key_prefix "app/" { policy = "write" }`}, 0, "Name:         app", "", ""},
		{[]string{"acl policy create", mgmt}, 1, "", "Missing required flag: -name", ""},
		{[]string{"acl policy create", "-name=x", "-rules", `operator = "read"`}, 1, "", "Permission denied", ""},
		{[]string{"acl role create", mgmt, "-name=app-role", "-policy-name=app"}, 0, "app-role", "", ""},
		{[]string{"acl policy read", mgmt, "-name=app"}, 0, `key_prefix "app/"`, "", ""},
		{[]string{"acl role read", mgmt, "-name=app-role"}, 0, " - app", "", ""},
		{[]string{"acl token list", mgmt}, 0, "Bootstrap Token", "", boot.SecretID},
		{[]string{"acl policy list", mgmt}, 0, "global-management", "", ""},
		{[]string{"acl role list", mgmt}, 0, "app-role", "", ""},
	}
	for _, st := range steps {
		r := run(st.args...)
		if r.code != st.code || !strings.Contains(r.stdout, st.outHas) || !strings.Contains(r.stderr, st.errHas) ||
			(st.outLack != "" && strings.Contains(r.stdout, st.outLack)) {
			t.Fatalf("%v: %+v", st.args, r)
		}
	}

	r := run("acl token create", mgmt, "-role-name=app-role", "-description=deployer", "-format=json")
	var tok struct{ AccessorID, SecretID string }
	if err := json.Unmarshal([]byte(r.stdout), &tok); r.code != 0 || err != nil || tok.SecretID == "" {
		t.Fatalf("token create: %+v %v", r, err)
	}
	if r := run("acl token read", "-self", "-token="+tok.SecretID); r.code != 0 || !strings.Contains(r.stdout, tok.AccessorID) {
		t.Fatalf("token read -self: %+v", r)
	}
	if r := run("acl token update", mgmt, "-accessor-id="+tok.AccessorID, "-description=renamed"); r.code != 0 || !strings.Contains(r.stdout, "renamed") || !strings.Contains(r.stdout, "app-role") {
		t.Fatalf("token update: %+v", r)
	}
	if r := run("acl token delete", mgmt, "-accessor-id="+tok.AccessorID); r.code != 0 {
		t.Fatalf("token delete: %+v", r)
	}
	if r := run("acl token read", "-self", "-token="+tok.SecretID); r.code != 1 || !strings.Contains(r.stderr, "ACL not found") {
		t.Fatalf("deleted token read -self: %+v", r)
	}
	if r := run("acl role delete", mgmt, "-name=app-role"); r.code != 0 {
		t.Fatalf("role delete: %+v", r)
	}
	if r := run("acl policy delete", mgmt, "-name=app"); r.code != 0 {
		t.Fatalf("policy delete: %+v", r)
	}
}
