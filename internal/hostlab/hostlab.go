// Package hostlab runs a Shoal cluster on emulated hosts, for end-to-end
// tests and tools that watch the scheduler from outside: a netlab lab of N
// hosts, each with a Docker engine of its own (holding the FROM-scratch
// hello image) and a shoal server agent using it; and an Observer that
// counts a service's running containers by polling each engine's API, the
// way a user sees them.
//
// Faults are a host's: Down (link cut, agent killed, engine halted, as a
// host losing power) and Up (engine and agent started again from their
// state), or the agent alone (KillAgent, StartAgent).
package hostlab

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shoalproject/shoal/internal/dockertest"
	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
)

// Ports are the ports of the agents on their hosts: each host has its
// own network stack, so Consul's defaults fit.
var Ports = proccluster.Ports{HTTP: 8500, Serf: 8301, Server: 8300}

// Config configures a Cluster.
type Config struct {
	// Bin is the shoal binary. Required.
	Bin string
	// Dir holds the engines' and agents' state. Required.
	Dir string
	// Prefix names the lab's namespaces and links: ≤ 6 characters, unique
	// among concurrent labs. Net selects its /24 (10.<Net>.0.0/24).
	Prefix string
	Net    int
	// Hosts is the number of hosts; default 3.
	Hosts int
	// Image is the hello image's tag, built on every engine.
	Image string
	// AgentArgs are appended to every agent's arguments.
	AgentArgs []string
	// Logf receives progress lines; nil means none.
	Logf func(format string, args ...any)
}

// Host is one emulated host of a Cluster.
type Host struct {
	Net    *netlab.Host
	Engine *netlab.Dockerd
	Agent  *proccluster.Proc
	bip    string
	dir    string
}

// Cluster is a lab of hosts with engines and agents. Close removes it all.
type Cluster struct {
	Lab   *netlab.Lab
	Hosts []*Host
	cfg   Config
}

// New builds the lab, starts an engine on every host, builds the image on
// each and starts the agents (servers, one per host, with the overlay).
// It returns once they have a leader. On error what was started is removed.
func New(cfg Config) (c *Cluster, err error) {
	if cfg.Hosts == 0 {
		cfg.Hosts = 3
	}
	if cfg.Logf == nil {
		cfg.Logf = func(string, ...any) {}
	}
	lab, err := netlab.New(cfg.Prefix, cfg.Net, cfg.Hosts)
	if err != nil {
		return nil, err
	}
	c = &Cluster{Lab: lab, cfg: cfg}
	defer func() {
		if err != nil {
			c.Close()
			c = nil
		}
	}()
	agentsDir := filepath.Join(cfg.Dir, "agents")
	if err := os.MkdirAll(agentsDir, 0o755); err != nil {
		return c, err
	}
	for i, nh := range lab.Hosts {
		h := &Host{Net: nh, bip: fmt.Sprintf("172.31.%d.1/24", 10+i), dir: filepath.Join(cfg.Dir, nh.Name)}
		if h.Engine, err = nh.StartDockerd(h.dir, h.bip); err != nil {
			return c, err
		}
		c.Hosts = append(c.Hosts, h)
		start := time.Now()
		if err := dockertest.BuildHelloImage(h.Engine.Sock, cfg.Image); err != nil {
			return c, err
		}
		cfg.Logf("hostlab: engine of %s up, image built in %v", nh.Name, time.Since(start).Round(time.Millisecond))
	}
	var addrs []string
	var wraps [][]string
	for _, h := range lab.Hosts {
		addrs, wraps = append(addrs, h.Addr), append(wraps, h.Wrap())
	}
	for i, p := range proccluster.ServersOn(cfg.Bin, agentsDir, addrs, wraps, Ports) {
		p.Env = []string{"DOCKER_HOST=" + c.Hosts[i].Engine.Sock}
		p.Args = append(p.Args, cfg.AgentArgs...)
		c.Hosts[i].Agent = p
		if err := p.Start(); err != nil {
			return c, err
		}
	}
	if _, err := c.Leader(30 * time.Second); err != nil {
		return c, err
	}
	return c, nil
}

// Agents returns the hosts' agents in host order.
func (c *Cluster) Agents() []*proccluster.Proc {
	out := make([]*proccluster.Proc, len(c.Hosts))
	for i, h := range c.Hosts {
		out[i] = h.Agent
	}
	return out
}

// Leader waits up to timeout for a leader among the running agents and
// returns its host.
func (c *Cluster) Leader(timeout time.Duration) (*Host, error) {
	var leader *Host
	err := proccluster.Poll(timeout, 100*time.Millisecond, func() error {
		var running []*proccluster.Proc
		for _, h := range c.Hosts {
			if h.Agent.Running() {
				running = append(running, h.Agent)
			}
		}
		p, err := proccluster.FindLeader(running, Ports.Server)
		if err != nil {
			return err
		}
		for _, h := range c.Hosts {
			if h.Agent == p {
				leader = h
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hostlab: no leader: %w", err)
	}
	return leader, nil
}

// Down takes the host down as a power cut would: its link is cut, its
// agent killed (-9) and its engine halted, which stops its containers.
func (c *Cluster) Down(h *Host) error {
	if err := h.Net.Cut(); err != nil {
		return err
	}
	h.Agent.Kill9()
	h.Engine.Halt()
	return nil
}

// Up brings a host taken Down back: link, engine (from its state), agent
// (from its data dir).
func (c *Cluster) Up(h *Host) error {
	if err := h.Net.Heal(); err != nil {
		return err
	}
	e, err := h.Net.StartDockerd(h.dir, h.bip)
	if err != nil {
		return err
	}
	h.Engine = e
	return h.Agent.Start()
}

// Close stops the agents and engines and removes the lab.
func (c *Cluster) Close() {
	for _, h := range c.Hosts {
		if h.Agent != nil {
			h.Agent.Kill9()
		}
	}
	for _, h := range c.Hosts {
		h.Engine.Stop()
	}
	c.Lab.Close()
}

// Logs returns every agent's log, each under a header.
func (c *Cluster) Logs() string {
	var b strings.Builder
	for _, h := range c.Hosts {
		fmt.Fprintf(&b, "---- %s log ----\n%s\n", h.Agent.Name, h.Agent.Log())
	}
	return b.String()
}

// ServiceState is the part of GET /v1/shoal/services/<name> the lab reads.
type ServiceState struct {
	Running, Desired int
	Allocs           []struct {
		ID, NodeName, DesiredStatus, ClientStatus, Version string
		Index                                              int
		Healthy                                            bool
	}
}

// Service reads a service's state from the agent of h.
func (c *Cluster) Service(h *Host, name string) (*ServiceState, error) {
	code, body, err := h.Agent.Get("/v1/shoal/services/" + name)
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("hostlab: GET service %s: %d %s", name, code, body)
	}
	var s ServiceState
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Put writes a service spec through the agent of h.
func (c *Cluster) Put(h *Host, name, spec string) error {
	code, body, err := h.Agent.Put("/v1/kv/shoal/services/"+name, spec)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("hostlab: put spec %s: %d %s", name, code, body)
	}
	return nil
}

// Delete removes a service spec through the agent of h.
func (c *Cluster) Delete(h *Host, name string) error {
	code, body, err := h.Agent.Delete("/v1/kv/shoal/services/" + name)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("hostlab: delete spec %s: %d %s", name, code, body)
	}
	return nil
}

// ErrTimeout is returned by the waits of this package when their
// condition did not hold in time.
var ErrTimeout = errors.New("hostlab: timed out")
