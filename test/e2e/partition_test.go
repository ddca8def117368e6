package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestPartitionedLeaderStepsDownAndRejoins runs three servers on three
// emulated hosts (network namespaces), cuts the leader off the network,
// and checks that the majority elects a new leader and keeps accepting
// writes, that the isolated old leader accepts none, and that after the
// partition heals it follows the new leader with every acknowledged write.
func TestPartitionedLeaderStepsDownAndRejoins(t *testing.T) {
	lab := newLab(t, "p", 78, 3)
	procs, ports := labServers(lab, t.TempDir()), labPorts
	runProcs(t, procs)
	leader := waitLeader(t, procs, ports, 30*time.Second)
	var leaderHost *netlab.Host
	var majority []*proccluster.Proc
	for i, p := range procs {
		if p == leader {
			leaderHost = lab.Hosts[i]
		} else {
			majority = append(majority, p)
		}
	}
	if code, body, err := leader.Put("/v1/kv/before", "1"); err != nil || code != 200 {
		t.Fatalf("put: %d %s %v", code, body, err)
	}

	if err := leaderHost.Cut(); err != nil {
		t.Fatal(err)
	}
	newLeader := waitLeader(t, majority, ports, 20*time.Second)
	t.Logf("partitioned %s; majority elected %s", leader.Name, newLeader.Name)
	for i := 0; i < 5; i++ {
		if code, body, err := newLeader.Put(fmt.Sprintf("/v1/kv/during/%d", i), "x"); err != nil || code != 200 {
			t.Fatalf("write on majority: %d %s %v", code, body, err)
		}
	}
	// The isolated old leader cannot commit: a write through it fails.
	curl := append(leaderHost.Wrap(), "curl", "-s", "-m", "15", "-o", "/dev/null", "-w", "%{http_code}",
		"-X", "PUT", "--data", "lost", "http://"+leader.HTTP+"/v1/kv/minority")
	out, _ := exec.Command(curl[0], curl[1:]...).CombinedOutput()
	if code := strings.TrimSpace(string(out)); code == "200" {
		t.Fatalf("isolated old leader acknowledged a write (HTTP %s)", code)
	}

	if err := leaderHost.Heal(); err != nil {
		t.Fatal(err)
	}
	testcluster.Eventually(t, 30*time.Second, func() error {
		l, err := leader.Leader()
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("%s:%d", newLeader.Addr, ports.Server); l != want {
			return fmt.Errorf("old leader follows %q, want %q", l, want)
		}
		for i := 0; i < 5; i++ {
			code, body, err := leader.Get(fmt.Sprintf("/v1/kv/during/%d?stale&raw", i))
			if err != nil || code != 200 || body != "x" {
				return fmt.Errorf("during/%d on healed node: %d %q %v", i, code, body, err)
			}
		}
		return nil
	})
	if code, _, _ := newLeader.Get("/v1/kv/minority"); code != 404 {
		t.Fatalf("a write refused during the partition appeared later (HTTP %d)", code)
	}
}
