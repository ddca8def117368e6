// Command nodeloss measures how long the scheduler takes to bring a
// service back to full strength after kill -9 of a node holding replicas
// (-victim client), or of the Raft leader's node (-victim leader).
// It starts three servers (127.0.0.1-3) and two client agents (127.0.0.4-5)
// from the shoal binary with default settings, deploys a service of
// -replicas replicas (exec driver: /bin/sleep, so no container engine is
// needed; the control path is the same for docker), kills -9 a client that
// holds replicas, and times until every replica runs again on the other
// nodes. Then it restarts the client and checks that no replica runs twice.
// It repeats -n times and prints each trial and the median.
//
//	go build -o /tmp/shoal . && go run ./tools/nodeloss -bin /tmp/shoal -n 5
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
)

func main() {
	bin := flag.String("bin", "", "path to the shoal binary (required)")
	n := flag.Int("n", 5, "number of trials")
	replicas := flag.Int("replicas", 6, "replicas of the test service")
	victimKind := flag.String("victim", "client", `which node to kill: "client" (a client agent holding replicas) or "leader" (the Raft leader, which also holds replicas)`)
	base := flag.Int("port-base", 18600, "ports used: base (HTTP), base+1 (Serf), base+2 (RPC) on each address")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "nodeloss: -bin is required")
		os.Exit(2)
	}
	var times []time.Duration
	for i := 1; i <= *n; i++ {
		d, err := trial(*bin, *replicas, *victimKind == "leader", proccluster.Ports{HTTP: *base, Serf: *base + 1, Server: *base + 2})
		if err != nil {
			fmt.Fprintf(os.Stderr, "trial %d: %v\n", i, err)
			os.Exit(1)
		}
		fmt.Printf("trial %d: full strength %v after kill -9\n", i, d.Round(time.Millisecond))
		times = append(times, d)
	}
	slices.Sort(times)
	fmt.Printf("median over %d trials: %v\n", *n, times[len(times)/2].Round(time.Millisecond))
}

type alloc struct {
	NodeName, DesiredStatus, ClientStatus string
	Index                                 int
}

type service struct {
	Desired, Running int
	Allocs           []alloc
}

func trial(bin string, replicas int, killLeader bool, ports proccluster.Ports) (time.Duration, error) {
	dir, err := os.MkdirTemp("", "shoal-nodeloss-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	procs := proccluster.Servers(bin, dir, 3, ports)
	for i := 4; i <= 5; i++ {
		addr := fmt.Sprintf("127.0.0.%d", i)
		p := &proccluster.Proc{Name: fmt.Sprintf("c%d", i-3), Bin: bin, Addr: addr,
			HTTP:    fmt.Sprintf("%s:%d", addr, ports.HTTP),
			DataDir: filepath.Join(dir, fmt.Sprintf("c%d", i-3)), LogPath: filepath.Join(dir, fmt.Sprintf("c%d.log", i-3))}
		p.Args = []string{"agent", "-node", p.Name, "-bind", addr, "-client", addr, "-data-dir", p.DataDir,
			"-http-port", fmt.Sprint(ports.HTTP), "-serf-lan-port", fmt.Sprint(ports.Serf), "-dns-port", "-1",
			"-overlay=false", "-retry-join", fmt.Sprintf("127.0.0.1:%d", ports.Serf), "-retry-interval", "200ms"}
		procs = append(procs, p)
	}
	defer func() {
		for _, p := range procs {
			p.Kill9()
		}
	}()
	for _, p := range procs {
		if err := p.Start(); err != nil {
			return 0, err
		}
	}
	var leader *proccluster.Proc
	if err := wait(60*time.Second, func() error {
		var err error
		leader, err = proccluster.FindLeader(procs[:3], ports.Server)
		return err
	}); err != nil {
		return 0, err
	}
	// s1 is the node the tool talks to: one that survives.
	s1 := procs[0]
	if killLeader && leader == s1 {
		s1 = procs[1]
	}
	spec := fmt.Sprintf(`{"name": "sleeper", "driver": "exec", "command": "/bin/sleep", "args": ["600"], "replicas": %d,
		"resources": {"cpu": 10, "memory": 10}}`, replicas)
	if err := wait(30*time.Second, func() error {
		code, body, err := s1.Put("/v1/kv/shoal/services/sleeper", spec)
		if err != nil || code != 200 {
			return fmt.Errorf("deploy: %d %s %v", code, body, err)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	var victim *proccluster.Proc
	if err := wait(60*time.Second, func() error {
		s, err := get(s1)
		if err != nil {
			return err
		}
		if s.Running != replicas || s.Desired != replicas {
			return fmt.Errorf("%d/%d running", s.Running, s.Desired)
		}
		for _, a := range s.Allocs {
			if a.DesiredStatus != "run" {
				continue
			}
			for _, p := range procs {
				if p.Name == a.NodeName && ((killLeader && p == leader) || (!killLeader && p.Name[0] == 'c')) {
					victim = p
				}
			}
		}
		if victim == nil {
			return errors.New("no replica on the node to kill")
		}
		return nil
	}); err != nil {
		return 0, err
	}
	start := time.Now()
	victim.Kill9()
	if killLeader {
		var survivors []*proccluster.Proc
		for _, p := range procs[:3] {
			if p != victim {
				survivors = append(survivors, p)
			}
		}
		if err := wait(60*time.Second, func() error { _, err := proccluster.FindLeader(survivors, ports.Server); return err }); err != nil {
			return 0, fmt.Errorf("no new leader: %w", err)
		}
	}
	if err := wait(120*time.Second, func() error {
		s, err := get(s1)
		if err != nil {
			return err
		}
		for _, a := range s.Allocs {
			if a.DesiredStatus == "run" && a.NodeName == victim.Name {
				return errors.New("replica still placed on the dead node")
			}
		}
		if s.Running != replicas {
			return fmt.Errorf("%d running", s.Running)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	took := time.Since(start)

	// The node returns: its stale processes are stopped, nothing runs twice.
	if err := victim.Start(); err != nil {
		return 0, err
	}
	time.Sleep(3 * time.Second)
	s, err := get(s1)
	if err != nil {
		return 0, err
	}
	slots := map[int]int{}
	for _, a := range s.Allocs {
		if a.ClientStatus == "running" {
			slots[a.Index]++
		}
	}
	for slot, n := range slots {
		if n > 1 {
			return 0, fmt.Errorf("slot %d runs %d times after the node returned", slot, n)
		}
	}
	// Remove the service so every agent stops its processes before exit.
	if err := deleteService(s1); err != nil {
		return 0, err
	}
	if err := wait(30*time.Second, func() error {
		s, err := get(s1)
		if err == nil && s.Running > 0 {
			return fmt.Errorf("%d still running", s.Running)
		}
		return nil
	}); err != nil {
		return 0, fmt.Errorf("cleanup: %w", err)
	}
	return took, nil
}

func get(p *proccluster.Proc) (*service, error) {
	code, body, err := p.Get("/v1/shoal/services/sleeper")
	if err != nil {
		return nil, err
	}
	if code != 200 {
		return nil, fmt.Errorf("%d %s", code, body)
	}
	var s service
	return &s, json.Unmarshal([]byte(body), &s)
}

func deleteService(p *proccluster.Proc) error {
	_, _, err := p.Delete("/v1/kv/shoal/services/sleeper")
	return err
}

// wait polls fn until it succeeds or timeout passes.
func wait(timeout time.Duration, fn func() error) error {
	return proccluster.Poll(timeout, 50*time.Millisecond, fn)
}
