package e2e

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testcluster"
)

type allocView struct {
	ID, NodeName, Version, DesiredStatus, ClientStatus string
	Index                                              int
}

type serviceView struct {
	Version                   string
	Desired, Running, Healthy int
	Outdated                  int
	Allocs                    []allocView
}

// checkNoDuplicates fails when a slot has two live or two running replicas.
func checkNoDuplicates(s *serviceView) error {
	live, running := map[int]int{}, map[int]int{}
	for _, a := range s.Allocs {
		if a.DesiredStatus == "run" {
			live[a.Index]++
		}
		if a.ClientStatus == "running" && a.DesiredStatus == "run" {
			running[a.Index]++
		}
	}
	for slot := range live {
		if live[slot] > 1 || running[slot] > 1 {
			return fmt.Errorf("slot %d: %d live, %d running replicas", slot, live[slot], running[slot])
		}
	}
	return nil
}

// TestLeaderKilledDuringRollingUpdate kills the leader, which also runs
// replicas, in the middle of a rolling update: the new leader resumes the
// update from the state in Raft; no replica is lost or duplicated, the dead
// node's replicas are re-placed, and its return adds no duplicate.
func TestLeaderKilledDuringRollingUpdate(t *testing.T) {
	procs, ports := startServers(t, 3)
	dir := t.TempDir()
	client := &proccluster.Proc{Name: "c1", Bin: shoalBin, Addr: "127.0.0.9",
		HTTP: fmt.Sprintf("127.0.0.9:%d", ports.HTTP), DataDir: filepath.Join(dir, "c1"), LogPath: filepath.Join(dir, "c1.log")}
	client.Args = []string{"agent", "-node", "c1", "-bind", client.Addr, "-client", client.Addr, "-data-dir", client.DataDir,
		"-http-port", fmt.Sprint(ports.HTTP), "-serf-lan-port", fmt.Sprint(ports.Serf), "-dns-port", "-1", "-overlay=false",
		"-retry-join", fmt.Sprintf("127.0.0.1:%d", ports.Serf), "-retry-interval", "200ms"}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	all := append(append([]*proccluster.Proc{}, procs...), client)
	t.Cleanup(func() {
		// Remove the service so every agent stops its processes.
		for _, p := range all {
			if p.Running() {
				_, _, _ = p.Delete("/v1/kv/shoal/services/roll")
				break
			}
		}
		time.Sleep(3 * time.Second)
		client.Kill9()
		if t.Failed() {
			t.Logf("---- c1 log ----\n%s", client.Log())
		}
	})
	leader := waitLeader(t, procs, ports, 20*time.Second)
	spec := func(arg string) string {
		return fmt.Sprintf(`{"name": "roll", "driver": "exec", "command": "/bin/sleep", "args": [%q], "replicas": 8,
			"resources": {"cpu": 10, "memory": 10}, "update": {"parallelism": 1, "delay": "500ms"}}`, arg)
	}
	get := func(p *proccluster.Proc) (*serviceView, error) {
		var s serviceView
		return &s, getJSON(p, "/v1/shoal/services/roll", &s)
	}
	deploy := func(arg string) {
		testcluster.Eventually(t, 20*time.Second, func() error {
			code, body, err := leader.Put("/v1/kv/shoal/services/roll", spec(arg))
			if err != nil || code != 200 {
				return fmt.Errorf("deploy: %d %s %v", code, body, err)
			}
			return nil
		})
	}
	converged := func(p *proccluster.Proc, exclude string) error {
		s, err := get(p)
		if err != nil {
			return err
		}
		if err := checkNoDuplicates(s); err != nil {
			return err
		}
		for _, a := range s.Allocs {
			if a.DesiredStatus == "run" && (a.Version != s.Version || a.NodeName == exclude) {
				return fmt.Errorf("replica %d on %s runs version %s (want %s)", a.Index, a.NodeName, a.Version, s.Version)
			}
		}
		if s.Running != 8 || s.Desired != 8 {
			return fmt.Errorf("%d/%d running", s.Running, s.Desired)
		}
		return nil
	}
	deploy("600")
	testcluster.Eventually(t, 60*time.Second, func() error { return converged(leader, "") })
	v1, _ := get(leader)

	deploy("601")
	// Wait until the update is under way, then kill the leader.
	testcluster.Eventually(t, 30*time.Second, func() error {
		s, err := get(leader)
		if err != nil {
			return err
		}
		if s.Version == v1.Version || s.Outdated == 0 || s.Outdated == 8 {
			return fmt.Errorf("update not under way: version %s, %d outdated", s.Version, s.Outdated)
		}
		return nil
	})
	start := time.Now()
	leader.Kill9()
	var survivors []*proccluster.Proc
	for _, p := range procs {
		if p != leader {
			survivors = append(survivors, p)
		}
	}
	newLeader := waitLeader(t, survivors, ports, 20*time.Second)
	testcluster.Eventually(t, 90*time.Second, func() error {
		for _, p := range append(survivors, client) {
			s, err := get(p)
			if err == nil {
				err = checkNoDuplicates(s)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p.Name, err)
			}
		}
		return converged(newLeader, leader.Name)
	})
	t.Logf("update finished and the dead leader's replicas re-placed %v after kill -9 of the leader",
		time.Since(start).Round(time.Millisecond))

	// The old leader returns: still 8 replicas, none twice.
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	testcluster.Eventually(t, 30*time.Second, func() error {
		if err := converged(newLeader, ""); err != nil {
			return err
		}
		s, _ := get(newLeader)
		running := 0
		for _, a := range s.Allocs {
			if a.ClientStatus == "running" {
				running++
			}
		}
		if running != 8 {
			return fmt.Errorf("%d allocations report running", running)
		}
		return nil
	})
}
