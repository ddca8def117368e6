package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeKV answers Consul's KV API for one key well enough for the watch
// workload: GET returns the key with X-Consul-Index, GET ?index=N blocks
// until the index passes N, PUT bumps it and wakes the blocked.
type fakeKV struct {
	mu    sync.Mutex
	index uint64
	wake  chan struct{}
}

func (f *fakeKV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if r.Method == http.MethodPut {
		f.index++
		close(f.wake)
		f.wake = make(chan struct{})
		f.mu.Unlock()
		_, _ = w.Write([]byte("true"))
		return
	}
	idx, wake := f.index, f.wake
	f.mu.Unlock()
	if q := r.URL.Query().Get("index"); q != "" && q == strconv.FormatUint(idx, 10) {
		<-wake
		f.mu.Lock()
		idx = f.index
		f.mu.Unlock()
	}
	w.Header().Set("X-Consul-Index", strconv.FormatUint(idx, 10))
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`[{"Key":"k","Value":"MQ==","CreateIndex":1,"ModifyIndex":` + strconv.FormatUint(idx, 10) + `}]`))
}

// TestWatchersKeepTheirConnections: the watch workload times how long a
// write takes to reach the watchers. A watcher's connection must survive
// its answer, as a real watcher's does for its next query; when the
// client's idle pool was smaller than the watchers (64 per server for 32
// clients), it closed the rest during the very wake it timed: 800 closes
// for 1,000 watchers, which doubled their p99.
func TestWatchersKeepTheirConnections(t *testing.T) {
	f := &fakeKV{index: 1, wake: make(chan struct{})}
	srv := httptest.NewUnstartedServer(f)
	var closed atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	kv, err := newConsulKV([]string{srv.Listener.Addr().String()}, 32)
	if err != nil {
		t.Fatal(err)
	}
	tgt := &target{name: "fake", kv: kv}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := runWatch(300)(ctx, tgt, opts{settle: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // closes reach the server
	if n := closed.Load(); n > 0 {
		t.Fatalf("%d of 300 watchers' connections were closed by the wake (p99 %v)", n, r.p99)
	}
}
