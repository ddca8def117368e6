// Package testcluster starts real Shoal agents inside the test process:
// real Raft with on-disk stores, real Serf and RPC over loopback with free
// ports, and the real HTTP API. Tests kill (shut down without leaving),
// restart (same data dir and ports) and query them through the official
// Consul Go client.
//
// For kill -9 and whole-process behaviour see package proccluster.
package testcluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/agent"
	"github.com/shoalproject/shoal/agent/config"
)

// Node is one agent of a test cluster.
type Node struct {
	Name  string
	Cfg   *config.Config
	Agent *agent.Agent // nil while stopped
}

// Cluster is a set of agents joined together.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
}

// Options tune a cluster.
type Options struct {
	// Servers and Clients to start. Servers bootstrap with -bootstrap-expect.
	Servers, Clients int
	// Configure, if set, edits each node's config before start.
	Configure func(i int, c *config.Config)
}

// New starts a cluster and registers its shutdown with t.Cleanup. It does
// not wait for a leader: use WaitForLeader.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	t.Cleanup(c.Shutdown)
	var join string
	for i := 0; i < opts.Servers+opts.Clients; i++ {
		server := i < opts.Servers
		cfg := config.Default()
		cfg.NodeName = fmt.Sprintf("s%d", i+1)
		if !server {
			cfg.NodeName = fmt.Sprintf("c%d", i-opts.Servers+1)
		}
		cfg.Server = server
		if server {
			cfg.BootstrapExpect = opts.Servers
		}
		cfg.DataDir = t.TempDir()
		cfg.BindAddr, cfg.AdvertiseAddr, cfg.ClientAddr = "127.0.0.1", "127.0.0.1", "127.0.0.1"
		ports := FreePorts(t, 3)
		cfg.Ports.HTTP, cfg.Ports.SerfLAN, cfg.Ports.Server = ports[0], ports[1], ports[2]
		cfg.Ports.DNS = -1
		cfg.Overlay.Enabled = false // agents share this network namespace
		cfg.LogLevel = "warn"
		if join != "" {
			cfg.RetryJoin = []string{join}
			cfg.RetryInterval = 200 * time.Millisecond
		} else {
			join = fmt.Sprintf("127.0.0.1:%d", cfg.Ports.SerfLAN)
		}
		if opts.Configure != nil {
			opts.Configure(i, cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("testcluster: config of %s: %v", cfg.NodeName, err)
		}
		n := &Node{Name: cfg.NodeName, Cfg: cfg}
		c.Nodes = append(c.Nodes, n)
		c.Start(n)
	}
	return c
}

// Start starts (or restarts) a node with its config and data dir.
func (c *Cluster) Start(n *Node) {
	c.t.Helper()
	logger := hclog.NewInterceptLogger(&hclog.LoggerOptions{
		Name: n.Name, Level: hclog.LevelFromString(n.Cfg.LogLevel), Output: testWriter{c.t},
	})
	a, err := agent.New(n.Cfg, logger)
	if err != nil {
		c.t.Fatalf("testcluster: new %s: %v", n.Name, err)
	}
	var startErr error
	for attempt := 0; attempt < 50; attempt++ {
		// A restarted node's ports may linger briefly after close. The text
		// is matched because memberlist formats its listen errors with %v,
		// which drops syscall.EADDRINUSE from the chain.
		if startErr = a.Start(context.Background()); startErr == nil || !strings.Contains(startErr.Error(), "address already in use") {
			break
		}
		time.Sleep(100 * time.Millisecond)
		a, _ = agent.New(n.Cfg, logger)
	}
	if startErr != nil {
		c.t.Fatalf("testcluster: start %s: %v", n.Name, startErr)
	}
	n.Agent = a
}

// Kill stops a node without leaving: to the others it has crashed.
func (c *Cluster) Kill(n *Node) {
	if n.Agent != nil {
		n.Agent.Shutdown()
		n.Agent = nil
	}
}

// Shutdown kills every node.
func (c *Cluster) Shutdown() {
	for _, n := range c.Nodes {
		c.Kill(n)
	}
}

// Follower returns a server other than leader: the first in Nodes.
func (c *Cluster) Follower(leader *Node) *Node {
	c.t.Helper()
	for _, n := range c.Nodes {
		if n != leader && n.Cfg.Server {
			return n
		}
	}
	c.t.Fatal("testcluster: no server but the leader")
	return nil
}

// Running lists the nodes currently running.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes {
		if n.Agent != nil {
			out = append(out, n)
		}
	}
	return out
}

// HTTPAddr is the node's HTTP API address.
func (n *Node) HTTPAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.Cfg.Ports.HTTP) }

// RPCAddr is the node's server RPC address.
func (n *Node) RPCAddr() string { return fmt.Sprintf("127.0.0.1:%d", n.Cfg.Ports.Server) }

// aclsReady reports, when n has ACLs on and an initial management token
// configured, whether n accepts that token yet.
func aclsReady(n *Node) error {
	secret := n.Cfg.ACL.Tokens.InitialManagement
	if !n.Cfg.ACL.Enabled || secret == "" {
		return nil
	}
	cfg := api.DefaultNonPooledConfig()
	cfg.Address, cfg.Token = n.HTTPAddr(), secret
	cl, err := api.NewClient(cfg)
	if err != nil {
		return err
	}
	if _, _, err := cl.ACL().TokenReadSelf(nil); err != nil {
		return fmt.Errorf("initial management token not usable yet: %w", err)
	}
	return nil
}

// API returns the official Consul client pointed at the node.
func (n *Node) API(t testing.TB) *api.Client {
	t.Helper()
	cfg := api.DefaultNonPooledConfig()
	cfg.Address = n.HTTPAddr()
	cl, err := api.NewClient(cfg)
	if err != nil {
		t.Fatalf("testcluster: api client: %v", err)
	}
	return cl
}

// WaitForLeader waits until every running server reports the same leader
// and, with ACLs on and an initial management token configured, until
// that token works (a new leader writes it just after its election, as
// Consul's does; Consul's test harness waits the same way), and returns
// the leader's node.
func (c *Cluster) WaitForLeader(timeout time.Duration) *Node {
	c.t.Helper()
	var last string
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		leader, agree := "", true
		for _, n := range c.Running() {
			if !n.Cfg.Server {
				continue
			}
			l, err := n.API(c.t).Status().Leader()
			if err != nil || l == "" || (leader != "" && l != leader) {
				agree = false
				last = fmt.Sprintf("%s: leader=%q err=%v", n.Name, l, err)
				break
			}
			leader = l
		}
		if agree && leader != "" {
			for _, n := range c.Nodes {
				if n.RPCAddr() == leader && n.Agent != nil {
					if err := aclsReady(n); err != nil {
						last = fmt.Sprintf("%s: %v", n.Name, err)
						break
					}
					return n
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatalf("testcluster: no agreed leader within %v (last: %s)", timeout, last)
	return nil
}

// Eventually retries fn until it returns nil or timeout passes.
func Eventually(t testing.TB, timeout time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = fn(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("condition not met within %v: %v", timeout, err)
}

// ExtraPort returns a free port other than the ones cfg already uses, for
// a Configure function that adds a listener (say ports.https): ports freed
// by FreePorts can be handed out again at once.
func ExtraPort(t testing.TB, cfg *config.Config) int {
	t.Helper()
	for {
		p := FreePorts(t, 1)[0]
		if p != cfg.Ports.HTTP && p != cfg.Ports.HTTPS && p != cfg.Ports.SerfLAN && p != cfg.Ports.Server && p != cfg.Ports.DNS {
			return p
		}
	}
}

// FreePorts returns n ports free for both TCP and UDP on 127.0.0.1.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for len(out) < n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("testcluster: free port: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			l.Close()
			continue
		}
		u.Close()
		held = append(held, l)
		out = append(out, port)
	}
	return out
}

// testWriter sends agent logs to t.Log, so they show only for failing tests.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	defer func() { _ = recover() }() // a log after the test ended must not panic
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
