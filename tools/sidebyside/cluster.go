package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
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

// readyTimeout bounds the wait for a new cluster's leader (or health).
const readyTimeout = 60 * time.Second

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

// agentPorts are the ports of one Shoal or Consul server's listeners.
type agentPorts struct {
	http, dns, serfLAN, server int
	// serfWAN is Consul's WAN gossip; Shoal has none.
	serfWAN int
}

// agentArgs returns the agent arguments of one Shoal or Consul server
// (their flags are the same) on ip. Every listener the product opens gets
// its port from p, or is disabled where the tool has no use for it: left at
// its default (Consul's gRPC-TLS on 8503, say), it would collide with a
// second run, or another Consul, on the same address.
func agentArgs(shoal bool, ip, node, data, join, cfg string, p agentPorts) []string {
	args := []string{"agent", "-server", "-bootstrap-expect", "3", "-bind", ip, "-client", ip, "-node", node,
		"-data-dir", data, "-http-port", strconv.Itoa(p.http), "-dns-port", strconv.Itoa(p.dns),
		"-serf-lan-port", strconv.Itoa(p.serfLAN), "-server-port", strconv.Itoa(p.server),
		"-retry-join", join, "-retry-interval", "1s", "-log-level", "warn", "-config-file", cfg}
	if shoal {
		// HTTPS listens only when configured; the VXLAN overlay is off.
		return append(args, "-overlay=false")
	}
	// Consul 1.14 also opens serf WAN (8302), gRPC-TLS (8503) and, when
	// set, gRPC and HTTPS. WAN gossip stays on, as on any Consul server.
	return append(args, "-serf-wan-port", strconv.Itoa(p.serfWAN),
		"-grpc-port", "-1", "-grpc-tls-port", "-1", "-https-port", "-1")
}

// consulLike starts three servers of Shoal or Consul with the given extra
// HCL, and waits for a leader. Every process it starts is sup's, which
// stops them on any error.
func consulLike(ctx context.Context, sup *supervisor, name, bin, dir string, ipBase int, hcl string, shoal bool) (*cluster, error) {
	c := &cluster{name: name}
	var join string
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", ipBase+i)
		ports, err := freePorts(ip, 5)
		if err != nil {
			return nil, err
		}
		p := agentPorts{http: ports[0], dns: ports[1], serfLAN: ports[2], server: ports[3], serfWAN: ports[4]}
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
			join = fmt.Sprintf("%s:%d", ip, p.serfLAN)
		}
		pr, err := sup.start(dir, node, bin, agentArgs(shoal, ip, node, data, join, cfg, p)...)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, pr)
		c.http = append(c.http, fmt.Sprintf("%s:%d", ip, p.http))
		c.dns = append(c.dns, fmt.Sprintf("%s:%d", ip, p.dns))
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	err := waitReady(ctx, c, func(ctx context.Context, addr string) bool {
		if s, ok := get(ctx, hc, "http://"+addr+"/v1/status/leader"); !ok || strings.Trim(strings.TrimSpace(s), `"`) == "" {
			return false
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, "http://"+addr+"/v1/kv/sidebyside/ready", strings.NewReader("1"))
		if err != nil {
			return false
		}
		resp, err := hc.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	if err != nil {
		return nil, fmt.Errorf("%s: no leader: %w", name, err)
	}
	return c, nil
}

// get returns the start of url's body and whether the status was 200.
func get(ctx context.Context, hc *http.Client, url string) (string, bool) {
	body, status, err := fetch(ctx, hc, url)
	return body, err == nil && status == http.StatusOK
}

// fetch GETs url: the first KiB of the body and the status.
func fetch(ctx context.Context, hc *http.Client, url string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	return string(b), resp.StatusCode, nil
}

// errExited says a server exited while the tool waited for its cluster.
var errExited = errors.New("server exited")

// waitReady polls ready for each of c's addresses (c.http) in turn until
// it reports true. It returns an error if a server exits first, after
// readyTimeout, or when ctx is done.
func waitReady(ctx context.Context, c *cluster, ready func(ctx context.Context, addr string) bool) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for _, addr := range c.http {
		for !ready(ctx, addr) {
			for _, p := range c.procs {
				select {
				case <-p.exited:
					err := fmt.Errorf("%s: %w (%v)", p.name, errExited, p.cmd.ProcessState)
					if tail := strings.TrimSpace(p.logTail(1024)); tail != "" {
						err = fmt.Errorf("%w; its output ends:\n%s\n", err, tail)
					}
					return err
				default:
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s not ready: %w", addr, context.Cause(ctx))
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// etcdCluster starts three etcd members and waits until each answers.
// Every process it starts is sup's, which stops them on any error.
func etcdCluster(ctx context.Context, sup *supervisor, bin, dir string, ipBase int) (*cluster, error) {
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
		p, err := sup.start(dir, m.name, bin, "--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen-client-urls", cu, "--advertise-client-urls", cu,
			"--listen-peer-urls", pu, "--initial-advertise-peer-urls", pu,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", "sidebyside", "--log-level", "warn", "--logger", "zap")
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.http = append(c.http, cu)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	err := waitReady(ctx, c, func(ctx context.Context, u string) bool {
		s, _ := get(ctx, hc, u+"/health")
		return strings.Contains(s, `"true"`)
	})
	if err != nil {
		return nil, fmt.Errorf("etcd: not healthy: %w", err)
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

// selfCPU is this process's user + system CPU time so far (getrusage,
// microsecond resolution): the clients' share of the machine.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
