// Command regbench measures service registration throughput against a
// Shoal (or Consul) agent's HTTP API, and the convergence and CPU cost of
// many agent services with checks.
//
// Modes:
//
//	-mode=catalog   PUT /v1/catalog/register, one service per request
//	-mode=agent     PUT /v1/agent/service/register, one service per request;
//	                the run ends when the catalog holds every service
//	-mode=sync      register -n services, each with a TTL or HTTP check, on
//	                the agent; report the time until the catalog holds them
//	                all passing, then the agent's CPU use over -duration
//	                (needs -pid of the agent process)
//
// Example:
//
//	go run ./tools/regbench -addr 127.0.0.1:8500 -mode catalog -clients 32 -n 20000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8500", "HTTP address of the agent")
	mode := flag.String("mode", "catalog", "catalog, agent or sync")
	clients := flag.Int("clients", 32, "concurrent clients")
	n := flag.Int("n", 10000, "registrations (services in sync mode)")
	prefix := flag.String("prefix", "bench", "service name prefix")
	check := flag.String("check", "ttl", "sync mode: ttl or http (an HTTP check of the agent's /v1/status/leader every -interval)")
	interval := flag.Duration("interval", 10*time.Second, "sync mode: HTTP check interval")
	pid := flag.Int("pid", 0, "sync mode: agent process ID, for CPU use")
	duration := flag.Duration("duration", 60*time.Second, "sync mode: how long to measure steady-state CPU")
	flag.Parse()

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *clients * 2, MaxConnsPerHost: *clients * 2}}
	b := &bench{addr: "http://" + *addr, hc: hc, prefix: *prefix}
	var err error
	switch *mode {
	case "catalog", "agent":
		err = b.throughput(*mode, *clients, *n)
	case "sync":
		err = b.sync(*clients, *n, *check, *interval, *pid, *duration)
	default:
		err = fmt.Errorf("unknown -mode %q", *mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "regbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	addr   string
	hc     *http.Client
	prefix string
}

func (b *bench) put(path string, body any) error {
	buf, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPut, b.addr+path, bytes.NewReader(buf))
	resp, err := b.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %d %s", path, resp.StatusCode, msg)
	}
	return nil
}

func (b *bench) get(path string, out any) (http.Header, error) {
	resp, err := b.hc.Get(b.addr + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		msg, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("%s: %d %s", path, resp.StatusCode, msg)
	}
	return resp.Header, json.NewDecoder(resp.Body).Decode(out)
}

// run calls fn(i) for i in [0, n) from the given number of workers and
// returns the per-call latencies.
func run(workers, n int, fn func(i int) error) ([]time.Duration, time.Duration, error) {
	var next atomic.Int64
	lat := make([]time.Duration, n)
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t := time.Now()
				if err := fn(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}

func report(what string, n int, elapsed time.Duration, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	fmt.Printf("%s: %d in %v = %.0f/s  (latency p50 %v, p99 %v, max %v)\n", what, n, elapsed.Round(time.Millisecond),
		float64(n)/elapsed.Seconds(), pct(0.5).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
		lat[len(lat)-1].Round(10*time.Microsecond))
}

func (b *bench) throughput(mode string, clients, n int) error {
	stamp := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	name := func(i int) string { return fmt.Sprintf("%s-%s-%d", b.prefix, stamp, i%100) }
	id := func(i int) string { return fmt.Sprintf("%s-%s-%d", b.prefix, stamp, i) }
	var fn func(i int) error
	if mode == "catalog" {
		fn = func(i int) error {
			node := fmt.Sprintf("%s-node-%d", b.prefix, i%clients)
			return b.put("/v1/catalog/register", map[string]any{
				"Node": node, "Address": "192.0.2.1",
				"Service": map[string]any{"ID": id(i), "Service": name(i), "Port": 8000 + i%1000, "Tags": []string{"bench"}},
			})
		}
	} else {
		fn = func(i int) error {
			return b.put("/v1/agent/service/register", map[string]any{
				"ID": id(i), "Name": name(i), "Port": 8000 + i%1000, "Tags": []string{"bench"},
			})
		}
	}
	lat, elapsed, err := run(clients, n, fn)
	if err != nil {
		return err
	}
	report(mode+" API registrations, "+strconv.Itoa(clients)+" clients", n, elapsed, lat)
	if mode == "agent" {
		// The agent answers before anti-entropy pushes to the catalog:
		// include the time until the catalog holds every service.
		start := time.Now()
		prefix := fmt.Sprintf("%s-%s-", b.prefix, stamp)
		for {
			var svcs map[string][]string
			if _, err := b.get("/v1/catalog/services", &svcs); err != nil {
				return err
			}
			got := 0
			for name := range svcs {
				if strings.HasPrefix(name, prefix) {
					got++
				}
			}
			if got >= min(100, n) && b.countInstances(prefix, n) >= n {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		total := elapsed + time.Since(start)
		fmt.Printf("agent API: all %d in the catalog after %v = %.0f/s end to end\n", n, total.Round(time.Millisecond), float64(n)/total.Seconds())
	}
	return nil
}

// countInstances counts the catalog instances of the bench's services.
func (b *bench) countInstances(prefix string, n int) int {
	total := 0
	for i := 0; i < min(100, n); i++ {
		var out []json.RawMessage
		if _, err := b.get("/v1/catalog/service/"+prefix+strconv.Itoa(i), &out); err != nil {
			return 0
		}
		total += len(out)
	}
	return total
}

func (b *bench) sync(clients, n int, check string, interval time.Duration, pid int, duration time.Duration) error {
	var self struct{ Config struct{ NodeName string } }
	if _, err := b.get("/v1/agent/self", &self); err != nil {
		return err
	}
	name := b.prefix + "-sync"
	fn := func(i int) error {
		chk := map[string]any{"TTL": "1h", "Status": "passing"}
		if check == "http" {
			chk = map[string]any{"HTTP": b.addr + "/v1/status/leader", "Interval": interval.String(), "Timeout": "5s"}
		}
		return b.put("/v1/agent/service/register", map[string]any{
			"ID": fmt.Sprintf("%s-%d", name, i), "Name": name, "Port": 10000 + i%50000, "Check": chk,
		})
	}
	lat, elapsed, err := run(clients, n, fn)
	if err != nil {
		return err
	}
	report("agent registrations with "+check+" checks", n, elapsed, lat)
	start := time.Now()
	for {
		var out []json.RawMessage
		if _, err := b.get("/v1/health/service/"+name+"?passing", &out); err != nil {
			return err
		}
		if len(out) >= n {
			break
		}
		if time.Since(start) > 5*time.Minute {
			return fmt.Errorf("only %d of %d passing after 5m", len(out), n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Printf("all %d services passing in the catalog %v after the last registration (%v after the first)\n",
		n, time.Since(start).Round(time.Millisecond), (elapsed + time.Since(start)).Round(time.Millisecond))
	if pid == 0 {
		return nil
	}
	var hdr http.Header
	var out []json.RawMessage
	if hdr, err = b.get("/v1/health/service/"+name, &out); err != nil {
		return err
	}
	idx0 := hdr.Get("X-Consul-Index")
	c0, err := cpuTicks(pid)
	if err != nil {
		return err
	}
	time.Sleep(duration)
	c1, _ := cpuTicks(pid)
	if hdr, err = b.get("/v1/health/service/"+name+"?passing", &out); err != nil {
		return err
	}
	const hz = 100 // USER_HZ on Linux
	cpu := float64(c1-c0) / hz / duration.Seconds() * 100
	fmt.Printf("steady state over %v: agent CPU %.1f%% of one core; %d/%d passing; catalog index %s -> %s\n",
		duration, cpu, len(out), n, idx0, hdr.Get("X-Consul-Index"))
	return nil
}

// cpuTicks is utime+stime of a process, in clock ticks.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return u + st, nil
}
