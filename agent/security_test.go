package agent_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
	"github.com/shoalproject/shoal/internal/tlstest"
	"github.com/shoalproject/shoal/keyring"
)

// secure turns on gossip encryption with key and, when pair is set, TLS
// with every verification on and an HTTPS port, through Consul's legacy
// top-level keys.
func secure(c *config.Config, key string, pki tlstest.PKI, pair tlstest.Pair, t *testing.T) {
	c.Encrypt = key
	if pair.Cert == "" {
		return
	}
	c.CAFile, c.CertFile, c.KeyFile = pki.CA.Cert, pair.Cert, pair.Key
	c.VerifyIncoming, c.VerifyOutgoing, c.VerifyServerHostname = true, true, true
	c.Ports.HTTPS = testcluster.ExtraPort(t, c)
}

// httpsClient is the official client on n's HTTPS port, trusting the CA
// and presenting pair (none if empty).
func httpsClient(t *testing.T, n *testcluster.Node, pki tlstest.PKI, pair tlstest.Pair) *api.Client {
	t.Helper()
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = fmt.Sprintf("127.0.0.1:%d", n.Cfg.Ports.HTTPS)
	cfg.Scheme = "https"
	cfg.TLSConfig = api.TLSConfig{CAFile: pki.CA.Cert, CertFile: pair.Cert, KeyFile: pair.Key}
	cl, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func newKey(t *testing.T) string {
	t.Helper()
	k, err := keyring.Generate()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func aliveMembers(t *testing.T, n *testcluster.Node) []string {
	t.Helper()
	ms, err := n.API(t).Agent().Members(false)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range ms {
		if serf.MemberStatus(m.Status) == serf.StatusAlive {
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return out
}

// TestSecureClusterServesKVOverHTTPS: three servers with gossip
// encryption and TLS (verify_incoming, verify_outgoing,
// verify_server_hostname) form a cluster and serve KV to the official
// client over HTTPS, configured directly or through CONSUL_* variables.
func TestSecureClusterServesKVOverHTTPS(t *testing.T) {
	pki := tlstest.New(t)
	key := newKey(t)
	c := testcluster.New(t, testcluster.Options{Servers: 3, Configure: func(i int, cfg *config.Config) {
		secure(cfg, key, pki, pki.Server, t)
	}})
	leader := c.WaitForLeader(20 * time.Second)
	wantVoters(t, leader, "s1", "s2", "s3")

	// A write through a follower is forwarded to the leader over TLS RPC.
	follower := c.Follower(leader)
	kv := httpsClient(t, follower, pki, pki.Client).KV()
	if _, err := kv.Put(&api.KVPair{Key: "secure/k", Value: []byte("v")}, nil); err != nil {
		t.Fatalf("put over https: %v", err)
	}
	// verify_incoming applies to HTTPS: no client certificate, no answer.
	if _, _, err := httpsClient(t, follower, pki, tlstest.Pair{}).KV().Get("secure/k", nil); err == nil {
		t.Fatal("https without a client certificate was served under verify_incoming")
	}
	// CONSUL_HTTP_ADDR=https://…, CONSUL_CACERT and the client certificate
	// variables, as an operator's shell would set them.
	t.Setenv(api.HTTPAddrEnvName, fmt.Sprintf("https://127.0.0.1:%d", c.Nodes[2].Cfg.Ports.HTTPS))
	t.Setenv(api.HTTPCAFile, pki.CA.Cert)
	t.Setenv(api.HTTPClientCert, pki.Client.Cert)
	t.Setenv(api.HTTPClientKey, pki.Client.Key)
	envClient, err := api.NewClient(api.DefaultNonPooledConfig())
	if err != nil {
		t.Fatal(err)
	}
	p, _, err := envClient.KV().Get("secure/k", nil)
	if err != nil || p == nil || string(p.Value) != "v" {
		t.Fatalf("get over https from the environment: %v %v", p, err)
	}
	// Every server wrote the keyring file from the encrypt key.
	for _, n := range c.Nodes {
		if _, err := os.Stat(filepath.Join(n.Cfg.DataDir, keyring.FileName)); err != nil {
			t.Fatalf("%s: %v", n.Name, err)
		}
	}
}

// TestGossipKeyRequired: an agent with another gossip key, or with none,
// cannot join an encrypted cluster; one with the key can.
func TestGossipKeyRequired(t *testing.T) {
	key := newKey(t)
	keys := []string{key, key, newKey(t), ""} // s1, then c1 (right), c2 (wrong), c3 (none)
	c := testcluster.New(t, testcluster.Options{Servers: 1, Clients: 3, Configure: func(i int, cfg *config.Config) {
		cfg.Encrypt = keys[i]
		cfg.RetryJoin = nil // joined by hand below
	}})
	s1 := c.WaitForLeader(15 * time.Second)
	serfAddr := fmt.Sprintf("127.0.0.1:%d", s1.Cfg.Ports.SerfLAN)
	cases := []struct {
		node *testcluster.Node
		want bool
	}{
		{c.Nodes[1], true},
		{c.Nodes[2], false},
		{c.Nodes[3], false},
	}
	for _, tc := range cases {
		err := tc.node.API(t).Agent().Join(serfAddr, false)
		if (err == nil) != tc.want {
			t.Errorf("%s join: err %v, want joined=%v", tc.node.Name, err, tc.want)
		}
	}
	// Nothing leaks in later through gossip either.
	time.Sleep(2 * time.Second)
	if got := aliveMembers(t, s1); !slices.Equal(got, []string{"c1", "s1"}) {
		t.Fatalf("s1 sees %v, want [c1 s1]", got)
	}
	if got := aliveMembers(t, c.Nodes[2]); !slices.Equal(got, []string{"c2"}) {
		t.Fatalf("c2 (wrong key) sees %v", got)
	}
}

// TestCertificateRoles: with verify_server_hostname a server that holds a
// client certificate never receives the Raft log (Consul CVE-2021-37219),
// a client agent with a certificate of another CA cannot reach the
// servers, and one with a proper client certificate can.
func TestCertificateRoles(t *testing.T) {
	pki := tlstest.New(t)
	key := newKey(t)
	pairs := []tlstest.Pair{pki.Server, pki.Server, pki.Client, pki.Client, pki.Untrusted}
	c := testcluster.New(t, testcluster.Options{Servers: 3, Clients: 2, Configure: func(i int, cfg *config.Config) {
		secure(cfg, key, pki, pairs[i], t)
		if cfg.Server {
			cfg.BootstrapExpect = 2
		}
		if i >= 2 {
			cfg.RetryJoin = nil // join once s1 and s2 have formed the cluster
		}
	}})
	// s3 never learns the leader, so wait on s1 and s2 alone.
	var leader *testcluster.Node
	testcluster.Eventually(t, 20*time.Second, func() error {
		l1, err1 := c.Nodes[0].API(t).Status().Leader()
		l2, err2 := c.Nodes[1].API(t).Status().Leader()
		if err1 != nil || err2 != nil || l1 == "" || l1 != l2 {
			return fmt.Errorf("leaders %q %q (%v %v)", l1, l2, err1, err2)
		}
		for _, n := range c.Nodes[:2] {
			if n.RPCAddr() == l1 {
				leader = n
			}
		}
		return nil
	})
	serfAddr := fmt.Sprintf("127.0.0.1:%d", c.Nodes[0].Cfg.Ports.SerfLAN)
	for _, n := range c.Nodes[2:] {
		if err := n.API(t).Agent().Join(serfAddr, false); err != nil {
			t.Fatalf("%s gossip join: %v", n.Name, err)
		}
	}
	put(t, leader, "roles/k", "v")
	s3, good, untrusted := c.Nodes[2], c.Nodes[3], c.Nodes[4]

	testcluster.Eventually(t, 15*time.Second, func() error {
		_, err := good.API(t).KV().Put(&api.KVPair{Key: "roles/c1", Value: []byte("ok")}, nil)
		return err
	})
	if _, err := untrusted.API(t).KV().Put(&api.KVPair{Key: "roles/c2", Value: []byte("no")}, nil); err == nil {
		t.Fatal("a client with an untrusted certificate wrote through the servers")
	}
	time.Sleep(3 * time.Second) // time enough to replicate, if it could
	if v, err := getValue(t, s3, "roles/k", &api.QueryOptions{AllowStale: true}); err == nil {
		t.Fatalf("s3, holding a client certificate, received the Raft log (roles/k=%q)", v)
	}
	// The real servers still commit writes.
	put(t, leader, "roles/after", "v")
	for _, n := range c.Nodes[:2] {
		testcluster.Eventually(t, 10*time.Second, func() error {
			_, err := getValue(t, n, "roles/after", &api.QueryOptions{AllowStale: true})
			return err
		})
	}
}

// keyCounts lists the cluster's keys as "key:count" and the primary's.
func keyCounts(t *testing.T, n *testcluster.Node) (keys map[string]int, primary map[string]int) {
	t.Helper()
	resp, err := n.API(t).Operator().KeyringList(nil)
	if err != nil {
		t.Fatalf("keyring list: %v", err)
	}
	if len(resp) != 1 {
		t.Fatalf("keyring list: %d responses", len(resp))
	}
	return resp[0].Keys, resp[0].PrimaryKeys
}

// TestKeyRotation rotates the gossip key of a live three-server cluster
// through the official client (install, use, remove), then restarts a
// server: it comes back with the new key from its keyring file although
// its config still names the old one, and an agent with the old key is
// refused.
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := newKey(t), newKey(t)
	c := testcluster.New(t, testcluster.Options{Servers: 3, Configure: func(i int, cfg *config.Config) {
		cfg.Encrypt = oldKey
	}})
	leader := c.WaitForLeader(20 * time.Second)
	testcluster.Eventually(t, 10*time.Second, func() error {
		if got := aliveMembers(t, leader); len(got) != 3 {
			return fmt.Errorf("members %v", got)
		}
		return nil
	})
	op := leader.API(t).Operator()
	start := time.Now()
	if err := op.KeyringInstall(newKey, nil); err != nil {
		t.Fatalf("install: %v", err)
	}
	if keys, _ := keyCounts(t, leader); keys[oldKey] != 3 || keys[newKey] != 3 {
		t.Fatalf("after install: %v", keys)
	}
	if err := op.KeyringUse(newKey, nil); err != nil {
		t.Fatalf("use: %v", err)
	}
	if _, primary := keyCounts(t, leader); primary[newKey] != 3 {
		t.Fatalf("after use: primary %v", primary)
	}
	if err := op.KeyringRemove(oldKey, nil); err != nil {
		t.Fatalf("remove: %v", err)
	}
	t.Logf("rotation (install, use, remove) on 3 servers took %v", time.Since(start))
	if keys, _ := keyCounts(t, leader); len(keys) != 1 || keys[newKey] != 3 {
		t.Fatalf("after remove: %v", keys)
	}
	// Removing the primary key is refused, with the members' reasons.
	if err := op.KeyringRemove(newKey, nil); err == nil || !strings.Contains(err.Error(), "primary") {
		t.Fatalf("removing the primary key: %v", err)
	}

	// Restart a follower: its keyring file holds only the new key.
	s := c.Follower(leader)
	data, err := os.ReadFile(filepath.Join(s.Cfg.DataDir, keyring.FileName))
	var onDisk []string
	if err != nil || json.Unmarshal(data, &onDisk) != nil || !slices.Equal(onDisk, []string{newKey}) {
		t.Fatalf("%s keyring file %s (%v), want [%s]", s.Name, data, err, newKey)
	}
	c.Kill(s)
	c.Start(s)
	testcluster.Eventually(t, 20*time.Second, func() error {
		if got := aliveMembers(t, s); len(got) != 3 {
			return fmt.Errorf("%s sees %v", s.Name, got)
		}
		return nil
	})
	put(t, leader, "rotated", "yes")
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, err := getValue(t, s, "rotated", &api.QueryOptions{AllowStale: true})
		return err
	})

	// An agent that has only the old key is refused.
	late := testcluster.New(t, testcluster.Options{Clients: 1, Configure: func(i int, cfg *config.Config) {
		cfg.Encrypt = oldKey
	}})
	if err := late.Nodes[0].API(t).Agent().Join(fmt.Sprintf("127.0.0.1:%d", leader.Cfg.Ports.SerfLAN), false); err == nil {
		t.Fatal("an agent with the removed key joined")
	}
}

// TestKeyringEndpointErrors checks /v1/operator/keyring's answers to bad
// requests: the status and a message naming the problem.
func TestKeyringEndpointErrors(t *testing.T) {
	key := newKey(t)
	c := testcluster.New(t, testcluster.Options{Servers: 2, Configure: func(i int, cfg *config.Config) {
		if i == 0 {
			cfg.Encrypt = key
		}
		cfg.Bootstrap, cfg.BootstrapExpect, cfg.RetryJoin = true, 0, nil // two separate one-node clusters
	}})
	encrypted, plain := c.Nodes[0], c.Nodes[1]
	cases := []struct {
		name     string
		node     *testcluster.Node
		method   string
		body     string
		wantCode int
		wantBody string
	}{
		{"list", encrypted, "GET", "", 200, key},
		{"not base64", encrypted, "POST", `{"Key":"%%%"}`, 400, "gossip key must be base64"},
		{"wrong size", encrypted, "POST", `{"Key":"YWJj"}`, 400, "got 3 bytes"},
		{"not JSON", encrypted, "PUT", `nope`, 400, "Request decode failed"},
		{"use a key not installed", encrypted, "PUT", `{"Key":"` + newKey(t) + `"}`, 500, "s1: "},
		{"remove the primary key", encrypted, "DELETE", `{"Key":"` + key + `"}`, 500, "primary"},
		{"no encryption on this agent", plain, "GET", "", 400, "gossip encryption is not enabled"},
		{"method not allowed", encrypted, "PATCH", "", 405, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, "http://"+tc.node.HTTPAddr()+"/v1/operator/keyring", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.wantCode || !strings.Contains(string(b), tc.wantBody) {
				t.Fatalf("%d %q, want %d containing %q", resp.StatusCode, b, tc.wantCode, tc.wantBody)
			}
		})
	}
}

// TestHTTPSServesHTTP2: the HTTPS API offers HTTP/2, as Consul's does, so
// that a browser's blocking queries (the UI holds up to three per open
// page) share one connection instead of using up the six HTTP/1.1 allows;
// a client that asks for HTTP/1.1 only is still served. A blocking query
// over HTTP/2 wakes on a write.
func TestHTTPSServesHTTP2(t *testing.T) {
	pki := tlstest.New(t)
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, cfg *config.Config) {
		secure(cfg, "", pki, pki.Server, t)
	}})
	n := c.WaitForLeader(20 * time.Second)
	base := fmt.Sprintf("https://127.0.0.1:%d", n.Cfg.Ports.HTTPS)
	if _, err := httpsClient(t, n, pki, pki.Client).KV().Put(&api.KVPair{Key: "h2/k", Value: []byte("1")}, nil); err != nil {
		t.Fatal(err)
	}
	client := func(protos ...string) *http.Client {
		tc, err := api.SetupTLSConfig(&api.TLSConfig{CAFile: pki.CA.Cert, CertFile: pki.Client.Cert, KeyFile: pki.Client.Key})
		if err != nil {
			t.Fatal(err)
		}
		tc.NextProtos = protos
		tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: len(protos) > 0 && protos[0] == "h2"}
		t.Cleanup(tr.CloseIdleConnections)
		return &http.Client{Transport: tr, Timeout: 30 * time.Second}
	}
	get := func(cl *http.Client, path string) (*http.Response, string) {
		t.Helper()
		resp, err := cl.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, tc := range []struct {
		name   string
		protos []string
		major  int
	}{
		{"h2 offered", []string{"h2", "http/1.1"}, 2},
		{"http/1.1 only", []string{"http/1.1"}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(client(tc.protos...), "/v1/kv/h2/k?raw")
			if resp.ProtoMajor != tc.major || resp.StatusCode != http.StatusOK || body != "1" {
				t.Fatalf("%s %d %q, want HTTP/%d 200 %q", resp.Proto, resp.StatusCode, body, tc.major, "1")
			}
		})
	}

	// A blocking query over HTTP/2, woken by a write.
	h2 := client("h2", "http/1.1")
	resp, _ := get(h2, "/v1/kv/h2/k")
	index := resp.Header.Get("X-Consul-Index")
	done := make(chan string, 1)
	go func() {
		resp, err := h2.Get(base + "/v1/kv/h2/k?raw&index=" + index + "&wait=20s")
		if err != nil {
			done <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- fmt.Sprintf("%s %s", resp.Proto, b)
	}()
	time.Sleep(300 * time.Millisecond)
	if _, err := httpsClient(t, n, pki, pki.Client).KV().Put(&api.KVPair{Key: "h2/k", Value: []byte("2")}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got != "HTTP/2.0 2" {
			t.Fatalf("blocking query over HTTP/2 answered %q, want %q", got, "HTTP/2.0 2")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the blocking query over HTTP/2 did not wake on the write")
	}
}
