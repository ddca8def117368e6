package chaos

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
)

// Lab settings: the suite's own prefix and /24, apart from other tests.
const (
	LabPrefix = "chs"
	LabNet    = 81
)

// Ports are the servers' ports: each host has its own network stack.
var Ports = proccluster.Ports{HTTP: 8500, Serf: 8301, Server: 8300}

// Sentinel errors of the cluster.
var (
	// ErrCrashed: a server exited without being killed, or did not come
	// back after a restart.
	ErrCrashed = errors.New("chaos: server crashed")
	// ErrNoLeader: no leader was elected in time.
	ErrNoLeader = errors.New("chaos: no leader")
	// ErrDiverged: replicas did not agree after healing.
	ErrDiverged = errors.New("chaos: replicas diverged")
)

// Cluster is three shoal servers on the hosts of a lab. Its methods may
// be called from several goroutines.
type Cluster struct {
	Lab   *netlab.Lab
	Procs []*proccluster.Proc
	logf  func(format string, args ...any)

	mu       sync.Mutex
	down     map[int]bool // killed on purpose
	paused   map[int]bool
	isolated map[int][]int
	crashes  []error
	reported map[int]bool
}

// NewCluster builds the lab (removing what an interrupted earlier run of
// this suite left under the same names) and describes the servers under
// dir; Start runs them.
func NewCluster(bin, dir string, logf func(string, ...any)) (*Cluster, error) {
	removeStaleLab(logf)
	lab, err := netlab.New(LabPrefix, LabNet, 3)
	if err != nil {
		return nil, fmt.Errorf("chaos: lab: %w", err)
	}
	var addrs []string
	var wraps [][]string
	for _, h := range lab.Hosts {
		addrs, wraps = append(addrs, h.Addr), append(wraps, h.Wrap())
	}
	c := &Cluster{Lab: lab, Procs: proccluster.ServersOn(bin, dir, addrs, wraps, Ports), logf: logf,
		down: map[int]bool{}, paused: map[int]bool{}, isolated: map[int][]int{}, reported: map[int]bool{}}
	return c, nil
}

// removeStaleLab deletes the namespaces and link of this suite's lab if
// an interrupted run left them (they would make netlab.New fail).
func removeStaleLab(logf func(string, ...any)) {
	out, _ := exec.Command("ip", "netns", "list").Output()
	if !strings.Contains(string(out), LabPrefix+"lab") {
		return
	}
	logf("removing the lab an interrupted earlier run left behind")
	for _, ns := range []string{LabPrefix + "h1", LabPrefix + "h2", LabPrefix + "h3", LabPrefix + "lab"} {
		_ = exec.Command("ip", "netns", "del", ns).Run()
	}
	_ = exec.Command("ip", "link", "del", LabPrefix+"gw").Run()
}

// Start runs every server and waits for a leader.
func (c *Cluster) Start(ctx context.Context) error {
	for _, p := range c.Procs {
		if err := p.Start(); err != nil {
			return err
		}
	}
	_, err := c.WaitLeader(ctx, 60*time.Second)
	return err
}

// Close kills every server (SIGKILL, by PID) and deletes the lab.
func (c *Cluster) Close() {
	for _, p := range c.Procs {
		p.Kill9()
	}
	c.Lab.Close()
}

// Leader returns the index of the server that a majority of the servers
// that answer name as leader.
func (c *Cluster) Leader() (int, error) {
	votes := map[string]int{}
	for i, p := range c.Procs {
		if !p.Running() || c.isPaused(i) {
			continue
		}
		if l, err := p.Leader(); err == nil && l != "" {
			votes[l]++
		}
	}
	for l, n := range votes {
		if n < 2 {
			continue
		}
		for i, p := range c.Procs {
			if net.JoinHostPort(p.Addr, fmt.Sprint(Ports.Server)) == l {
				return i, nil
			}
		}
	}
	return -1, fmt.Errorf("%w: votes %v", ErrNoLeader, votes)
}

// WaitLeader polls Leader until one is found, timeout passes or ctx is done.
func (c *Cluster) WaitLeader(ctx context.Context, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		i, err := c.Leader()
		if err == nil {
			return i, nil
		}
		select {
		case <-ctx.Done():
			return -1, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (c *Cluster) isPaused(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.paused[i]
}

// Kill kills server i with SIGKILL.
func (c *Cluster) Kill(i int) {
	c.mu.Lock()
	c.down[i], c.paused[i] = true, false
	c.mu.Unlock()
	c.Procs[i].Kill9()
}

// Restart starts server i again on its data dir and waits until it
// serves HTTP; a server that exits or does not serve within timeout is
// ErrCrashed, with the tail of its log.
func (c *Cluster) Restart(ctx context.Context, i int, timeout time.Duration) error {
	p := c.Procs[i]
	c.mu.Lock()
	c.down[i] = true // until it serves: Watch leaves it to waitServes
	c.mu.Unlock()
	if err := p.Start(); err != nil {
		return err
	}
	if err := c.waitServes(ctx, i, timeout); err != nil {
		return err
	}
	c.mu.Lock()
	c.down[i] = false
	c.mu.Unlock()
	return nil
}

// waitServes waits until server i answers /v1/agent/self.
func (c *Cluster) waitServes(ctx context.Context, i int, timeout time.Duration) error {
	p := c.Procs[i]
	deadline := time.Now().Add(timeout)
	for {
		if !p.Running() {
			return c.crashed(i, "exited after restart")
		}
		if code, _, err := p.Get("/v1/agent/self"); err == nil && code == 200 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return c.crashed(i, fmt.Sprintf("does not serve %v after restart", timeout))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// crashed records and returns an ErrCrashed for server i.
func (c *Cluster) crashed(i int, what string) error {
	err := fmt.Errorf("%w: %s (pid %d) %s; log tail:\n%s", ErrCrashed, c.Procs[i].Name, c.Procs[i].PID(), what, tail(c.Procs[i].Log(), 40))
	c.mu.Lock()
	if !c.reported[i] {
		c.reported[i] = true
		c.crashes = append(c.crashes, err)
	}
	c.mu.Unlock()
	return err
}

// Watch notices servers that exit without being killed, until ctx is done.
func (c *Cluster) Watch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(250 * time.Millisecond):
		}
		for i, p := range c.Procs {
			c.mu.Lock()
			down := c.down[i]
			c.mu.Unlock()
			if !down && !p.Running() {
				_ = c.crashed(i, "exited on its own")
				c.mu.Lock()
				c.down[i] = true // restarted by Recover
				c.mu.Unlock()
			}
		}
	}
}

// Crashes returns the crashes noticed so far.
func (c *Cluster) Crashes() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.crashes...)
}

// Pause stops server i with SIGSTOP; Resume continues it.
func (c *Cluster) Pause(i int) error {
	c.mu.Lock()
	c.paused[i] = true
	c.mu.Unlock()
	return c.Procs[i].Signal(syscall.SIGSTOP)
}

// Resume continues server i with SIGCONT.
func (c *Cluster) Resume(i int) error {
	c.mu.Lock()
	c.paused[i] = false
	c.mu.Unlock()
	return c.Procs[i].Signal(syscall.SIGCONT)
}

// Isolate cuts server i off the other servers (iptables in its host's
// namespace); clients still reach every server.
func (c *Cluster) Isolate(i int) error {
	var peers []*netlab.Host
	var idx []int
	for j, h := range c.Lab.Hosts {
		if j != i {
			peers, idx = append(peers, h), append(idx, j)
		}
	}
	c.mu.Lock()
	c.isolated[i] = idx
	c.mu.Unlock()
	return c.Lab.Hosts[i].Isolate(peers...)
}

// HealAll removes every partition, resumes paused servers and restarts
// killed (or crashed) ones, each waited on up to timeout.
func (c *Cluster) HealAll(ctx context.Context, timeout time.Duration) error {
	var errs []error
	c.mu.Lock()
	isolated, paused, down := c.isolated, c.paused, map[int]bool{}
	c.isolated, c.paused = map[int][]int{}, map[int]bool{}
	for i, d := range c.down {
		down[i] = d
	}
	c.mu.Unlock()
	for i := range isolated {
		if err := c.Lab.Hosts[i].Rejoin(hostsOf(c.Lab, isolated[i])...); err != nil {
			errs = append(errs, err)
		}
	}
	for i, p := range paused {
		if p {
			errs = append(errs, c.Procs[i].Signal(syscall.SIGCONT))
		}
	}
	for i, d := range down {
		if d && !c.Procs[i].Running() {
			errs = append(errs, c.Restart(ctx, i, timeout))
		}
	}
	return errors.Join(errs...)
}

func hostsOf(l *netlab.Lab, idx []int) []*netlab.Host {
	var out []*netlab.Host
	for _, i := range idx {
		out = append(out, l.Hosts[i])
	}
	return out
}

// RaftIndex returns server i's raft applied and commit indexes as
// /v1/agent/self reports them.
func (c *Cluster) RaftIndex(ctx context.Context, i int) (applied, commit string, err error) {
	var self struct {
		Stats map[string]map[string]string
	}
	if err := getJSON(ctx, c.Procs[i].HTTP, "/v1/agent/self", &self); err != nil {
		return "", "", err
	}
	r := self.Stats["raft"]
	return r["applied_index"], r["commit_index"], nil
}

// LogDir returns the directory of the servers' logs and data.
func (c *Cluster) LogDir() string { return filepath.Dir(c.Procs[0].LogPath) }

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
