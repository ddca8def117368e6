// Command sidebyside measures Shoal against Consul and etcd in one run.
//
// It starts a three-server cluster of each product it is given a binary
// for, on loopback (each server on its own 127.0.0.x address, free ports),
// and runs the same workloads against each, alternating targets within
// every round (the order rotates from round to round), so that the
// machine's background load falls on all of them alike. It then prints one
// table of per-target medians over the rounds and Shoal's ratios to the
// others.
//
//	go build -o /tmp/sbs/shoal ../.. && go build -o /tmp/sbs/sidebyside .
//	/tmp/sbs/sidebyside -shoal /tmp/sbs/shoal -consul ~/consul -etcd /usr/bin/etcd -rounds 3
//
// KV workloads use each product's official Go client: Consul's
// (github.com/hashicorp/consul/api) for Shoal and Consul, etcd's
// (go.etcd.io/etcd/client/v3) for etcd. Catalog, agent and DNS workloads
// run against Shoal and Consul only.
//
// This tool is its own Go module so that etcd's client (gRPC and its
// dependencies) stays out of Shoal's go.mod.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

type workload struct {
	name string
	// latency workloads report p50/p99 wake-up latency, not throughput.
	latency bool
	// kvOnly workloads run on every target; the others skip etcd.
	kvOnly bool
	run    func(*target, opts) (result, error)
}

func workloads() []workload {
	return []workload{
		{"put", false, true, runPut},
		{"get", false, true, runGet(readDefault)},
		{"get-stale", false, true, runGet(readStale)},
		{"get-consistent", false, true, runGet(readConsistent)},
		{"mixed", false, true, runMixed},
		{"watch-100", true, true, runWatch(100)},
		{"watch-1000", true, true, runWatch(1000)},
		{"catalog-register", false, false, runCatalogRegister},
		{"agent-register", false, false, runAgentRegister},
		{"dns", false, false, runDNS},
	}
}

func main() {
	shoal := flag.String("shoal", "", "Path to the `shoal` binary (required).")
	before := flag.String("shoal-before", "", "Optional second shoal `binary` (an older build), measured as target \"shoal-before\".")
	consul := flag.String("consul", "", "Path to a `consul` binary; empty skips Consul.")
	etcd := flag.String("etcd", "", "Path to an `etcd` binary; empty skips etcd.")
	rounds := flag.Int("rounds", 3, "Rounds; the table reports medians over them.")
	only := flag.String("workloads", "", "Comma-separated workloads to run (default all): "+names())
	var o opts
	flag.IntVar(&o.clients, "clients", 32, "Concurrent clients for throughput workloads.")
	flag.IntVar(&o.size, "size", 256, "Value size in `bytes`.")
	flag.IntVar(&o.keys, "keys", 1000, "Distinct keys.")
	flag.DurationVar(&o.duration, "duration", 8*time.Second, "Measuring time of each throughput run.")
	flag.DurationVar(&o.settle, "settle", 3*time.Second, "Time given to watchers to park before the write.")
	maxConns := flag.Int("max-conns-per-client", 4096, "limits.http_max_conns_per_client for Shoal and Consul "+
		"(both default to 200; the watch workloads open up to 1,000 connections from 127.0.0.1).")
	pprof := flag.Bool("enable-debug", false, "Start Shoal and Consul with enable_debug (/debug/pprof).")
	dir := flag.String("dir", "", "Directory for data and logs (default: a new temporary one, removed at the end).")
	flag.Parse()
	if *shoal == "" {
		fatalf("-shoal is required")
	}
	var ws []workload
	for _, w := range workloads() {
		if *only == "" || slices.Contains(strings.Split(*only, ","), w.name) {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		fatalf("no workload matches -workloads %q (have %s)", *only, names())
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "sidebyside-")
		if err != nil {
			fatalf("%v", err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	hcl := fmt.Sprintf("limits { http_max_conns_per_client = %d }\nenable_debug = %t\n", *maxConns, *pprof)
	ctx := context.Background()
	var targets []*target
	var tmu sync.Mutex // targets, against the signal handler
	defer func() {
		for _, t := range targets {
			if t.kv != nil {
				t.kv.close()
			}
			t.c.stop()
		}
	}()
	// An interrupted run still stops the servers it started.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		tmu.Lock()
		for _, t := range targets {
			t.c.stop()
		}
		os.Exit(1)
	}()
	add := func(name, bin string, ipBase int, shoalFlags bool) {
		d := mkdir(*dir, name)
		c, err := consulLike(ctx, name, bin, d, ipBase, hcl, shoalFlags)
		if err != nil {
			fatalf("%v", err)
		}
		t := &target{name: name, c: c}
		tmu.Lock()
		targets = append(targets, t)
		tmu.Unlock()
		if t.kv, err = newConsulKV(c.http, o.clients); err != nil {
			fatalf("%v", err)
		}
		t.api = t.kv.(*consulKV).clients
	}
	add("shoal", *shoal, 151, true)
	if *before != "" {
		add("shoal-before", *before, 154, true)
	}
	if *consul != "" {
		add("consul", *consul, 161, false)
	}
	if *etcd != "" {
		c, err := etcdCluster(ctx, *etcd, mkdir(*dir, "etcd"), 171)
		if err != nil {
			fatalf("%v", err)
		}
		t := &target{name: "etcd", c: c}
		tmu.Lock()
		targets = append(targets, t)
		tmu.Unlock()
		if t.kv, err = newEtcdKV(c.http); err != nil {
			fatalf("%v", err)
		}
	}
	fmt.Printf("sidebyside: %d rounds, %d clients, %d-byte values, %d keys, %v per run; targets:", *rounds, o.clients, o.size, o.keys, o.duration)
	for _, t := range targets {
		fmt.Printf(" %s", t.name)
	}
	fmt.Println()

	res := map[string]map[string][]result{} // workload → target → rounds
	for r := range *rounds {
		for _, w := range ws {
			order := slices.Clone(targets)
			// Rotate so that no target always runs first.
			k := (r + slices.IndexFunc(ws, func(x workload) bool { return x.name == w.name })) % len(order)
			order = append(order[k:], order[:k]...)
			for _, t := range order {
				if !w.kvOnly && t.api == nil {
					continue
				}
				out, err := w.run(t, o)
				if err != nil {
					fmt.Fprintf(os.Stderr, "round %d %s %s: %v\n", r+1, w.name, t.name, err)
					continue
				}
				if res[w.name] == nil {
					res[w.name] = map[string][]result{}
				}
				res[w.name][t.name] = append(res[w.name][t.name], out)
				fmt.Fprintf(os.Stderr, "round %d %-16s %-12s %s\n", r+1, w.name, t.name, describe(w, out))
			}
		}
	}
	printTable(os.Stdout, ws, targets, res)
}

func names() string {
	var n []string
	for _, w := range workloads() {
		n = append(n, w.name)
	}
	return strings.Join(n, ",")
}

func mkdir(parent, name string) string {
	d := parent + "/" + name
	if err := os.MkdirAll(d, 0o755); err != nil {
		fatalf("%v", err)
	}
	return d
}

func describe(w workload, r result) string {
	if w.latency {
		return fmt.Sprintf("p50 %v p99 %v", r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
	}
	s := fmt.Sprintf("%.0f ops/s p50 %v p99 %v", r.opsPerSec, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
	if r.cpuPerOp > 0 {
		s += fmt.Sprintf(" cpu/op %v", r.cpuPerOp.Round(time.Microsecond))
	}
	return s
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "sidebyside: "+format+"\n", args...)
	os.Exit(1)
}
