package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/shoalproject/shoal/internal/netlab"
	"github.com/shoalproject/shoal/internal/proccluster"
	"github.com/shoalproject/shoal/internal/testenv"
)

// labPorts are the ports of servers on emulated hosts: each host has its
// own network stack, so Consul's defaults fit.
var labPorts = proccluster.Ports{HTTP: 8500, Serf: 8301, Server: 8300}

// newLab builds n emulated hosts on 10.<net>.0.0/24, removed when the test
// ends; it skips the test, saying why, where labs cannot be built.
func newLab(t *testing.T, prefix string, net, n int) *netlab.Lab {
	t.Helper()
	if err := netlab.Available(); err != nil {
		testenv.Skip(t, "skipping: %v (CI runs as root)", err)
	}
	// The overlay's devices belong in the hosts' namespaces: one appearing
	// in the machine's own (an agent that used the machine's Docker
	// engine, say) is a leak the test reports.
	overlayDevs := []string{"shoal0", "shoal-vx"}
	had := map[string]bool{}
	for _, d := range overlayDevs {
		_, err := os.Stat("/sys/class/net/" + d)
		had[d] = err == nil
	}
	lab, err := netlab.New(fmt.Sprintf("%s%d", prefix, os.Getpid()%10000), net, n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lab.Close()
		for _, d := range overlayDevs {
			if _, err := os.Stat("/sys/class/net/" + d); err == nil && !had[d] {
				t.Errorf("%s appeared in the machine's own network namespace during the test", d)
			}
		}
	})
	return lab
}

// labServers describes one server per host of lab, under dir.
func labServers(lab *netlab.Lab, dir string) []*proccluster.Proc {
	var addrs []string
	var wraps [][]string
	for _, h := range lab.Hosts {
		addrs, wraps = append(addrs, h.Addr), append(wraps, h.Wrap())
	}
	return proccluster.ServersOn(shoalBin, dir, addrs, wraps, labPorts)
}

// runProcs starts procs and stops them (kill -9, by PID) when the test
// ends, printing their logs if it failed.
func runProcs(t *testing.T, procs []*proccluster.Proc) {
	t.Helper()
	t.Cleanup(func() {
		for _, p := range procs {
			p.Kill9()
			if t.Failed() {
				t.Logf("---- %s log ----\n%s", p.Name, p.Log())
			}
		}
	})
	for _, p := range procs {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
	}
}
