package server

import (
	"context"
	"testing"
	"time"

	"github.com/shoalproject/shoal/rpcapi"
)

// BenchmarkInmemKVSGet is the agent's path for a default read on the
// leader: an in-process RPC through net/rpc to KVS.Get.
func BenchmarkInmemKVSGet(b *testing.B) {
	s := waitLeader(b, newCluster(b, 1))
	mustPut(b, s, "k", make([]byte, 256))
	b.ReportAllocs()
	b.ResetTimer()
	parallelGets(b, s, rpcapi.KeyRequest{Key: "k"})
}

// parallelGets runs b.N KVS.Get calls of req on s from b.RunParallel's
// goroutines.
func parallelGets(b *testing.B, s *Server, req rpcapi.KeyRequest) {
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var reply rpcapi.IndexedEntries
			r := req
			if err := s.RPC(ctx, "KVS.Get", &r, &reply); err != nil || len(reply.Entries) != 1 {
				b.Fatalf("get: %v, %d entries", err, len(reply.Entries))
			}
		}
	})
}

// BenchmarkConsistentKVSGet is a ?consistent read on the leader of three
// servers, 16 concurrent callers per CPU: each round of the read gate
// proves the leadership once for the reads that joined it.
func BenchmarkConsistentKVSGet(b *testing.B) {
	s := waitLeader(b, newCluster(b, 3))
	mustPut(b, s, "k", make([]byte, 256))
	req := rpcapi.KeyRequest{Key: "k", QueryOptions: rpcapi.QueryOptions{RequireConsistent: true}}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	parallelGets(b, s, req)
}

// BenchmarkDefaultReadAfterIdle is a default read on the leader of three
// that finds the lease expired (nothing written for longer than it lasts),
// as a client that reads now and then does: its latency is the proof the
// leader needs then.
func BenchmarkDefaultReadAfterIdle(b *testing.B) {
	s := waitLeader(b, newCluster(b, 3))
	ctx := context.Background()
	mustPut(b, s, "k", make([]byte, 256))
	b.ResetTimer()
	for b.Loop() {
		b.StopTimer()
		for s.reads.leaseValid() {
			time.Sleep(10 * time.Millisecond)
		}
		b.StartTimer()
		var reply rpcapi.IndexedEntries
		if err := s.RPC(ctx, "KVS.Get", &rpcapi.KeyRequest{Key: "k"}, &reply); err != nil || len(reply.Entries) != 1 {
			b.Fatalf("get: %v, %d entries", err, len(reply.Entries))
		}
	}
}
