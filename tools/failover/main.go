// Command failover measures how long a Shoal cluster takes to recover from
// a kill -9 of its leader: it starts three servers from the shoal binary on
// 127.0.0.1, 127.0.0.2 and 127.0.0.3 with default settings, kills the
// leader, and times until the survivors agree on a new leader and until a
// write through a survivor succeeds. It repeats that -n times and prints
// each trial and the medians.
//
//	go build -o /tmp/shoal . && go run ./tools/failover -bin /tmp/shoal -n 5
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/shoalproject/shoal/internal/proccluster"
)

func main() {
	bin := flag.String("bin", "", "path to the shoal binary (required)")
	n := flag.Int("n", 5, "number of trials")
	base := flag.Int("port-base", 18500, "ports used: base (HTTP), base+1 (Serf), base+2 (RPC) on each address")
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "failover: -bin is required")
		os.Exit(2)
	}
	var elect, write []time.Duration
	for i := 1; i <= *n; i++ {
		e, w, err := trial(*bin, proccluster.Ports{HTTP: *base, Serf: *base + 1, Server: *base + 2})
		if err != nil {
			fmt.Fprintf(os.Stderr, "trial %d: %v\n", i, err)
			os.Exit(1)
		}
		fmt.Printf("trial %d: new leader after %v, first write after %v\n", i, e.Round(time.Millisecond), w.Round(time.Millisecond))
		elect, write = append(elect, e), append(write, w)
	}
	fmt.Printf("median over %d trials: new leader %v, first write %v\n", *n,
		median(elect).Round(time.Millisecond), median(write).Round(time.Millisecond))
}

func trial(bin string, ports proccluster.Ports) (elect, write time.Duration, err error) {
	dir, err := os.MkdirTemp("", "shoal-failover-")
	if err != nil {
		return 0, 0, err
	}
	defer os.RemoveAll(dir)
	procs := proccluster.Servers(bin, dir, 3, ports)
	defer func() {
		for _, p := range procs {
			p.Kill9()
		}
	}()
	for _, p := range procs {
		if err := p.Start(); err != nil {
			return 0, 0, err
		}
	}
	leader, err := waitFor(30*time.Second, func() (*proccluster.Proc, error) { return proccluster.FindLeader(procs, ports.Server) })
	if err != nil {
		return 0, 0, fmt.Errorf("no initial leader: %w", err)
	}
	// Let the cluster settle (all voters added, catalog reconciled).
	time.Sleep(2 * time.Second)
	var survivor *proccluster.Proc
	for _, p := range procs {
		if p != leader {
			survivor = p
			break
		}
	}
	start := time.Now()
	leader.Kill9()
	if _, err := waitFor(60*time.Second, func() (*proccluster.Proc, error) {
		return proccluster.FindLeader(procs, ports.Server)
	}); err != nil {
		return 0, 0, fmt.Errorf("no new leader: %w", err)
	}
	elect = time.Since(start)
	if _, err := waitFor(60*time.Second, func() (*proccluster.Proc, error) {
		code, body, err := survivor.Put("/v1/kv/failover", "x")
		if err != nil || code != 200 || strings.TrimSpace(body) != "true" {
			return nil, fmt.Errorf("put: %d %q %v", code, body, err)
		}
		return survivor, nil
	}); err != nil {
		return 0, 0, err
	}
	return elect, time.Since(start), nil
}

func waitFor(timeout time.Duration, fn func() (*proccluster.Proc, error)) (*proccluster.Proc, error) {
	var p *proccluster.Proc
	err := proccluster.Poll(timeout, 20*time.Millisecond, func() (err error) {
		p, err = fn()
		return err
	})
	return p, err
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
