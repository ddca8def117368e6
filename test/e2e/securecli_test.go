package e2e

import (
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// secureCLI runs the shoal CLI in dir, where `shoal tls` writes the CA and
// certificates, as an operator setting up a secure cluster would.
type secureCLI struct {
	t   *testing.T
	dir string
}

// run runs shoal with args and env added to the environment.
func (c secureCLI) run(env []string, args ...string) (string, error) {
	cmd := exec.Command(shoalBin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// must is run that fails the test on an error.
func (c secureCLI) must(env []string, args ...string) string {
	c.t.Helper()
	out, err := c.run(env, args...)
	if err != nil {
		c.t.Fatalf("shoal %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return out
}

// secureHCL is an agent configuration with gossip key key, mutual TLS with
// the CA and certificate cert (a `shoal tls` file name without .pem) under
// tlsDir, HTTPS on port https, and extra appended.
func secureHCL(key, tlsDir, cert string, https int, extra string) string {
	return fmt.Sprintf(`encrypt = %q
tls {
  defaults {
    ca_file = %q
    cert_file = %q
    key_file = %q
    verify_incoming = true
    verify_outgoing = true
  }
  internal_rpc { verify_server_hostname = true }
}
ports { https = %d }
`, key, filepath.Join(tlsDir, "consul-agent-ca.pem"), filepath.Join(tlsDir, cert+".pem"),
		filepath.Join(tlsDir, cert+"-key.pem"), https) + extra
}

// httpsEnv points the CLI at addr:https over HTTPS with dir's CA and client
// certificate.
func httpsEnv(dir, addr string, https int) []string {
	return []string{"SHOAL_HTTP_ADDR=", "CONSUL_HTTP_ADDR=https://" + net.JoinHostPort(addr, fmt.Sprint(https)),
		"CONSUL_CACERT=" + filepath.Join(dir, "consul-agent-ca.pem"),
		"CONSUL_CLIENT_CERT=" + filepath.Join(dir, "dc1-client-consul-0.pem"),
		"CONSUL_CLIENT_KEY=" + filepath.Join(dir, "dc1-client-consul-0-key.pem")}
}
