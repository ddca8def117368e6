// Command kvbench is a load generator for the KV HTTP API of Shoal (or of
// Consul: it speaks only the Consul-compatible API). Concurrent clients
// put, get or mix both against one or more agents for a duration, then it
// prints the throughput and the latency percentiles. With -op watch it
// measures fan-out instead: N blocked watchers on one key, one write, and
// how long each watcher takes to wake.
//
//	kvbench -addr 127.0.0.1:8500,127.0.0.2:8500 -clients 32 -op put -size 256 -duration 20s
//	kvbench -op get -stale
//	kvbench -op watch -watchers 1000
//
// Clients are spread over the addresses round-robin. Requests are raw
// HTTP/1.1 with keep-alive, so the generator's own CPU cost stays low.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type config struct {
	addrs      []string
	clients    int
	op         string
	size       int
	duration   time.Duration
	stale      bool
	consistent bool
	keys       int
	reads      float64
	watchers   int
	prefix     string
	verify     bool
	// scheme is "https" when -ca-file is set, else "http"; tlsConfig
	// then holds the CA and the optional client certificate.
	scheme    string
	tlsConfig *tls.Config
	token     string
}

func main() {
	var c config
	var addrs string
	flag.StringVar(&addrs, "addr", "127.0.0.1:8500", "Comma-separated `host:port` list of agents' HTTP APIs.")
	flag.IntVar(&c.clients, "clients", 32, "Concurrent clients.")
	flag.StringVar(&c.op, "op", "put", "Operation: put, get, mixed or watch.")
	flag.IntVar(&c.size, "size", 256, "Value size in `bytes`.")
	flag.DurationVar(&c.duration, "duration", 10*time.Second, "How long to run.")
	flag.BoolVar(&c.stale, "stale", false, "Reads use ?stale (any server answers).")
	flag.BoolVar(&c.consistent, "consistent", false, "Reads use ?consistent (leadership verified).")
	flag.IntVar(&c.keys, "keys", 1000, "Number of distinct keys.")
	flag.Float64Var(&c.reads, "reads", 0.5, "Fraction of reads with -op mixed.")
	flag.IntVar(&c.watchers, "watchers", 1000, "Blocked watchers with -op watch.")
	flag.StringVar(&c.prefix, "prefix", "kvbench/", "Key prefix.")
	flag.StringVar(&c.token, "token", os.Getenv("CONSUL_HTTP_TOKEN"),
		"ACL `token` sent as X-Consul-Token with every request. Default $CONSUL_HTTP_TOKEN.")
	flag.BoolVar(&c.verify, "verify", false,
		"With -op put: write a new key each time, fail over to the next -addr on errors, and at the end "+
			"check that every acknowledged write is readable (for kill -9 tests).")
	var caFile, certFile, keyFile string
	flag.StringVar(&caFile, "ca-file", "", "Use HTTPS, trusting the CA in this PEM `file`.")
	flag.StringVar(&certFile, "client-cert", "", "With -ca-file: present this client certificate `file`.")
	flag.StringVar(&keyFile, "client-key", "", "With -ca-file: the client certificate's key `file`.")
	flag.Parse()
	c.addrs = strings.Split(addrs, ",")
	c.scheme = "http"
	if caFile != "" {
		var err error
		if c.tlsConfig, err = loadTLS(caFile, certFile, keyFile); err != nil {
			fatalf("%v", err)
		}
		c.scheme = "https"
	}
	if c.stale && c.consistent {
		fatalf("-stale and -consistent are exclusive")
	}
	var err error
	switch c.op {
	case "put", "get", "mixed":
		err = runLoad(c)
	case "watch":
		err = runWatch(c)
	default:
		err = fmt.Errorf("unknown -op %q", c.op)
	}
	if err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kvbench: "+format+"\n", args...)
	os.Exit(1)
}

// tokenTransport sets X-Consul-Token on every request.
type tokenTransport struct {
	token string
	next  http.RoundTripper
}

func (t tokenTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Consul-Token", t.token)
	return t.next.RoundTrip(r)
}

// loadTLS builds the HTTPS client configuration.
func loadTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", caFile)
	}
	tc := &tls.Config{RootCAs: pool}
	if certFile != "" {
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// newHTTPClient returns a keep-alive client for conns connections over
// tc (nil: plain HTTP) that sends token (if any) with every request.
func newHTTPClient(conns int, tc *tls.Config, token string) *http.Client {
	hc := newTransportClient(conns, tc)
	if token != "" {
		hc.Transport = tokenTransport{token: token, next: hc.Transport}
	}
	return hc
}

func newTransportClient(conns int, tc *tls.Config) *http.Client {
	return &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     tc,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns * 4,
		MaxIdleConnsPerHost: conns * 2,
		MaxConnsPerHost:     0,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}, Timeout: 15 * time.Minute}
}

func (c config) key(i int) string { return c.prefix + strconv.Itoa(i) }

func (c config) readQuery() string {
	switch {
	case c.stale:
		return "?stale"
	case c.consistent:
		return "?consistent"
	}
	return ""
}

// do sends one request and drains the answer; it returns an error for a
// transport failure or a status other than want.
func do(hc *http.Client, method, url string, body []byte, want int) error {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d", method, url, resp.StatusCode)
	}
	return nil
}

func runLoad(c config) error {
	value := bytes.Repeat([]byte("x"), c.size)
	hc := newHTTPClient(c.clients, c.tlsConfig, c.token)
	if c.op != "put" {
		// Preload the keys the reads will hit.
		var wg sync.WaitGroup
		var failed atomic.Value
		sem := make(chan struct{}, 32)
		for i := 0; i < c.keys; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer func() { <-sem; wg.Done() }()
				url := c.scheme + "://" + c.addrs[i%len(c.addrs)] + "/v1/kv/" + c.key(i)
				if err := do(hc, http.MethodPut, url, value, 200); err != nil {
					failed.Store(err)
				}
			}(i)
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
			return fmt.Errorf("preload: %w", err)
		}
		// Stale reads hit followers: wait until each has every key.
		for _, addr := range c.addrs {
			for i := 0; i < c.keys; i++ {
				url := c.scheme + "://" + addr + "/v1/kv/" + c.key(i) + "?stale"
				deadline := time.Now().Add(10 * time.Second)
				for do(hc, http.MethodGet, url, nil, 200) != nil {
					if time.Now().After(deadline) {
						return fmt.Errorf("preload: %s never replicated to %s", c.key(i), addr)
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	lat := make([][]time.Duration, c.clients)
	acked := make([][]string, c.clients)
	var errs atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c.clients; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			ai := w % len(c.addrs)
			base := c.scheme + "://" + c.addrs[ai] + "/v1/kv/"
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			out := make([]time.Duration, 0, 1<<14)
			for seq := 0; ctx.Err() == nil; seq++ {
				k := c.key(rng.IntN(c.keys))
				if c.verify {
					k = fmt.Sprintf("%sv/%d/%d", c.prefix, w, seq)
				}
				read := c.op == "get" || (c.op == "mixed" && rng.Float64() < c.reads)
				t0 := time.Now()
				var err error
				if read {
					err = do(hc, http.MethodGet, base+k+c.readQuery(), nil, 200)
				} else {
					err = do(hc, http.MethodPut, base+k, value, 200)
				}
				if err != nil {
					if errs.Add(1) == 1 {
						firstErr.Store(err)
					}
					if c.verify {
						ai = (ai + 1) % len(c.addrs)
						base = c.scheme + "://" + c.addrs[ai] + "/v1/kv/"
						time.Sleep(10 * time.Millisecond)
					}
					continue
				}
				out = append(out, time.Since(t0))
				if c.verify {
					acked[w] = append(acked[w], k)
				}
			}
			lat[w] = out
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	mode := "default"
	if c.stale {
		mode = "stale"
	} else if c.consistent {
		mode = "consistent"
	}
	fmt.Printf("op=%s consistency=%s clients=%d size=%d keys=%d servers=%d duration=%v\n",
		c.op, mode, c.clients, c.size, c.keys, len(c.addrs), elapsed.Round(time.Millisecond))
	fmt.Printf("ops=%d ops/s=%.0f p50=%v p99=%v max=%v errors=%d\n",
		len(all), float64(len(all))/elapsed.Seconds(), pct(all, 0.50), pct(all, 0.99), pct(all, 1), errs.Load())
	if err, _ := firstErr.Load().(error); err != nil {
		fmt.Printf("first error: %v\n", err)
	}
	if c.verify {
		return verifyAcked(c, hc, acked)
	}
	return nil
}

// verifyAcked reads back every acknowledged key (consistent reads, from
// whichever address answers) and reports the missing ones.
func verifyAcked(c config, hc *http.Client, acked [][]string) error {
	var total, missing int
	ai := 0
	for _, keys := range acked {
		for _, k := range keys {
			total++
			for attempt := 0; ; attempt++ {
				req, _ := http.NewRequest(http.MethodGet, c.scheme+"://"+c.addrs[ai]+"/v1/kv/"+k+"?consistent", nil)
				resp, err := hc.Do(req)
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						break
					}
					if resp.StatusCode == 404 {
						missing++
						if missing <= 10 {
							fmt.Printf("LOST acknowledged write: %s\n", k)
						}
						break
					}
				}
				if attempt > 100 {
					return fmt.Errorf("verify: cannot read %s: %v", k, err)
				}
				ai = (ai + 1) % len(c.addrs)
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	fmt.Printf("verify: %d acknowledged writes, %d missing\n", total, missing)
	if missing > 0 {
		return fmt.Errorf("%d acknowledged writes lost", missing)
	}
	return nil
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.5) - 1
	i = min(max(i, 0), len(sorted)-1)
	return sorted[i].Round(10 * time.Microsecond)
}

// runWatch measures fan-out: c.watchers blocking queries on one key, then
// one write; it reports how long after the write each watcher woke.
func runWatch(c config) error {
	hc := newHTTPClient(c.watchers, c.tlsConfig, c.token)
	key := c.prefix + "watched"
	put := func(v string) error {
		return do(hc, http.MethodPut, c.scheme+"://"+c.addrs[0]+"/v1/kv/"+key, []byte(v), 200)
	}
	if err := put("0"); err != nil {
		return err
	}
	resp, err := hc.Get(c.scheme + "://" + c.addrs[0] + "/v1/kv/" + key)
	if err != nil {
		return err
	}
	var ents []struct{ ModifyIndex uint64 }
	err = json.NewDecoder(resp.Body).Decode(&ents)
	resp.Body.Close()
	if err != nil || len(ents) != 1 {
		return fmt.Errorf("read watched key: %v", err)
	}
	index := ents[0].ModifyIndex
	var writeAt atomic.Int64
	woke := make([]time.Duration, c.watchers)
	var failures atomic.Int64
	var wg, started sync.WaitGroup
	for i := 0; i < c.watchers; i++ {
		wg.Add(1)
		started.Add(1)
		go func(i int) {
			defer wg.Done()
			url := fmt.Sprintf("%s://%s/v1/kv/%s?index=%d&wait=2m%s", c.scheme, c.addrs[i%len(c.addrs)], key, index,
				strings.Replace(c.readQuery(), "?", "&", 1))
			started.Done()
			err := do(hc, http.MethodGet, url, nil, 200)
			if err != nil {
				failures.Add(1)
				return
			}
			if at := writeAt.Load(); at != 0 {
				woke[i] = time.Since(time.Unix(0, at))
			} else {
				failures.Add(1) // returned before the write
			}
		}(i)
	}
	started.Wait()
	time.Sleep(3 * time.Second) // let every watcher reach the server and block
	writeAt.Store(time.Now().UnixNano())
	if err := put("1"); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		return errors.New("watchers did not all wake within a minute")
	}
	var all []time.Duration
	for _, d := range woke {
		if d > 0 {
			all = append(all, d)
		}
	}
	slices.Sort(all)
	fmt.Printf("op=watch watchers=%d servers=%d woken=%d failures=%d\n", c.watchers, len(c.addrs), len(all), failures.Load())
	fmt.Printf("wake latency after the write: p50=%v p99=%v max=%v\n", pct(all, 0.5), pct(all, 0.99), pct(all, 1))
	return nil
}
