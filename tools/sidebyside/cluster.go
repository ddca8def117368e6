package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cluster is three server processes of one product on loopback, each on
// its own 127.0.0.x address.
type cluster struct {
	name  string
	procs []*proc
	// http is each server's HTTP API (Shoal, Consul) or client URL (etcd).
	http []string
	// dns is each server's DNS address (Shoal, Consul); empty for etcd.
	dns []string
}

// pids returns the servers' process IDs.
func (c *cluster) pids() []int {
	var out []int
	for _, p := range c.procs {
		out = append(out, p.cmd.Process.Pid)
	}
	return out
}

// stop ends the servers this tool started, by PID, and waits for them.
func (c *cluster) stop() {
	for _, p := range c.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range c.procs {
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
}

// proc is a started server process; exited is closed once it has been
// waited for.
type proc struct {
	cmd    *exec.Cmd
	exited chan struct{}
}

// freePort returns a TCP and UDP port free on ip at the time of the call.
func freePort(ip string) (int, error) {
	for range 50 {
		l, err := net.Listen("tcp", ip+":0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(port)))
		if err != nil {
			continue
		}
		u.Close()
		return port, nil
	}
	return 0, errors.New("no free port")
}

func freePorts(ip string, n int) ([]int, error) {
	seen := map[int]bool{}
	var out []int
	for len(out) < n {
		p, err := freePort(ip)
		if err != nil {
			return nil, err
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

func startProc(dir, name string, bin string, args ...string) (*proc, error) {
	log, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{cmd: cmd, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); log.Close(); close(p.exited) }()
	return p, nil
}

// consulLike starts three servers of Shoal or Consul (their agent flags
// are the same) with the given extra HCL, and waits for a leader.
func consulLike(ctx context.Context, name, bin, dir string, ipBase int, hcl string, shoal bool) (*cluster, error) {
	c := &cluster{name: name}
	var join string
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", ipBase+i)
		ports, err := freePorts(ip, 4) // http, dns, serf, server
		if err != nil {
			return nil, err
		}
		node := fmt.Sprintf("%s%d", name, i+1)
		data := filepath.Join(dir, node)
		if err := os.MkdirAll(data, 0o755); err != nil {
			return nil, err
		}
		cfg := filepath.Join(dir, node+".hcl")
		if err := os.WriteFile(cfg, []byte(hcl), 0o644); err != nil {
			return nil, err
		}
		if i == 0 {
			join = fmt.Sprintf("%s:%d", ip, ports[2])
		}
		args := []string{"agent", "-server", "-bootstrap-expect", "3", "-bind", ip, "-client", ip, "-node", node,
			"-data-dir", data, "-http-port", strconv.Itoa(ports[0]), "-dns-port", strconv.Itoa(ports[1]),
			"-serf-lan-port", strconv.Itoa(ports[2]), "-server-port", strconv.Itoa(ports[3]),
			"-retry-join", join, "-retry-interval", "1s", "-log-level", "warn", "-config-file", cfg}
		if shoal {
			args = append(args, "-overlay=false")
		} else {
			// Consul's other listeners, moved off their fixed defaults.
			wan, err := freePort(ip)
			if err != nil {
				return nil, err
			}
			args = append(args, "-serf-wan-port", strconv.Itoa(wan), "-grpc-port", "-1", "-https-port", "-1")
		}
		p, err := startProc(dir, node, bin, args...)
		if err != nil {
			c.stop()
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.http = append(c.http, fmt.Sprintf("%s:%d", ip, ports[0]))
		c.dns = append(c.dns, fmt.Sprintf("%s:%d", ip, ports[1]))
	}
	if err := waitLeader(ctx, c); err != nil {
		c.stop()
		return nil, fmt.Errorf("%s: %w (logs in %s)", name, err, dir)
	}
	return c, nil
}

// waitLeader waits until every server names the same leader and a write
// through each succeeds.
func waitLeader(ctx context.Context, c *cluster) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, addr := range c.http {
		for {
			resp, err := http.Get("http://" + addr + "/v1/status/leader")
			if err == nil {
				var b [128]byte
				n, _ := resp.Body.Read(b[:])
				resp.Body.Close()
				if s := strings.Trim(strings.TrimSpace(string(b[:n])), `"`); resp.StatusCode == 200 && s != "" {
					req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/v1/kv/sidebyside/ready", strings.NewReader("1"))
					if r2, err := http.DefaultClient.Do(req); err == nil {
						r2.Body.Close()
						if r2.StatusCode == 200 {
							break
						}
					}
				}
			}
			select {
			case <-ctx.Done():
				return errors.New("no leader within 60 s")
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// etcdCluster starts three etcd members and waits until each answers.
func etcdCluster(ctx context.Context, bin, dir string, ipBase int) (*cluster, error) {
	c := &cluster{name: "etcd"}
	type member struct {
		ip, name     string
		client, peer int
	}
	var ms []member
	var initial []string
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", ipBase+i)
		ports, err := freePorts(ip, 2)
		if err != nil {
			return nil, err
		}
		m := member{ip, fmt.Sprintf("etcd%d", i+1), ports[0], ports[1]}
		ms = append(ms, m)
		initial = append(initial, fmt.Sprintf("%s=http://%s:%d", m.name, ip, m.peer))
	}
	for _, m := range ms {
		cu := fmt.Sprintf("http://%s:%d", m.ip, m.client)
		pu := fmt.Sprintf("http://%s:%d", m.ip, m.peer)
		p, err := startProc(dir, m.name, bin, "--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "sidebyside", "--log-level", "warn", "--logger", "zap")
		if err != nil {
			c.stop()
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.http = append(c.http, cu)
	}
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for _, u := range c.http {
		for {
			resp, err := http.Get(u + "/health")
			if err == nil {
				var b [256]byte
				n, _ := resp.Body.Read(b[:])
				resp.Body.Close()
				if strings.Contains(string(b[:n]), `"true"`) {
					break
				}
			}
			select {
			case <-ctx.Done():
				c.stop()
				return nil, fmt.Errorf("etcd: not healthy within 60 s (logs in %s)", dir)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return c, nil
}

// cpuTicks sums utime and stime (clock ticks, 100 per second on Linux) of
// the processes.
func cpuTicks(pids []int) (int64, error) {
	var total int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		s := string(b)
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += ut + st
	}
	return total, nil
}
