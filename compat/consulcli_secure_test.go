package compat

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/tlstest"
)

// TestConsulCLIOverHTTPSWithACLs drives a Shoal server that has mutual TLS
// and ACLs (default deny) with the real `consul` CLI, configured the way an
// operator's shell is (CONSUL_HTTP_ADDR=https://…, CONSUL_CACERT, the
// client certificate variables, CONSUL_HTTP_TOKEN): bootstrap, a policy, a
// token, and what the token may and may not write.
func TestConsulCLIOverHTTPSWithACLs(t *testing.T) {
	bin := os.Getenv(EnvConsulBin)
	if bin == "" {
		t.Skipf("%s is not set: scripts/consul-cli.sh builds consul and runs this test", EnvConsulBin)
	}
	pki := tlstest.New(t)
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		cfg.BootstrapExpect, cfg.Bootstrap = 0, true
		cfg.CAFile, cfg.CertFile, cfg.KeyFile = pki.CA.Cert, pki.Server.Cert, pki.Server.Key
		cfg.VerifyIncoming, cfg.VerifyOutgoing, cfg.VerifyServerHostname = true, true, true
		cfg.Ports.HTTPS = testcluster.ExtraPort(t, cfg)
		cfg.ACL.Enabled, cfg.ACL.DefaultPolicy = true, "deny"
	}})
	n := c.WaitForLeader(20 * time.Second)
	env := []string{
		fmt.Sprintf("CONSUL_HTTP_ADDR=https://127.0.0.1:%d", n.Cfg.Ports.HTTPS),
		"CONSUL_CACERT=" + pki.CA.Cert, "CONSUL_CLIENT_CERT=" + pki.Client.Cert, "CONSUL_CLIENT_KEY=" + pki.Client.Key,
	}
	run := func(token string, args ...string) (string, error) {
		t.Helper()
		return consulCLIEnv(t, bin, append(env, "CONSUL_HTTP_TOKEN="+token), args...)
	}
	secretOf := func(out string) string {
		m := regexp.MustCompile(`SecretID:\s+(\S+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no SecretID in:\n%s", out)
		}
		return m[1]
	}

	var mgmt string
	testcluster.Eventually(t, 20*time.Second, func() error { // the leader sets ACLs up first
		out, err := run("", "acl", "bootstrap")
		if err != nil {
			return fmt.Errorf("acl bootstrap: %v: %s", err, out)
		}
		mgmt = secretOf(out)
		return nil
	})
	if out, err := run("", "acl", "bootstrap"); err == nil {
		t.Fatalf("a second bootstrap succeeded: %s", out)
	}
	if out, err := run(mgmt, "acl", "policy", "create", "-name", "app-write", "-rules", `key_prefix "app/" { policy = "write" }`); err != nil {
		t.Fatalf("policy create: %v: %s", err, out)
	}
	out, err := run(mgmt, "acl", "token", "create", "-description", "the app", "-policy-name", "app-write")
	if err != nil {
		t.Fatalf("token create: %v: %s", err, out)
	}
	app := secretOf(out)
	if out, err := run(mgmt, "acl", "token", "list"); err != nil || !strings.Contains(out, "the app") || strings.Contains(out, app) {
		t.Errorf("token list: %v: want the app's token listed without its secret:\n%s", err, out)
	}
	if out, err := run(app, "kv", "put", "app/x", "1"); err != nil {
		t.Errorf("kv put app/x with the app token: %v: %s", err, out)
	}
	if out, err := run(app, "kv", "put", "other/y", "1"); err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("kv put other/y with the app token: %v: %s; want Permission denied", err, out)
	}
	if out, err := run("", "kv", "get", "app/x"); err == nil {
		t.Errorf("kv get without a token under default deny succeeded: %s", out)
	}
	if out, err := run(mgmt, "members"); err != nil || !strings.Contains(out, n.Name) {
		t.Errorf("members over https: %v: %s", err, out)
	}
}
