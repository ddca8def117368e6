package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// floorKV answers Consul's KV API just enough for the watch and read
// workloads, from memory: PUT keeps the key's answer (its JSON, built once)
// and bumps the index, wakes the blocked, and passes the write on to its
// peers (?local), as a write reaches every server; GET returns the key's
// prebuilt answer with X-Consul-Index, or 404; GET ?index=N blocks until
// the index passes N. Three of them (-floor) are the floor of a read and
// of a blocking-query wake on this machine: the HTTP work and nothing else
// (no store, no Raft, no consistency check).
type floorKV struct {
	peers []string // other floor servers' addresses
	hc    *http.Client

	mu      sync.Mutex
	index   uint64
	wake    chan struct{}
	answers map[string][]byte // key → its JSON answer
}

func newFloorKV(peers []string) *floorKV {
	return &floorKV{peers: peers, hc: &http.Client{Timeout: 5 * time.Second}, index: 1, wake: make(chan struct{}), answers: map[string][]byte{}}
}

func (f *floorKV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := strings.TrimPrefix(r.URL.Path, "/v1/kv/")
	if r.Method == http.MethodPut {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if !r.URL.Query().Has("local") {
			var wg sync.WaitGroup
			for _, p := range f.peers {
				wg.Go(func() {
					req, err := http.NewRequestWithContext(r.Context(), http.MethodPut, "http://"+p+r.URL.Path+"?local", bytes.NewReader(body))
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
		answer, err := json.Marshal([]floorPair{{Key: key, Value: body, CreateIndex: f.index, ModifyIndex: f.index}})
		if err == nil {
			f.answers[key] = answer
		}
		close(f.wake)
		f.wake = make(chan struct{})
		f.mu.Unlock()
		_, _ = w.Write([]byte("true"))
		return
	}
	f.mu.Lock()
	idx, wake, answer := f.index, f.wake, f.answers[key]
	f.mu.Unlock()
	if q := r.URL.Query().Get("index"); q != "" && q == strconv.FormatUint(idx, 10) {
		select {
		case <-wake:
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
		idx, answer = f.index, f.answers[key]
		f.mu.Unlock()
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("X-Consul-Knownleader", "true")
	w.Header().Set("X-Consul-Lastcontact", "0")
	if answer == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(answer)
}

// floorPair is Consul's KVPair as JSON (Value as base64, as encoding/json
// writes a []byte).
type floorPair struct {
	LockIndex   uint64
	Key         string
	Flags       uint64
	Value       []byte
	CreateIndex uint64
	ModifyIndex uint64
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
		// Any answer will do: a key never written is a 404.
		_, _, err := fetch(ctx, hc, "http://"+addr+"/v1/kv/k")
		return err == nil
	})
}
