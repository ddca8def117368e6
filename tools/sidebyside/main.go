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
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type workload struct {
	name string
	// latency workloads report p50/p99 wake-up latency, not throughput.
	latency bool
	// kvOnly workloads run on every target, the -floor one too (floor.go,
	// their ceiling on this machine); the others skip etcd and the floor.
	kvOnly bool
	// run returns early, with an error, when ctx is done.
	run func(context.Context, *target, opts) (result, error)
}

// mostWatchers is the largest watch workload: the HTTP clients keep that
// many idle connections, so that no watcher's connection is closed when
// its answer arrives (a real watcher keeps its connection for its next
// query, and closing hundreds at once would load the wake being timed).
const mostWatchers = 1000

func workloads() []workload {
	return []workload{
		{"put", false, true, runPut},
		{"get", false, true, runGet(readDefault)},
		{"get-stale", false, true, runGet(readStale)},
		{"get-consistent", false, true, runGet(readConsistent)},
		{"mixed", false, true, runMixed},
		{"watch-100", true, true, runWatch(100)},
		{"watch-1000", true, true, runWatch(mostWatchers)},
		{"catalog-register", false, false, runCatalogRegister},
		{"agent-register", false, false, runAgentRegister},
		{"dns", false, false, runDNS},
	}
}

func main() {
	// A signal cancels ctx: the run stops its servers, removes its
	// temporary directory and returns.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("interrupted, servers stopped: %w", err)
	}
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case errors.Is(err, errUsage):
		fmt.Fprintf(os.Stderr, "sidebyside: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "sidebyside: %v\n", err)
		os.Exit(1)
	}
}

// errUsage marks bad flags (exit code 2).
var errUsage = errors.New("usage")

// run is the whole tool. Every server it starts is stopped, by PID,
// before it returns, whatever the way out: the end of the rounds, an
// error, or ctx done (a signal), which also stops the servers at once.
// The data directory is removed unless it was given with -dir.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("sidebyside", flag.ContinueOnError)
	fs.SetOutput(stderr)
	shoal := fs.String("shoal", "", "Path to the `shoal` binary (required).")
	before := fs.String("shoal-before", "", "Optional second shoal `binary` (an older build), measured as target \"shoal-before\".")
	consul := fs.String("consul", "", "Path to a `consul` binary; empty skips Consul.")
	etcd := fs.String("etcd", "", "Path to an `etcd` binary; empty skips etcd.")
	rounds := fs.Int("rounds", 3, "Rounds; the table reports medians over them.")
	var variants variantFlag
	fs.Var(&variants, "variant", "A further shoal target, `name=binary` (repeatable, up to 20): a build or a wrapper script, "+
		"measured in the same rounds as the others.")
	only := fs.String("workloads", "", "Comma-separated workloads to run (default all): "+names())
	var o opts
	fs.IntVar(&o.clients, "clients", 32, "Concurrent clients for throughput workloads.")
	fs.IntVar(&o.size, "size", 256, "Value size in `bytes`.")
	fs.IntVar(&o.keys, "keys", 1000, "Distinct keys.")
	fs.DurationVar(&o.duration, "duration", 8*time.Second, "Measuring time of each throughput run.")
	fs.DurationVar(&o.settle, "settle", 3*time.Second, "Time given to watchers to park before the write.")
	maxConns := fs.Int("max-conns-per-client", 4096, "limits.http_max_conns_per_client for Shoal and Consul "+
		"(both default to 200; the watch workloads open up to 1,000 connections from 127.0.0.1).")
	pprof := fs.Bool("enable-debug", false, "Start Shoal and Consul with enable_debug (/debug/pprof).")
	filter := fs.String("telemetry-filter", "", "Comma-separated telemetry.prefix_filter `rules` (\"-consul.raft,-consul.api.http\") "+
		"for Shoal and Consul alike; Shoal builds before the telemetry block (199f42d) ignore it.")
	dir := fs.String("dir", "", "Directory for data and logs (default: a new temporary one, removed at the end).")
	floor := fs.Bool("floor", false, "Add target \"floor\" to the KV workloads: three processes of this program answering "+
		"Consul's KV API with a minimal replicated log (group commit, fsync on a majority, no Raft) and prebuilt answers in memory: "+
		"the ceiling of each KV workload on this machine.")
	serveFloorAddr := fs.String("serve-floor", "", "Internal: serve one floor server on this `address` (see -floor).")
	floorRepl := fs.String("floor-repl", "", "Internal: with -serve-floor, lead the floor and take its followers on this address.")
	floorLeader := fs.String("floor-leader", "", "Internal: with -serve-floor, follow the floor leader at this address.")
	floorDir := fs.String("floor-dir", "", "Internal: with -serve-floor, the directory of its log file.")
	var sup supervisor
	fs.DurationVar(&sup.grace, "stop-grace", defaultGrace, "Time a server has to exit after SIGTERM before SIGKILL.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if *serveFloorAddr != "" {
		if *floorDir == "" || (*floorRepl == "") == (*floorLeader == "") {
			return fmt.Errorf("%w: -serve-floor needs -floor-dir and one of -floor-repl, -floor-leader", errUsage)
		}
		return serveFloor(ctx, *serveFloorAddr, *floorRepl, *floorLeader, *floorDir)
	}
	if *shoal == "" {
		return fmt.Errorf("%w: -shoal is required", errUsage)
	}
	var ws []workload
	for _, w := range workloads() {
		if *only == "" || slices.Contains(strings.Split(*only, ","), w.name) {
			ws = append(ws, w)
		}
	}
	if len(ws) == 0 {
		return fmt.Errorf("%w: no workload matches -workloads %q (have %s)", errUsage, *only, names())
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "sidebyside-")
		if err != nil {
			return err
		}
		// Deferred first, so run after the servers are gone.
		defer os.RemoveAll(d)
		*dir = d
	} else {
		defer func() {
			if err != nil {
				err = fmt.Errorf("%w (logs in %s)", err, *dir)
			}
		}()
	}
	var targets []*target
	defer func() {
		for _, t := range targets {
			if t.kv != nil {
				t.kv.close()
			}
		}
		sup.stopAll()
	}()
	// A signal stops the servers at once: any request in flight fails
	// and the run returns.
	defer context.AfterFunc(ctx, sup.stopAll)()

	hcl := fmt.Sprintf("limits { http_max_conns_per_client = %d }\nenable_debug = %t\n", *maxConns, *pprof)
	if *filter != "" {
		rules, err := filterRules(*filter)
		if err != nil {
			return fmt.Errorf("%w: -telemetry-filter: %w", errUsage, err)
		}
		hcl += "telemetry { prefix_filter = " + rules + " }\n"
	}
	add := func(name, bin string, ipBase int, shoalFlags bool) error {
		d, err := mkdir(*dir, name)
		if err != nil {
			return err
		}
		c, err := consulLike(ctx, &sup, name, bin, d, ipBase, hcl, shoalFlags)
		if err != nil {
			return err
		}
		t := &target{name: name, c: c}
		targets = append(targets, t)
		kv, err := newConsulKV(c.http, o.clients)
		if err != nil {
			return err
		}
		t.kv, t.api = kv, kv.clients
		return nil
	}
	if err := add("shoal", *shoal, 151, true); err != nil {
		return err
	}
	if *before != "" {
		if err := add("shoal-before", *before, 154, true); err != nil {
			return err
		}
	}
	for i, v := range variants {
		if err := add(v.name, v.bin, 191+3*i, true); err != nil {
			return err
		}
	}
	if *consul != "" {
		if err := add("consul", *consul, 161, false); err != nil {
			return err
		}
	}
	if *etcd != "" {
		d, err := mkdir(*dir, "etcd")
		if err != nil {
			return err
		}
		c, err := etcdCluster(ctx, &sup, *etcd, d, 171)
		if err != nil {
			return err
		}
		t := &target{name: "etcd", c: c}
		targets = append(targets, t)
		if t.kv, err = newEtcdKV(c.http); err != nil {
			return err
		}
	}
	if *floor {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		d, err := mkdir(*dir, "floor")
		if err != nil {
			return err
		}
		c, err := floorCluster(ctx, &sup, self, d, 181)
		if err != nil {
			return err
		}
		t := &target{name: "floor", c: c, floor: true}
		targets = append(targets, t)
		if t.kv, err = newConsulKV(c.http, o.clients); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "sidebyside: %d rounds, %d clients, %d-byte values, %d keys, %v per run; targets:", *rounds, o.clients, o.size, o.keys, o.duration)
	for _, t := range targets {
		fmt.Fprintf(stdout, " %s", t.name)
	}
	fmt.Fprintln(stdout)

	res := map[string]map[string][]result{} // workload → target → rounds
	for r := range *rounds {
		for _, w := range ws {
			order := slices.Clone(targets)
			// Rotate so that no target always runs first.
			k := (r + slices.IndexFunc(ws, func(x workload) bool { return x.name == w.name })) % len(order)
			order = append(order[k:], order[:k]...)
			for _, t := range order {
				if (!w.kvOnly && t.api == nil) || (t.floor && !w.kvOnly) {
					continue
				}
				out, err := w.run(ctx, t, o)
				if ctx.Err() != nil {
					return fmt.Errorf("round %d %s %s: interrupted: %w", r+1, w.name, t.name, context.Cause(ctx))
				}
				if err != nil {
					fmt.Fprintf(stderr, "round %d %s %s: %v\n", r+1, w.name, t.name, err)
					continue
				}
				if res[w.name] == nil {
					res[w.name] = map[string][]result{}
				}
				res[w.name][t.name] = append(res[w.name][t.name], out)
				fmt.Fprintf(stderr, "round %d %-16s %-12s %s\n", r+1, w.name, t.name, describe(w, out))
			}
		}
	}
	printTable(stdout, ws, targets, res)
	return nil
}

func names() string {
	var n []string
	for _, w := range workloads() {
		n = append(n, w.name)
	}
	return strings.Join(n, ",")
}

func mkdir(parent, name string) (string, error) {
	d := filepath.Join(parent, name)
	return d, os.MkdirAll(d, 0o755)
}

func describe(w workload, r result) string {
	if w.latency {
		return fmt.Sprintf("p50 %v p99 %v", r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
	}
	s := fmt.Sprintf("%.0f ops/s p50 %v p99 %v", r.opsPerSec, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
	if r.cpuPerOp > 0 {
		s += fmt.Sprintf(" cpu/op %v client %v", r.cpuPerOp.Round(time.Microsecond), r.clientCPUPerOp.Round(time.Microsecond))
	}
	return s
}

// filterRules turns "-a.b,+c" into an HCL list of strings, checking that
// every rule is signed (both products would otherwise treat it differently:
// Shoal refuses it, Consul drops it).
func filterRules(list string) (string, error) {
	var quoted []string
	for _, r := range strings.Split(list, ",") {
		r = strings.TrimSpace(r)
		if len(r) < 2 || (r[0] != '+' && r[0] != '-') || strings.ContainsAny(r, "\"\\") {
			return "", fmt.Errorf("rule %q: want + or - and a metric name prefix", r)
		}
		quoted = append(quoted, strconv.Quote(r))
	}
	return "[" + strings.Join(quoted, ", ") + "]", nil
}

// variant is one -variant flag: a further shoal target.
type variant struct{ name, bin string }

// variantFlag collects -variant name=binary flags.
type variantFlag []variant

func (f *variantFlag) String() string { return fmt.Sprint(*f) }

func (f *variantFlag) Set(s string) error {
	name, bin, ok := strings.Cut(s, "=")
	reserved := []string{"shoal", "shoal-before", "consul", "etcd", "floor"}
	switch {
	case !ok || name == "" || bin == "":
		return fmt.Errorf("want name=binary, got %q", s)
	case strings.ContainsFunc(name, func(r rune) bool {
		return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '-' || r == '_')
	}):
		return fmt.Errorf("target name %q: use letters, digits, - and _ (it names the target's directory)", name)
	case slices.Contains(reserved, name) || slices.ContainsFunc(*f, func(v variant) bool { return v.name == name }):
		return fmt.Errorf("target name %q is taken", name)
	case len(*f) == 20:
		return errors.New("at most 20 variants")
	}
	*f = append(*f, variant{name, bin})
	return nil
}
