package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// startServers starts n server processes on 127.0.0.1..n and stops them
// (by PID) when the test ends, printing their logs if it failed.
func startServers(t *testing.T, n int) ([]*proccluster.Proc, proccluster.Ports) {
	t.Helper()
	fp := testcluster.FreePorts(t, 3)
	ports := proccluster.Ports{HTTP: fp[0], Serf: fp[1], Server: fp[2]}
	procs := proccluster.Servers(shoalBin, t.TempDir(), n, ports)
	runProcs(t, procs)
	return procs, ports
}

func waitLeader(t *testing.T, procs []*proccluster.Proc, ports proccluster.Ports, timeout time.Duration) *proccluster.Proc {
	t.Helper()
	var leader *proccluster.Proc
	testcluster.Eventually(t, timeout, func() error {
		var err error
		leader, err = proccluster.FindLeader(procs, ports.Server)
		return err
	})
	return leader
}

// followerOf returns the first of procs that is not leader.
func followerOf(procs []*proccluster.Proc, leader *proccluster.Proc) *proccluster.Proc {
	for _, p := range procs {
		if p != leader {
			return p
		}
	}
	return nil
}

func cli(t *testing.T, p *proccluster.Proc, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(shoalBin, args...)
	cmd.Env = append(cmd.Environ(), "SHOAL_HTTP_ADDR="+p.HTTP, "CONSUL_HTTP_ADDR=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestNoLeaveOnSIGTERMWhenConfigured: a server whose configuration says
// leave_on_terminate = false, as Consul's servers default to, exits on
// SIGTERM without leaving: it stays a voter while down, and comes back as
// one on restart.
func TestNoLeaveOnSIGTERMWhenConfigured(t *testing.T) {
	fp := testcluster.FreePorts(t, 3)
	ports := proccluster.Ports{HTTP: fp[0], Serf: fp[1], Server: fp[2]}
	procs := proccluster.Servers(shoalBin, t.TempDir(), 3, ports)
	conf := filepath.Join(t.TempDir(), "stay.hcl")
	if err := os.WriteFile(conf, []byte("leave_on_terminate = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		p.Args = append(p.Args, "-config-file", conf)
	}
	runProcs(t, procs)
	leader := waitLeader(t, procs, ports, 20*time.Second)
	stayer := followerOf(procs, leader)
	voters := func(p *proccluster.Proc) (string, error) {
		out, err := cli(t, p, "operator", "raft", "list-peers")
		if err != nil {
			return out, fmt.Errorf("%v: %s", err, out)
		}
		if !strings.Contains(out, stayer.Name+" ") || strings.Count(out, "true") != 3 {
			return out, fmt.Errorf("raft configuration is not the three voters with %s:\n%s", stayer.Name, out)
		}
		return out, nil
	}
	testcluster.Eventually(t, 15*time.Second, func() error { _, err := voters(leader); return err })

	stayer.Stop(15 * time.Second)
	if code := stayer.ExitCode(); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0:\n%s", code, stayer.Log())
	}
	if log := stayer.Log(); !strings.Contains(log, "exiting without leaving the cluster (leave_on_terminate = false)") ||
		strings.Contains(log, "leaving cluster gracefully") {
		t.Fatalf("SIGTERM with leave_on_terminate = false:\n%s", log)
	}
	// Serf sees it fail within seconds; the Raft configuration keeps it
	// (no leave; dead-server cleanup waits its 2-minute grace).
	testcluster.Eventually(t, 15*time.Second, func() error {
		out, err := cli(t, leader, "members")
		if err != nil || !strings.Contains(out, "failed") {
			return fmt.Errorf("members does not show %s failed yet: %v\n%s", stayer.Name, err, out)
		}
		return nil
	})
	if out, err := voters(leader); err != nil {
		t.Fatalf("after SIGTERM without leave: %v\n%s", err, out)
	}

	if err := stayer.Start(); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 20*time.Second, func() error {
		out, err := cli(t, stayer, "members")
		if err != nil || strings.Count(out, "alive") != 3 {
			return fmt.Errorf("members after the restart: %v\n%s", err, out)
		}
		_, err = voters(stayer)
		return err
	})
	if code, body, err := stayer.Put("/v1/kv/after-restart", "1"); err != nil || code != 200 {
		t.Fatalf("put through the restarted server: %d %s %v", code, body, err)
	}
}

// TestTransferLeaderCLI: `shoal operator raft transfer-leader -id` hands
// the leadership to the named server, which then leads and takes writes.
func TestTransferLeaderCLI(t *testing.T) {
	procs, ports := startServers(t, 3)
	leader := waitLeader(t, procs, ports, 20*time.Second)
	target := followerOf(procs, leader)
	code, body, err := leader.Get("/v1/operator/raft/configuration")
	if err != nil || code != 200 {
		t.Fatalf("raft configuration: %d %v %s", code, err, body)
	}
	var cf struct{ Servers []struct{ ID, Node string } }
	if err := json.Unmarshal([]byte(body), &cf); err != nil {
		t.Fatal(err)
	}
	var id string
	for _, s := range cf.Servers {
		if s.Node == target.Name {
			id = s.ID
		}
	}
	if id == "" {
		t.Fatalf("no ID for %s in %s", target.Name, body)
	}
	out, err := cli(t, leader, "operator", "raft", "transfer-leader", "-id", id)
	if err != nil || strings.TrimSpace(out) != "Success" {
		t.Fatalf("transfer-leader -id %s: %v\n%s", id, err, out)
	}
	testcluster.Eventually(t, 10*time.Second, func() error {
		for _, p := range procs {
			l, err := p.Leader()
			if err != nil {
				return err
			}
			if l != target.Addr+":"+strconv.Itoa(ports.Server) {
				return fmt.Errorf("%s sees leader %q, want %s", p.Name, l, target.Name)
			}
		}
		return nil
	})
	if code, body, err := target.Put("/v1/kv/after-transfer", "1"); err != nil || code != 200 {
		t.Fatalf("put through the new leader: %d %s %v", code, body, err)
	}
	// The same command on a cluster it cannot serve says why and exits 1.
	if out, err := cli(t, target, "operator", "raft", "transfer-leader", "-id", id); err == nil ||
		!strings.Contains(out, "already the leader") {
		t.Fatalf("transfer-leader to the leader: %v\n%s", err, out)
	}
}

func TestKillNineLeaderFailoverAndRejoin(t *testing.T) {
	procs, ports := startServers(t, 3)
	leader := waitLeader(t, procs, ports, 20*time.Second)

	// The CLI sees three alive servers and three voters.
	testcluster.Eventually(t, 10*time.Second, func() error {
		out, err := cli(t, leader, "members")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		if n := strings.Count(out, "alive"); n != 3 {
			return fmt.Errorf("members shows %d alive:\n%s", n, out)
		}
		return nil
	})
	out, err := cli(t, leader, "operator", "raft", "list-peers")
	if err != nil || strings.Count(out, "true") != 3 || !strings.Contains(out, "leader") {
		t.Fatalf("list-peers: %v\n%s", err, out)
	}

	if code, body, err := leader.Put("/v1/kv/before", "1"); err != nil || code != 200 {
		t.Fatalf("put: %d %s %v", code, body, err)
	}

	start := time.Now()
	leader.Kill9()
	newLeader := waitLeader(t, procs, ports, 10*time.Second)
	t.Logf("kill -9 of %s: new leader %s after %v", leader.Name, newLeader.Name, time.Since(start).Round(time.Millisecond))

	// Writes through the survivors succeed.
	for _, p := range procs {
		if !p.Running() {
			continue
		}
		testcluster.Eventually(t, 10*time.Second, func() error {
			code, body, err := p.Put("/v1/kv/after-"+p.Name, "2")
			if err != nil || code != 200 || strings.TrimSpace(body) != "true" {
				return fmt.Errorf("put via %s: %d %q %v", p.Name, code, body, err)
			}
			return nil
		})
	}

	// The killed server restarts from its data dir and catches up.
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 20*time.Second, func() error {
		for _, p := range procs {
			if p == leader {
				continue
			}
			code, body, err := leader.Get("/v1/kv/after-" + p.Name + "?stale&raw")
			if err != nil || code != 200 || body != "2" {
				return fmt.Errorf("restarted %s: after-%s = %d %q %v", leader.Name, p.Name, code, body, err)
			}
		}
		code, body, err := leader.Get("/v1/kv/before?stale&raw")
		if err != nil || code != 200 || body != "1" {
			return fmt.Errorf("restarted %s: before = %d %q %v", leader.Name, code, body, err)
		}
		return nil
	})
	out, err = cli(t, newLeader, "operator", "raft", "list-peers")
	if err != nil || strings.Count(out, "true") != 3 {
		t.Fatalf("after rejoin, list-peers: %v\n%s", err, out)
	}
}

func TestGracefulLeaveOnSIGTERM(t *testing.T) {
	procs, ports := startServers(t, 3)
	leader := waitLeader(t, procs, ports, 20*time.Second)
	leaver := followerOf(procs, leader)
	leaver.Stop(15 * time.Second)
	if !strings.Contains(leaver.Log(), "leaving cluster") {
		t.Fatalf("SIGTERM did not leave gracefully:\n%s", leaver.Log())
	}
	testcluster.Eventually(t, 15*time.Second, func() error {
		out, err := cli(t, leader, "operator", "raft", "list-peers")
		if err != nil {
			return err
		}
		if strings.Contains(out, leaver.Name+" ") || strings.Count(out, "true") != 2 {
			return fmt.Errorf("raft configuration still holds %s:\n%s", leaver.Name, out)
		}
		return nil
	})
}
