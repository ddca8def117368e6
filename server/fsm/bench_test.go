package fsm

import (
	"bytes"
	"slices"
	"strconv"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/kv"
)

// The write path's per-command costs on every server: encoding a command
// (the leader, once per Raft entry) and applying it (every server).

func benchBatch(n int) *kv.BatchRequest {
	req := &kv.BatchRequest{Ops: make([]kv.Request, n)}
	val := bytes.Repeat([]byte("x"), 256)
	for i := range req.Ops {
		req.Ops[i] = kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "bench/" + strconv.Itoa(i), Value: val}}
	}
	return req
}

// BenchmarkEncodeKVSet encodes one 256-byte set.
func BenchmarkEncodeKVSet(b *testing.B) {
	req := &benchBatch(1).Ops[0]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(KVSRequestType, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApplyKVSet applies one 256-byte set per entry (decode, memdb
// write transaction, commit), to 1,000 keys in turn.
func BenchmarkApplyKVSet(b *testing.B) {
	f, err := New(hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	var bufs [][]byte
	for i := range 1000 {
		req := benchBatch(1).Ops[0]
		req.Entry.Key = "bench/" + strconv.Itoa(i)
		buf, err := Encode(KVSRequestType, &req)
		if err != nil {
			b.Fatal(err)
		}
		bufs = append(bufs, buf)
	}
	applyInTurn(b, f, bufs)
}

// applyInTurn applies the entries of bufs in turn, one per iteration, and
// fails unless every write took effect (true, or all true for a batch).
func applyInTurn(b *testing.B, f *FSM, bufs [][]byte) {
	b.ReportAllocs()
	idx := uint64(0)
	for b.Loop() {
		idx++
		switch res := f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: bufs[idx%uint64(len(bufs))]}).(type) {
		case bool:
			if !res {
				b.Fatal("apply: a set did not take effect")
			}
		case []bool:
			if slices.Contains(res, false) {
				b.Fatalf("apply: a set of the batch did not take effect: %v", res)
			}
		default:
			b.Fatalf("apply: %v", res)
		}
	}
}

// BenchmarkApplyKVBatch128 applies a group-committed entry of 128 sets.
func BenchmarkApplyKVBatch128(b *testing.B) {
	f, err := New(hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	buf, err := Encode(KVSBatchRequestType, benchBatch(128))
	if err != nil {
		b.Fatal(err)
	}
	applyInTurn(b, f, [][]byte{buf})
}

// BenchmarkApplyKVBatch16 applies entries of 16 sets, about what 32
// clients' writes group into on three servers, spread over 1,000 keys as
// in tools/sidebyside's put workload.
func BenchmarkApplyKVBatch16(b *testing.B) {
	f, err := New(hclog.NewNullLogger())
	if err != nil {
		b.Fatal(err)
	}
	var bufs [][]byte
	for i := range 1000 / 16 {
		req := benchBatch(16)
		for j := range req.Ops {
			req.Ops[j].Entry.Key = "bench/" + strconv.Itoa((i*16+j)*7919%1000)
		}
		buf, err := Encode(KVSBatchRequestType, req)
		if err != nil {
			b.Fatal(err)
		}
		bufs = append(bufs, buf)
	}
	applyInTurn(b, f, bufs)
}
