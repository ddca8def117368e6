package server

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/shoalproject/shoal/kv"
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

// BenchmarkInmemKVSPut is a KV write through the agent's in-process path
// to a single server with its log on disk, one write at a time (each its
// own Raft entry, as from a client that writes now and then), no service
// deployed: what a KV-only cluster's leader spends per entry. cpu-µs/op is
// the process's user and system time (getrusage) per write, everything the
// write caused on other goroutines included (the scheduler's wake-ups, for
// one).
func BenchmarkInmemKVSPut(b *testing.B) {
	s := waitLeader(b, newCluster(b, 1))
	ctx := context.Background()
	value := make([]byte, 256)
	b.ReportAllocs()
	before := cpuTime(b)
	i := 0
	for b.Loop() {
		i++
		var ok bool
		req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet,
			Entry: kv.Entry{Key: fmt.Sprintf("bench/%d", i%1000), Value: value}}}
		if err := s.RPC(ctx, "KVS.Apply", &req, &ok); err != nil || !ok {
			b.Fatalf("put: %v, %v", ok, err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-before).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime is the process's user and system time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
