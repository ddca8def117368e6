package server

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

func freePort(t testing.TB) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			u.Close()
			return port
		}
	}
}

// newDevServer starts a single in-memory server that elects itself.
func newDevServer(t *testing.T, hold time.Duration) *Server {
	t.Helper()
	s, err := NewServer(Config{
		NodeName: "s1", NodeID: "11111111-2222-3333-4444-555555555555", Bootstrap: true,
		BindAddr: "127.0.0.1", SerfPort: freePort(t), RPCPort: freePort(t),
		RaftTimeoutOverride: 50 * time.Millisecond, RPCHoldTimeout: hold,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })
	waitReady(t, s)
	return s
}

// TestLeaderServesNoDefaultReadBeforeBarrier checks the read gate: until a
// new leader has applied its predecessors' entries (readyForReads, set
// after a Raft barrier), default and consistent reads wait and then fail
// with "No cluster leader"; stale reads are served.
func TestLeaderServesNoDefaultReadBeforeBarrier(t *testing.T) {
	s := newDevServer(t, 300*time.Millisecond)
	ctx := context.Background()
	var ok bool
	put := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "k", Value: []byte("v")}}}
	if err := s.RPC(ctx, "KVS.Apply", &put, &ok); err != nil || !ok {
		t.Fatalf("put: %v %v", ok, err)
	}

	s.readyForReads.Store(false) // as right after winning an election
	cases := []struct {
		name    string
		opts    rpcapi.QueryOptions
		wantErr bool
	}{
		{"default read waits for the barrier", rpcapi.QueryOptions{}, true},
		{"consistent read waits for the barrier", rpcapi.QueryOptions{RequireConsistent: true}, true},
		{"stale read is served", rpcapi.QueryOptions{AllowStale: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var reply rpcapi.IndexedEntries
			err := s.RPC(ctx, "KVS.Get", &rpcapi.KeyRequest{QueryOptions: tc.opts, Key: "k"}, &reply)
			if tc.wantErr {
				if !rpcapi.IsErrNoLeader(err) {
					t.Fatalf("want No cluster leader, got %v (%d entries)", err, len(reply.Entries))
				}
				return
			}
			if err != nil || len(reply.Entries) != 1 {
				t.Fatalf("stale read: %v, %d entries", err, len(reply.Entries))
			}
		})
	}
	s.readyForReads.Store(true)
	var reply rpcapi.IndexedEntries
	if err := s.RPC(ctx, "KVS.Get", &rpcapi.KeyRequest{Key: "k"}, &reply); err != nil || len(reply.Entries) != 1 {
		t.Fatalf("after the barrier: %v, %d entries", err, len(reply.Entries))
	}
}

// TestBlockingQueryWakesOnlyOnChange checks that a blocked read returns
// when its data changes, and at its wait time otherwise.
func TestBlockingQueryWakesOnlyOnChange(t *testing.T) {
	s := newDevServer(t, time.Second)
	ctx := context.Background()
	var ok bool
	set := func(key, val string) {
		req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: key, Value: []byte(val)}}}
		if err := s.RPC(ctx, "KVS.Apply", &req, &ok); err != nil {
			t.Fatal(err)
		}
	}
	set("watched", "1")
	var first rpcapi.IndexedEntries
	if err := s.RPC(ctx, "KVS.Get", &rpcapi.KeyRequest{Key: "watched"}, &first); err != nil {
		t.Fatal(err)
	}

	// Nothing changes: the query returns after its wait with the same index.
	start := time.Now()
	var same rpcapi.IndexedEntries
	q := rpcapi.KeyRequest{QueryOptions: rpcapi.QueryOptions{MinQueryIndex: first.Index, MaxQueryTime: 200 * time.Millisecond}, Key: "watched"}
	if err := s.RPC(ctx, "KVS.Get", &q, &same); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 200*time.Millisecond || same.Index != first.Index {
		t.Fatalf("returned after %v with index %d (want ≥200ms, index %d)", waited, same.Index, first.Index)
	}

	// A change wakes it with the new index.
	done := make(chan error, 1)
	var woken rpcapi.IndexedEntries
	go func() {
		q := rpcapi.KeyRequest{QueryOptions: rpcapi.QueryOptions{MinQueryIndex: first.Index, MaxQueryTime: 10 * time.Second}, Key: "watched"}
		done <- s.RPC(ctx, "KVS.Get", &q, &woken)
	}()
	time.Sleep(50 * time.Millisecond)
	set("watched", "2")
	select {
	case err := <-done:
		if err != nil || woken.Index <= first.Index || string(woken.Entries[0].Value) != "2" {
			t.Fatalf("woken: %v index %d", err, woken.Index)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("blocked query not woken by a change")
	}
}

// TestSnapshotsBoundTheLog checks that Raft snapshots to the data dir and
// truncates the log, and that a restart restores from snapshot plus log.
func TestSnapshotsBoundTheLog(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{
		NodeName: "s1", NodeID: "11111111-2222-3333-4444-555555555555", Bootstrap: true,
		BindAddr: "127.0.0.1", SerfPort: freePort(t), RPCPort: freePort(t), DataDir: dir,
		RaftTimeoutOverride: 50 * time.Millisecond,
		SnapshotThreshold:   64, SnapshotInterval: 50 * time.Millisecond, TrailingLogs: 16,
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn}),
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitReady(t, s)
	ctx := context.Background()
	for i := 0; i < 400; i++ {
		var ok bool
		req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: fmt.Sprintf("k%03d", i), Value: []byte("v")}}}
		if err := s.RPC(ctx, "KVS.Apply", &req, &ok); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		first, _ := s.raftStore.FirstIndex()
		last, _ := s.raftStore.LastIndex()
		if first > 1 && last-first < 200 {
			t.Logf("log holds entries %d..%d after 400 writes", first, last)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log not truncated: entries %d..%d", first, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.Shutdown()

	s2, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Shutdown()
	waitReady(t, s2)
	var reply rpcapi.IndexedEntries
	if err := s2.RPC(ctx, "KVS.List", &rpcapi.KeyRequest{Key: "k"}, &reply); err != nil || len(reply.Entries) != 400 {
		t.Fatalf("after restart: %d keys, %v", len(reply.Entries), err)
	}
}

func waitReady(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !s.readyForReads.Load() {
		if time.Now().After(deadline) {
			t.Fatal("server never became a ready leader")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
