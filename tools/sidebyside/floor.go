package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// floorKV answers Consul's KV API just enough for the watch workloads,
// from memory and with one prebuilt answer: GET returns the key with
// X-Consul-Index, GET ?index=N blocks until the index passes N, PUT bumps
// the index and wakes the blocked, and passes the write on to its peers
// (?local), as a write reaches every server. Three of them (-floor) are
// the floor of a blocking-query wake on this machine: the HTTP work and
// nothing else.
type floorKV struct {
	peers []string // other floor servers' addresses
	hc    *http.Client

	mu    sync.Mutex
	index uint64
	wake  chan struct{}
}

func newFloorKV(peers []string) *floorKV {
	return &floorKV{peers: peers, hc: &http.Client{Timeout: 5 * time.Second}, index: 1, wake: make(chan struct{})}
}

func (f *floorKV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		if !r.URL.Query().Has("local") {
			var wg sync.WaitGroup
			for _, p := range f.peers {
				wg.Go(func() {
					req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, "http://"+p+r.URL.Path+"?local", nil)
					if err != nil {
						return
					}
					if resp, err := f.hc.Do(req); err == nil {
						resp.Body.Close()
					}
				})
			}
			defer wg.Wait()
		}
		f.mu.Lock()
		f.index++
		close(f.wake)
		f.wake = make(chan struct{})
		f.mu.Unlock()
		_, _ = w.Write([]byte("true"))
		return
	}
	f.mu.Lock()
	idx, wake := f.index, f.wake
	f.mu.Unlock()
	if q := r.URL.Query().Get("index"); q != "" && q == strconv.FormatUint(idx, 10) {
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
		idx = f.index
		f.mu.Unlock()
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("X-Consul-Knownleader", "true")
	w.Header().Set("X-Consul-Lastcontact", "0")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`[{"LockIndex":0,"Key":"k","Flags":0,"Value":"MQ==","CreateIndex":1,"ModifyIndex":` + strconv.FormatUint(idx, 10) + `}]`))
}

// serveFloor is the -serve-floor mode: one floor server on addr, its peers
// comma-separated, until ctx is done.
func serveFloor(ctx context.Context, addr, peers string) error {
	var ps []string
	if peers != "" {
		ps = strings.Split(peers, ",")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newFloorKV(ps)}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// floorCluster starts three floor servers (this program, -serve-floor)
// on 127.0.0.ipBase+i.
func floorCluster(ctx context.Context, sup *supervisor, self, dir string, ipBase int) (*cluster, error) {
	c := &cluster{name: "floor"}
	for i := range 3 {
		ip := fmt.Sprintf("127.0.0.%d", ipBase+i)
		ports, err := freePorts(ip, 1)
		if err != nil {
			return nil, err
		}
		c.http = append(c.http, fmt.Sprintf("%s:%d", ip, ports[0]))
	}
	for i, addr := range c.http {
		var peers []string
		for j, p := range c.http {
			if j != i {
				peers = append(peers, p)
			}
		}
		pr, err := sup.start(dir, fmt.Sprintf("floor%d", i+1), self, "-serve-floor", addr, "-floor-peers", strings.Join(peers, ","))
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, pr)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	return c, waitReady(ctx, c, func(ctx context.Context, addr string) bool {
		_, ok := get(ctx, hc, "http://"+addr+"/v1/kv/k")
		return ok
	})
}
