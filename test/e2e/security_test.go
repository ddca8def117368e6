package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestSecureClusterKeyRotationWithCLI runs three server processes with
// gossip encryption and mutual TLS configured in Consul's tls block, made
// entirely with the CLI (shoal tls, shoal keygen); rotates the gossip key
// with `shoal keyring` over HTTPS while a server restarts; and reads back
// over HTTPS with curl-equivalent settings (CONSUL_* variables).
func TestSecureClusterKeyRotationWithCLI(t *testing.T) {
	dir := t.TempDir()
	c := secureCLI{t, dir}
	c.must(nil, "tls", "ca", "create")
	c.must(nil, "tls", "cert", "create", "-server", "-additional-ipaddress", "127.0.0.2", "-additional-ipaddress", "127.0.0.3")
	c.must(nil, "tls", "cert", "create", "-client")
	oldKey := c.must(nil, "keygen")
	fp := testcluster.FreePorts(t, 4)
	ports := proccluster.Ports{HTTP: fp[0], Serf: fp[1], Server: fp[2]}
	https := fp[3]
	conf := filepath.Join(dir, "secure.hcl")
	writeFile(t, conf, secureHCL(oldKey, dir, "dc1-server-consul-0", https, ""))
	procs := proccluster.Servers(shoalBin, t.TempDir(), 3, ports)
	for _, p := range procs {
		p.Args = append(p.Args, "-config-file", conf)
	}
	runProcs(t, procs)
	waitLeader(t, procs, ports, 30*time.Second)

	// The CLI over HTTPS with the client certificate, as an operator would.
	env := func(p *proccluster.Proc) []string { return httpsEnv(dir, p.Addr, https) }
	s1, s3 := procs[0], procs[2]
	testcluster.Eventually(t, 15*time.Second, func() error {
		out, err := c.run(env(s1), "members")
		if err != nil || strings.Count(out, "alive") != 3 {
			return fmt.Errorf("members: %v\n%s", err, out)
		}
		return nil
	})
	c.must(env(s1), "kv", "put", "secure", "yes")

	newKey := c.must(nil, "keygen")
	start := time.Now()
	c.must(env(s1), "keyring", "-install", newKey)
	// s3 restarts in the middle of the rotation: its keyring file holds
	// both keys, so it rejoins and takes part in the rest.
	s3.Stop(10 * time.Second)
	if err := s3.Start(); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		out, err := c.run(env(s1), "keyring", "-list")
		if err != nil || !strings.Contains(out, newKey+" [3/3]") {
			return fmt.Errorf("keyring -list: %v\n%s", err, out)
		}
		return nil
	})
	c.must(env(s1), "keyring", "-use", newKey)
	c.must(env(s1), "keyring", "-remove", oldKey)
	t.Logf("rotation with a restart of s3 took %v", time.Since(start).Round(time.Millisecond))
	out := c.must(env(s1), "keyring", "-list")
	if !strings.Contains(out, newKey+" [3/3]") || strings.Contains(out, oldKey) {
		t.Fatalf("after the rotation:\n%s", out)
	}
	// The restarted server serves the data over HTTPS.
	testcluster.Eventually(t, 15*time.Second, func() error {
		out, err := c.run(env(s3), "kv", "get", "-stale", "secure")
		if err != nil || out != "yes" {
			return fmt.Errorf("kv get via s3: %v %q", err, out)
		}
		return nil
	})
	// Plain HTTPS without the client certificate is refused (verify_incoming).
	e := env(s3)
	if out, err := c.run(e[:3], "kv", "get", "secure"); err == nil {
		t.Fatalf("https without a client certificate: %q", out)
	}
}
