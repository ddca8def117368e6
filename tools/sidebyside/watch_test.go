package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchersKeepTheirConnections: the watch workload times how long a
// write takes to reach the watchers. A watcher's connection must survive
// its answer, as a real watcher's does for its next query; when the
// client's idle pool was smaller than the watchers (64 per server for 32
// clients), it closed the rest during the very wake it timed: 800 closes
// for 1,000 watchers, which doubled their p99.
func TestWatchersKeepTheirConnections(t *testing.T) {
	f := newFloorKV() // alone: a write applies at once
	f.write = func(_ context.Context, w floorWrite) error { f.apply([]floorWrite{w}); return nil }
	srv := httptest.NewUnstartedServer(f)
	var closed atomic.Int64
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	kv, ctx := testKV(t, []string{srv.Listener.Addr().String()}, 32)
	tgt := &target{name: "fake", kv: kv}
	r, err := runWatch(300)(ctx, tgt, opts{settle: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // closes reach the server
	if n := closed.Load(); n > 0 {
		t.Fatalf("%d of 300 watchers' connections were closed by the wake (p99 %v)", n, r.p99)
	}
}

// TestFloorWriteReachesEveryFloorServer: a write to one floor server
// wakes the watchers of the others, as a write reaches every server of a
// cluster; without it the -floor target's watchers on the other servers
// would never wake.
func TestFloorWriteReachesEveryFloorServer(t *testing.T) {
	addrs := floorServers(t)
	kv, ctx := testKV(t, addrs, 4)
	if _, err := runWatch(30)(ctx, &target{name: "floor", kv: kv, floor: true}, opts{settle: 300 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
}

// TestFloorReadsWhatWasWritten: the -floor target answers the read
// workloads as a cluster would — through the official client, from every
// floor server, each key with the value written to it, and a key never
// written as not found — so that its read rate is that of real answers.
func TestFloorReadsWhatWasWritten(t *testing.T) {
	addrs := floorServers(t)
	kv, ctx := testKV(t, addrs, 4)
	tg := &target{name: "floor", c: &cluster{name: "floor", http: addrs}, kv: kv, floor: true}
	o := opts{clients: 4, size: 16, keys: 20, duration: 300 * time.Millisecond}
	r, err := runGet(readDefault)(ctx, tg, o)
	if err != nil {
		t.Fatal(err)
	}
	if r.opsPerSec == 0 || r.errors != 0 {
		t.Fatalf("floor reads: %+v", r)
	}
	if err := kv.put(ctx, "floor/k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	for i, c := range kv.clients {
		// A follower applies the write once it has it on disk, which may
		// be after the write was acknowledged.
		p, _, err := c.KV().Get("floor/k", nil)
		for deadline := time.Now().Add(5 * time.Second); err == nil && p == nil && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			p, _, err = c.KV().Get("floor/k", nil)
		}
		if err != nil || p == nil || p.Key != "floor/k" || string(p.Value) != "v1" {
			t.Fatalf("server %d: got %+v, %v; want floor/k = v1", i, p, err)
		}
		if p, _, err := c.KV().Get("floor/never-written", nil); err != nil || p != nil {
			t.Fatalf("server %d: a key never written: got %+v, %v; want not found", i, p, err)
		}
	}
}

// floorServers starts three floor servers in this process, the first
// leading, with their logs in temporary directories; it returns their
// HTTP addresses.
func floorServers(t *testing.T) []string {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for i := range 3 {
		kv := newFloorKV()
		if i == 0 {
			err = kv.lead(ctx, rl, t.TempDir())
		} else {
			err = kv.follow(ctx, rl.Addr().String(), t.TempDir())
		}
		if err != nil {
			t.Fatal(err)
		}
		s := httptest.NewServer(kv)
		t.Cleanup(s.Close)
		addrs = append(addrs, s.Listener.Addr().String())
	}
	return addrs
}

// TestFloorWriteWaitsForAMajority: the floor acknowledges a write only
// once a majority (the leader and one follower) has it on disk, as the
// clusters it stands beside do; a floor that skipped that would not be a
// floor of a durable write. With no follower the write must not complete;
// once one follows it completes, and the follower's log holds it.
func TestFloorWriteWaitsForAMajority(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	leader := newFloorKV()
	if err := leader.lead(ctx, rl, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = leader.write(wctx, floorWrite{key: "k", val: []byte("alone")})
	wcancel()
	if err == nil {
		t.Fatal("a write with no follower was acknowledged")
	}
	dir := t.TempDir()
	follower := newFloorKV()
	if err := follower.follow(ctx, rl.Addr().String(), dir); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel = context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := follower.write(wctx, floorWrite{key: "k", val: []byte("replicated")}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "floor.log"))
	if err != nil || !bytes.Contains(b, []byte("replicated")) {
		t.Fatalf("the follower's log after the write was acknowledged: %q, %v", b, err)
	}
}

// TestFloorForwardedWritesKeepTheirValues: writes forwarded by a follower
// at the same time each commit their own value, read back from every
// server; a leader that kept a forwarded value in the buffer it reads the
// next message into would store another write's bytes.
func TestFloorForwardedWritesKeepTheirValues(t *testing.T) {
	addrs := floorServers(t)
	kv, ctx := testKV(t, addrs, 4)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			// Through follower 1: every write is forwarded.
			errs <- kv.put(context.WithValue(ctx, clientKey{}, 1), fmt.Sprintf("fwd/%d", i), []byte(fmt.Sprintf("value-%d-%s", i, strings.Repeat("v", i))))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for s, c := range kv.clients {
		for i := range n {
			key, want := fmt.Sprintf("fwd/%d", i), fmt.Sprintf("value-%d-%s", i, strings.Repeat("v", i))
			p, _, err := c.KV().Get(key, nil)
			for deadline := time.Now().Add(5 * time.Second); err == nil && p == nil && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
				p, _, err = c.KV().Get(key, nil)
			}
			if err != nil || p == nil || string(p.Value) != want {
				t.Fatalf("server %d, %s: got %+v, %v; want %q", s, key, p, err, want)
			}
		}
	}
}

// TestFloorBlocksUntilItsIndexPasses: a blocking query with an index this
// server has not reached yet (read from a server that applied more) waits
// until its own index passes it, as Consul's do; returning at once would
// fail the watch workload's watchers on a follower that lags.
func TestFloorBlocksUntilItsIndexPasses(t *testing.T) {
	f := newFloorKV() // alone: a write applies at once
	f.write = func(_ context.Context, w floorWrite) error { f.apply([]floorWrite{w}); return nil }
	srv := httptest.NewServer(f)
	defer srv.Close()
	kv, ctx := testKV(t, []string{srv.Listener.Addr().String()}, 4)
	if err := kv.put(ctx, "k", []byte("0")); err != nil {
		t.Fatal(err)
	}
	idx, err := kv.index(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	wait, err := kv.watch(ctx, "k", idx+2) // two writes ahead of this server
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- wait() }()
	for i := range 3 {
		select {
		case err := <-done:
			t.Fatalf("returned after %d of the 3 writes it waits for: %v", i, err)
		case <-time.After(100 * time.Millisecond):
		}
		if err := kv.put(ctx, "k", []byte("1")); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// testKV is the workloads' Consul-API driver on addrs, and a context that
// ends after a minute or with the test.
func testKV(t *testing.T, addrs []string, conns int) (*consulKV, context.Context) {
	t.Helper()
	kv, err := newConsulKV(addrs, conns)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return kv, ctx
}
