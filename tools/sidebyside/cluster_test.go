package main

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"
)

// Every listener a server opens is on a port the tool chose, or off: a
// default port (Consul 1.14's gRPC-TLS 8503, say) would collide with a
// second run on the same 127.0.0.x address.
func TestAgentArgsSetEveryListener(t *testing.T) {
	p := agentPorts{http: 20001, dns: 20002, serfLAN: 20003, server: 20004, serfWAN: 20005}
	for _, tc := range []struct {
		name  string
		shoal bool
		// want is every port flag of the product's listeners (Consul
		// 1.14's `ports` block; Shoal's HTTPS listens only with TLS
		// configured) and its value.
		want map[string]int
	}{
		{"shoal", true, map[string]int{
			"-http-port": p.http, "-dns-port": p.dns, "-serf-lan-port": p.serfLAN, "-server-port": p.server}},
		{"consul", false, map[string]int{
			"-http-port": p.http, "-dns-port": p.dns, "-serf-lan-port": p.serfLAN, "-server-port": p.server,
			"-serf-wan-port": p.serfWAN, "-https-port": -1, "-grpc-port": -1, "-grpc-tls-port": -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := agentArgs(tc.shoal, "127.0.0.9", "n1", "/d", "127.0.0.9:1", "/c.hcl", p)
			for flag, want := range tc.want {
				i := slices.Index(args, flag)
				if i < 0 || i+1 == len(args) {
					t.Errorf("%s not set: %q", flag, args)
					continue
				}
				if got, err := strconv.Atoi(args[i+1]); err != nil || got != want {
					t.Errorf("%s %s, want %d", flag, args[i+1], want)
				}
			}
			if !slices.Contains(args, "127.0.0.9") {
				t.Errorf("not bound to the server's address: %q", args)
			}
		})
	}
}

func TestFreePortsDistinct(t *testing.T) {
	ports, err := freePorts("127.0.0.1", 5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("ports %v: want 5 distinct", ports)
		}
		seen[p] = true
	}
}

// stopAll kills a server that ignores SIGTERM once the grace is over, and
// no server starts after it.
func TestSupervisorStopAll(t *testing.T) {
	pids := pidDir(t)
	sup := &supervisor{grace: 300 * time.Millisecond}
	dir := t.TempDir()
	var procs []*proc
	for i, mode := range []string{"noleader", "stubborn"} {
		p, err := sup.start(dir, "s"+strconv.Itoa(i), fakeBin(t, mode, pids))
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(recordedPIDs(t, pids)) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // the stubborn one ignores SIGTERM from here
	}
	start := time.Now()
	sup.stopAll()
	if d := time.Since(start); d < sup.grace {
		t.Errorf("stopAll returned after %v, before the grace of %v", d, sup.grace)
	}
	for _, p := range procs {
		if running(p.cmd.Process.Pid) {
			t.Errorf("%s (pid %d) still running", p.name, p.cmd.Process.Pid)
		}
	}
	if _, err := sup.start(dir, "late", fakeBin(t, "noleader", pids)); !errors.Is(err, errStopped) {
		t.Errorf("start after stopAll: %v, want errStopped", err)
	}
}

// The clients' CPU per operation rests on selfCPU: it must count the CPU
// this process burns, and not the time it sleeps.
func TestSelfCPUCountsWorkNotSleep(t *testing.T) {
	before, err := selfCPU()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	slept, err := selfCPU()
	if err != nil {
		t.Fatal(err)
	}
	if d := slept - before; d > 100*time.Millisecond {
		t.Errorf("sleeping 200 ms counted %v of CPU", d)
	}
	x := 0
	for end := time.Now().Add(200 * time.Millisecond); time.Now().Before(end); {
		for i := range 1000 {
			x += i
		}
	}
	busy, err := selfCPU()
	if err != nil {
		t.Fatal(err)
	}
	if d := busy - slept; d < 100*time.Millisecond {
		t.Errorf("200 ms of work counted only %v of CPU (x=%d)", d, x)
	}
}
