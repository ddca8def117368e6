package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/miekg/dns"
)

// result is one workload's run against one target.
type result struct {
	opsPerSec float64
	p50, p99  time.Duration
	// cpuPerOp is the servers' CPU time (user + system, from
	// /proc/<pid>/stat) per operation; 0 when not measured.
	cpuPerOp time.Duration
	// clientCPUPerOp is this process's CPU time (user + system, from
	// getrusage: the clients, their GC and the tool's own bookkeeping) per
	// operation; 0 when not measured. The servers and the clients share
	// the machine's cores, so on a CPU-bound machine the rate is at most
	// cores / (cpuPerOp + clientCPUPerOp).
	clientCPUPerOp time.Duration
	errors         int64
}

// target is one running cluster and its clients.
type target struct {
	name string
	c    *cluster
	kv   kvDriver
	// api is set for Shoal and Consul (catalog, agent and DNS workloads).
	api []*api.Client

	preloaded bool
	// floor is the -floor target: it answers the watch workloads only.
	floor bool
}

type opts struct {
	clients  int
	size     int
	keys     int
	duration time.Duration
	settle   time.Duration
}

// load runs op from o.clients concurrent clients for o.duration.
func load(ctx context.Context, t *target, o opts, op func(ctx context.Context, rng *rand.Rand) error) (result, error) {
	before, err := cpuTicks(t.c.pids())
	if err != nil {
		return result{}, err
	}
	clientBefore, err := selfCPU()
	if err != nil {
		return result{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	lat := make([][]time.Duration, o.clients)
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx := context.WithValue(ctx, clientKey{}, w)
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			for ctx.Err() == nil {
				t0 := time.Now()
				if err := op(cctx, rng); err != nil {
					if ctx.Err() == nil && errs.Add(1) == 1 {
						firstErr.Store(err)
					}
					continue
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	after, err := cpuTicks(t.c.pids())
	if err != nil {
		return result{}, err
	}
	clientAfter, err := selfCPU()
	if err != nil {
		return result{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := result{opsPerSec: float64(len(all)) / elapsed.Seconds(), p50: pct(all, 0.5), p99: pct(all, 0.99), errors: errs.Load()}
	if len(all) > 0 {
		r.cpuPerOp = time.Duration(after-before) * 10 * time.Millisecond / time.Duration(len(all))
		r.clientCPUPerOp = (clientAfter - clientBefore) / time.Duration(len(all))
	}
	if e, _ := firstErr.Load().(error); e != nil && r.errors > int64(len(all)/100) {
		return r, fmt.Errorf("%d errors (first: %w)", r.errors, e)
	}
	return r, nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func key(i int) string { return "sidebyside/k" + strconv.Itoa(i) }

// preload writes every key once, then reads each from every server with
// stale reads until it is there.
func preload(ctx context.Context, t *target, o opts) error {
	if t.preloaded {
		return nil
	}
	val := bytes.Repeat([]byte("x"), o.size)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for i := range o.keys {
		if err := t.kv.put(context.WithValue(ctx, clientKey{}, i), key(i), val); err != nil {
			return fmt.Errorf("preload: %w", err)
		}
	}
	for s := range len(t.c.http) {
		sctx := context.WithValue(ctx, clientKey{}, s)
		for i := range o.keys {
			for t.kv.get(sctx, key(i), readStale) != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("preload: %s never replicated", key(i))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	t.preloaded = true
	return nil
}

func runPut(ctx context.Context, t *target, o opts) (result, error) {
	val := bytes.Repeat([]byte("x"), o.size)
	return load(ctx, t, o, func(ctx context.Context, rng *rand.Rand) error {
		return t.kv.put(ctx, key(rng.IntN(o.keys)), val)
	})
}

func runGet(mode readMode) func(context.Context, *target, opts) (result, error) {
	return func(ctx context.Context, t *target, o opts) (result, error) {
		if err := preload(ctx, t, o); err != nil {
			return result{}, err
		}
		return load(ctx, t, o, func(ctx context.Context, rng *rand.Rand) error {
			return t.kv.get(ctx, key(rng.IntN(o.keys)), mode)
		})
	}
}

func runMixed(ctx context.Context, t *target, o opts) (result, error) {
	if err := preload(ctx, t, o); err != nil {
		return result{}, err
	}
	val := bytes.Repeat([]byte("x"), o.size)
	return load(ctx, t, o, func(ctx context.Context, rng *rand.Rand) error {
		if rng.IntN(2) == 0 {
			return t.kv.get(ctx, key(rng.IntN(o.keys)), readDefault)
		}
		return t.kv.put(ctx, key(rng.IntN(o.keys)), val)
	})
}

// runWatch parks n watchers on one key, spread over the servers, writes
// the key once and reports how long after the write's start each woke.
func runWatch(n int) func(context.Context, *target, opts) (result, error) {
	return func(ctx context.Context, t *target, o opts) (result, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		k := "sidebyside/watched" + strconv.Itoa(n)
		if err := t.kv.put(ctx, k, []byte("0")); err != nil {
			return result{}, err
		}
		idx, err := t.kv.index(ctx, k)
		if err != nil {
			return result{}, err
		}
		var writeAt atomic.Int64
		woke := make([]time.Duration, n)
		var failed atomic.Int64
		var firstErr atomic.Value
		var wg, parked sync.WaitGroup
		for i := range n {
			wg.Add(1)
			parked.Add(1)
			go func() {
				defer wg.Done()
				wait, err := t.kv.watch(context.WithValue(ctx, clientKey{}, i), k, idx)
				parked.Done()
				if err == nil {
					err = wait()
				}
				at := writeAt.Load()
				switch {
				case err != nil:
				case at == 0:
					err = fmt.Errorf("watcher woke before the write")
				default:
					woke[i] = time.Since(time.Unix(0, at))
					return
				}
				if failed.Add(1) == 1 {
					firstErr.Store(err)
				}
			}()
		}
		parked.Wait()
		time.Sleep(o.settle) // blocking queries give no sign that they are parked
		writeAt.Store(time.Now().UnixNano())
		if err := t.kv.put(ctx, k, []byte("1")); err != nil {
			return result{}, err
		}
		wg.Wait()
		var all []time.Duration
		for _, d := range woke {
			if d > 0 {
				all = append(all, d)
			}
		}
		slices.Sort(all)
		r := result{p50: pct(all, 0.5), p99: pct(all, 0.99), errors: failed.Load()}
		if e, _ := firstErr.Load().(error); e != nil {
			return r, fmt.Errorf("%d of %d watchers failed (first: %w)", r.errors, n, e)
		}
		return r, nil
	}
}

var regSeq atomic.Int64

// runCatalogRegister registers one service instance per request through
// /v1/catalog/register, on every server in turn.
func runCatalogRegister(ctx context.Context, t *target, o opts) (result, error) {
	return load(ctx, t, o, func(ctx context.Context, rng *rand.Rand) error {
		n, _ := ctx.Value(clientKey{}).(int)
		s := regSeq.Add(1)
		_, err := t.api[n%len(t.api)].Catalog().Register(&api.CatalogRegistration{
			Node: fmt.Sprintf("sbs-node-%d", s%200), Address: "10.1.0.1",
			Service: &api.AgentService{ID: fmt.Sprintf("cat-%d", s), Service: fmt.Sprintf("cat%d", s%50), Port: 80},
		}, (&api.WriteOptions{}).WithContext(ctx))
		return err
	})
}

// runAgentRegister registers one service per request through the servers'
// own agents (/v1/agent/service/register).
func runAgentRegister(ctx context.Context, t *target, o opts) (result, error) {
	return load(ctx, t, o, func(ctx context.Context, rng *rand.Rand) error {
		n, _ := ctx.Value(clientKey{}).(int)
		s := regSeq.Add(1)
		return t.api[n%len(t.api)].Agent().ServiceRegisterOpts(&api.AgentServiceRegistration{
			ID: fmt.Sprintf("ag-%d", s), Name: fmt.Sprintf("ag%d", s%50), Port: 80,
		}, api.ServiceRegisterOpts{}.WithContext(ctx))
	})
}

// runDNS sends A queries for a service with three instances, each client
// on its own UDP socket to one server's DNS port.
func runDNS(ctx context.Context, t *target, o opts) (result, error) {
	// setup bounds the registrations and the wait for the answers.
	setup, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i := range 3 {
		_, err := t.api[0].Catalog().Register(&api.CatalogRegistration{
			Node: fmt.Sprintf("sbs-dns-%d", i), Address: fmt.Sprintf("10.2.0.%d", i+1),
			Service: &api.AgentService{ID: "web", Service: "web", Port: 80},
		}, (&api.WriteOptions{}).WithContext(setup))
		if err != nil {
			return result{}, err
		}
	}
	q := new(dns.Msg)
	q.SetQuestion("web.service.consul.", dns.TypeA)
	// Wait until every server answers all three (stale catalog reads).
	for _, addr := range t.c.dns {
		for {
			r, err := dns.Exchange(q, addr)
			if err == nil && len(r.Answer) == 3 {
				break
			}
			if setup.Err() != nil {
				return result{}, fmt.Errorf("dns %s: no 3 answers: %v", addr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	conns := make([]*dns.Conn, o.clients)
	var mu sync.Mutex
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	return load(ctx, t, o, func(ctx context.Context, rng *rand.Rand) error {
		n, _ := ctx.Value(clientKey{}).(int)
		mu.Lock()
		c := conns[n]
		if c == nil {
			raw, err := net.Dial("udp", t.c.dns[n%len(t.c.dns)])
			if err != nil {
				mu.Unlock()
				return err
			}
			c = &dns.Conn{Conn: raw}
			conns[n] = c
		}
		mu.Unlock()
		m := q.Copy()
		m.Id = dns.Id()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		err := c.WriteMsg(m)
		var r *dns.Msg
		if err == nil {
			r, err = c.ReadMsg()
		}
		if err != nil {
			// A late answer would arrive on this socket: start afresh.
			mu.Lock()
			c.Close()
			conns[n] = nil
			mu.Unlock()
			return err
		}
		if r.Id != m.Id || len(r.Answer) != 3 {
			return fmt.Errorf("dns: id %d/%d, %d answers", r.Id, m.Id, len(r.Answer))
		}
		return nil
	})
}
