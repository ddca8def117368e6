package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestSecureThreeHosts runs three servers on three emulated hosts (network
// namespaces) with gossip encryption, mutual TLS (made with `shoal tls`) and
// ACLs (default deny, management token bootstrapped over HTTP) and checks
// what an operator relies on: the cluster forms across the hosts; an agent
// on a fourth host with a wrong gossip key is not admitted (the same host
// with the right key is, the control); an agent whose certificate comes
// from another CA cannot use the servers (its writes fail); a key rotation
// completes while a server is killed and restarted; and a privileged spec
// written with a token that has key and deploy write but not operator write
// is refused with 403 and never scheduled.
func TestSecureThreeHosts(t *testing.T) {
	lab := newLab(t, "sh", 82, 5)
	dir := t.TempDir()
	c := secureCLI{t, dir}
	// The cluster's CA, one server certificate valid for the three hosts'
	// addresses, one client certificate; and a second CA the servers do not trust.
	c.must(nil, "tls", "ca", "create")
	srvArgs := []string{"tls", "cert", "create", "-server"}
	for _, h := range lab.Hosts[:3] {
		srvArgs = append(srvArgs, "-additional-ipaddress", h.Addr)
	}
	c.must(nil, srvArgs...)
	c.must(nil, "tls", "cert", "create", "-client")
	rogue := filepath.Join(dir, "rogue")
	if err := os.Mkdir(rogue, 0o755); err != nil {
		t.Fatal(err)
	}
	secureCLI{t, rogue}.must(nil, "tls", "ca", "create")
	secureCLI{t, rogue}.must(nil, "tls", "cert", "create", "-client")
	oldKey := c.must(nil, "keygen")
	wrongKey := c.must(nil, "keygen")
	const https = 8501
	conf := func(name, key, tlsDir, cert string) string {
		path := filepath.Join(dir, name+".hcl")
		writeFile(t, path, secureHCL(key, tlsDir, cert, https, `acl {
  enabled = true
  default_policy = "deny"
}
`))
		return path
	}
	srvConf := conf("server", oldKey, dir, "dc1-server-consul-0")

	procs := labServers(&netlab.Lab{Hosts: lab.Hosts[:3]}, t.TempDir())
	for _, p := range procs {
		p.Args = append(p.Args, "-config-file", srvConf)
	}
	runProcs(t, procs)
	waitLeader(t, procs, labPorts, 30*time.Second)
	s1, s3 := procs[0], procs[2]

	var mgmt string
	testcluster.Eventually(t, 15*time.Second, func() error {
		code, body, err := call(s1, "PUT", "/v1/acl/bootstrap", "", "")
		if err != nil || code != 200 {
			return fmt.Errorf("bootstrap: %d %s %v", code, body, err)
		}
		var tok struct{ SecretID string }
		if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.SecretID == "" {
			return fmt.Errorf("bootstrap answer %q: %v", body, err)
		}
		mgmt = tok.SecretID
		return nil
	})
	if code, _, _ := call(s1, "PUT", "/v1/kv/anon", "", "x"); code != 403 {
		t.Fatalf("ACLs on with default deny: a write without a token answered %d, want 403", code)
	}
	alive := func(p *proccluster.Proc) (map[string]bool, error) {
		code, body, err := call(p, "GET", "/v1/agent/members", mgmt, "")
		if err != nil || code != 200 {
			return nil, fmt.Errorf("members: %d %s %v", code, body, err)
		}
		var ms []struct {
			Name   string
			Status int
		}
		if err := json.Unmarshal([]byte(body), &ms); err != nil {
			return nil, err
		}
		out := map[string]bool{}
		for _, m := range ms {
			if m.Status == 1 {
				out[m.Name] = true
			}
		}
		return out, nil
	}
	waitAlive := func(want ...string) {
		t.Helper()
		testcluster.Eventually(t, 20*time.Second, func() error {
			got, err := alive(s1)
			if err != nil {
				return err
			}
			if len(got) != len(want) {
				return fmt.Errorf("alive %v, want %v", got, want)
			}
			for _, n := range want {
				if !got[n] {
					return fmt.Errorf("alive %v, want %v", got, want)
				}
			}
			return nil
		})
	}
	// The cluster forms over the hosts' network, encrypted and with TLS.
	waitAlive("s1", "s2", "s3")
	if code, body, err := call(s1, "PUT", "/v1/kv/secure", mgmt, "yes"); err != nil || code != 200 {
		t.Fatalf("put with the management token: %d %s %v", code, body, err)
	}

	// A client agent on host h (4 or 5) with the given configuration.
	client := func(h *netlab.Host, name, confPath string) *proccluster.Proc {
		cdir := filepath.Join(dir, name)
		p := &proccluster.Proc{Name: name, Bin: shoalBin, Addr: h.Addr, Wrap: h.Wrap(),
			HTTP: net.JoinHostPort(h.Addr, fmt.Sprint(labPorts.HTTP)), DataDir: cdir, LogPath: cdir + ".log",
			Env: []string{"DOCKER_HOST=unix://" + cdir + "-no-docker.sock"},
			Args: []string{"agent", "-node", name, "-bind", h.Addr, "-client", h.Addr, "-data-dir", cdir,
				"-http-port", fmt.Sprint(labPorts.HTTP), "-serf-lan-port", fmt.Sprint(labPorts.Serf),
				"-server-port", fmt.Sprint(labPorts.Server), "-dns-port", "-1", "-overlay=false",
				"-retry-join", net.JoinHostPort(s1.Addr, fmt.Sprint(labPorts.Serf)), "-retry-interval", "200ms",
				"-config-file", confPath}}
		runProcs(t, []*proccluster.Proc{p})
		return p
	}

	// Wrong gossip key on h4: it keeps trying, and is never a member.
	bad := client(lab.Hosts[3], "c4wrongkey", conf("wrongkey", wrongKey, dir, "dc1-client-consul-0"))
	time.Sleep(5 * time.Second)
	if !bad.Running() {
		t.Fatalf("the agent with the wrong key exited; it should keep retrying:\n%s", bad.Log())
	}
	if got, err := alive(s1); err != nil || len(got) != 3 {
		t.Fatalf("with a wrong gossip key an agent was admitted: %v %v", got, err)
	}
	bad.Kill9()
	// The control: the same host with the right key and certificate joins and writes.
	clientConf := conf("client", oldKey, dir, "dc1-client-consul-0")
	good := client(lab.Hosts[3], "c4", clientConf)
	waitAlive("s1", "s2", "s3", "c4")
	testcluster.Eventually(t, 15*time.Second, func() error {
		if code, body, err := call(good, "PUT", "/v1/kv/from-c4", mgmt, "ok"); err != nil || code != 200 {
			return fmt.Errorf("write through the trusted client: %d %s %v", code, body, err)
		}
		return nil
	})

	// A certificate from another CA on h5: it knows the gossip key, so it
	// is a serf member, but the servers refuse its RPC, so writes fail.
	rog := client(lab.Hosts[4], "c5rogue", conf("rogue", oldKey, rogue, "dc1-client-consul-0"))
	waitAlive("s1", "s2", "s3", "c4", "c5rogue")
	// For a few seconds, as long as the trusted client had to get its first write through.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if code, body, err := call(rog, "PUT", "/v1/kv/from-rogue", mgmt, "x"); err == nil && code == 200 {
			t.Fatalf("write through the agent with an untrusted certificate succeeded: %s", body)
		}
	}
	if code, _, _ := call(s1, "GET", "/v1/kv/from-rogue", mgmt, ""); code != 404 {
		t.Fatalf("the untrusted agent's write reached the servers (HTTP %d)", code)
	}
	if !strings.Contains(s1.Log()+procs[1].Log()+s3.Log()+rog.Log(), "certificate") {
		t.Errorf("no TLS refusal logged by the servers or the rogue agent")
	}
	good.Stop(10 * time.Second)
	rog.Stop(10 * time.Second)

	// Key rotation over HTTPS with the CLI while s3 is killed and restarted.
	env := func(p *proccluster.Proc) []string {
		return append(httpsEnv(dir, p.Addr, https), "CONSUL_HTTP_TOKEN="+mgmt)
	}
	newKey := c.must(nil, "keygen")
	start := time.Now()
	c.must(env(s1), "keyring", "-install", newKey)
	s3.Kill9()
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
	t.Logf("rotation with a kill -9 and restart of s3 took %v", time.Since(start).Round(time.Millisecond))
	if out := c.must(env(s1), "keyring", "-list"); !strings.Contains(out, newKey+" [3/3]") || strings.Contains(out, oldKey) {
		t.Fatalf("after the rotation:\n%s", out)
	}
	testcluster.Eventually(t, 15*time.Second, func() error {
		out, err := c.run(env(s3), "kv", "get", "-stale", "secure")
		if err != nil || out != "yes" {
			return fmt.Errorf("kv get via the restarted s3: %v %q", err, out)
		}
		return nil
	})

	// A deployer token: key and deploy write, no operator write.
	rules := `key_prefix "shoal/services/" { policy = "write" }` + "\n" + `deploy_prefix "" { policy = "write" }`
	pol, _ := json.Marshal(map[string]string{"Name": "deployer", "Rules": rules})
	if code, body, err := call(s1, "PUT", "/v1/acl/policy", mgmt, string(pol)); err != nil || code != 200 {
		t.Fatalf("policy: %d %s %v", code, body, err)
	}
	code, body, err := call(s1, "PUT", "/v1/acl/token", mgmt, `{"Policies":[{"Name":"deployer"}]}`)
	if err != nil || code != 200 {
		t.Fatalf("token: %d %s %v", code, body, err)
	}
	var deployer struct{ SecretID string }
	if err := json.Unmarshal([]byte(body), &deployer); err != nil || deployer.SecretID == "" {
		t.Fatalf("token answer %q: %v", body, err)
	}
	// The control: a spec that does not reach the host is accepted.
	plain := `{"name":"plain","driver":"docker","image":"shoal-test/hello:1","replicas":1}`
	// (Retried: the new token reaches s1's state through Raft.)
	testcluster.Eventually(t, 10*time.Second, func() error {
		if code, body, err := call(s1, "PUT", "/v1/kv/shoal/services/plain", deployer.SecretID, plain); err != nil || code != 200 {
			return fmt.Errorf("plain spec with the deployer token: %d %s %v", code, body, err)
		}
		return nil
	})
	priv := `{"name":"priv","driver":"docker","image":"shoal-test/hello:1","replicas":1,"privileged":true}`
	if code, body, err := call(s1, "PUT", "/v1/kv/shoal/services/priv", deployer.SecretID, priv); err != nil || code != 403 || !strings.Contains(body, "privileged") {
		t.Fatalf("privileged spec without operator write: %d %s %v, want 403", code, body, err)
	}
	time.Sleep(2 * time.Second) // a scheduler pass that could have placed it
	if code, _, _ := call(s1, "GET", "/v1/kv/shoal/services/priv", mgmt, ""); code != 404 {
		t.Fatalf("the refused privileged spec was stored (HTTP %d)", code)
	}
	code, body, err = call(s1, "GET", "/v1/shoal/allocs?service=priv", mgmt, "")
	if err != nil || code != 200 {
		t.Fatalf("allocs: %d %s %v", code, body, err)
	}
	var allocs []json.RawMessage
	if err := json.Unmarshal([]byte(body), &allocs); err != nil || len(allocs) != 0 {
		t.Fatalf("allocations of the refused privileged spec: %s (%v)", body, err)
	}
}

// call makes an HTTP request to p with token (none if empty) and returns
// the status and body.
func call(p *proccluster.Proc, method, path, token, body string) (int, string, error) {
	req, err := http.NewRequest(method, "http://"+p.HTTP+path, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
