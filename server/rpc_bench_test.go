package server

import (
	"context"
	"testing"
	"time"

	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
)

// BenchmarkInmemKVSGet is the agent's path for a default read on the
// leader: an in-process RPC through net/rpc to KVS.Get.
func BenchmarkInmemKVSGet(b *testing.B) {
	s := waitLeader(b, newCluster(b, 1))
	ctx := context.Background()
	set := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "k", Value: make([]byte, 256)}}}
	var ok bool
	if err := s.RPC(ctx, "KVS.Apply", &set, &ok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			var reply rpcapi.IndexedEntries
			if err := s.RPC(ctx, "KVS.Get", &rpcapi.KeyRequest{Key: "k"}, &reply); err != nil || len(reply.Entries) != 1 {
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
	ctx := context.Background()
	set := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "k", Value: make([]byte, 256)}}}
	var ok bool
	if err := s.RPC(ctx, "KVS.Apply", &set, &ok); err != nil {
		b.Fatal(err)
	}
	req := rpcapi.KeyRequest{Key: "k", QueryOptions: rpcapi.QueryOptions{RequireConsistent: true}}
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
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

// BenchmarkDefaultReadAfterIdle is a default read on the leader of three
// that finds the lease expired (nothing written for longer than it lasts),
// as a client that reads now and then does: its latency is the proof the
// leader needs then.
func BenchmarkDefaultReadAfterIdle(b *testing.B) {
	s := waitLeader(b, newCluster(b, 3))
	ctx := context.Background()
	set := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "k", Value: make([]byte, 256)}}}
	var ok bool
	if err := s.RPC(ctx, "KVS.Apply", &set, &ok); err != nil {
		b.Fatal(err)
	}
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
