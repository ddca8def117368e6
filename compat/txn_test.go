package compat

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

func TestTxn(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		p := "txn/" + n.Name + "/"
		ok, resp, _, err := c.Txn().Txn(api.TxnOps{
			{KV: &api.KVTxnOp{Verb: api.KVSet, Key: p + "a", Value: []byte("1")}},
			{KV: &api.KVTxnOp{Verb: api.KVSet, Key: p + "b", Value: []byte("2"), Flags: 9}},
			{KV: &api.KVTxnOp{Verb: api.KVGet, Key: p + "a"}},
			{KV: &api.KVTxnOp{Verb: api.KVCheckNotExists, Key: p + "zz"}},
		}, nil)
		if err != nil || !ok || len(resp.Results) != 3 {
			t.Fatalf("txn: ok=%v err=%v resp=%+v", ok, err, resp)
		}
		if r := resp.Results[0].KV; r.Key != p+"a" || r.Value != nil || r.ModifyIndex == 0 {
			t.Fatalf("set result %+v", r)
		}
		if r := resp.Results[2].KV; string(r.Value) != "1" {
			t.Fatalf("get result %+v", r)
		}
		idx := resp.Results[0].KV.ModifyIndex
		// Rollback: one failing op applies nothing and answers 409.
		ok, resp, _, err = c.Txn().Txn(api.TxnOps{
			{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: p + "a", Index: idx}},
			{KV: &api.KVTxnOp{Verb: api.KVSet, Key: p + "a", Value: []byte("changed")}},
			{KV: &api.KVTxnOp{Verb: api.KVCAS, Key: p + "b", Value: []byte("x"), Index: 1}},
		}, nil)
		if err != nil || ok || len(resp.Errors) != 1 || resp.Errors[0].OpIndex != 2 || len(resp.Results) != 0 {
			t.Fatalf("rollback: ok=%v err=%v resp=%+v", ok, err, resp)
		}
		if got, _, _ := c.KV().Get(p+"a", nil); string(got.Value) != "1" {
			t.Fatalf("rolled-back txn wrote %q", got.Value)
		}
		// A read-only transaction, stale.
		ok, resp, _, err = c.Txn().Txn(api.TxnOps{
			{KV: &api.KVTxnOp{Verb: api.KVGetTree, Key: p}},
			{KV: &api.KVTxnOp{Verb: api.KVCheckIndex, Key: p + "a", Index: idx}},
		}, &api.QueryOptions{})
		if err != nil || !ok || len(resp.Results) != 3 {
			t.Fatalf("read txn: ok=%v err=%v resp=%+v", ok, err, resp)
		}
		// Locks in a transaction.
		sess, _, err := c.Session().Create(&api.SessionEntry{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Session().Destroy(sess, nil)
		ok, resp, _, err = c.Txn().Txn(api.TxnOps{
			{KV: &api.KVTxnOp{Verb: api.KVLock, Key: p + "lock", Session: sess}},
			{KV: &api.KVTxnOp{Verb: api.KVCheckSession, Key: p + "lock", Session: sess}},
			{KV: &api.KVTxnOp{Verb: api.KVUnlock, Key: p + "lock", Session: sess}},
			{KV: &api.KVTxnOp{Verb: api.KVDeleteTree, Key: p}},
		}, nil)
		if err != nil || !ok {
			t.Fatalf("lock txn: ok=%v err=%v resp=%+v", ok, err, resp)
		}
		if pairs, _, _ := c.KV().List(p, nil); len(pairs) != 0 {
			t.Fatalf("delete-tree in txn left %d keys", len(pairs))
		}
	})
}

func TestTxnLimits(t *testing.T) {
	t.Parallel()
	n := entries[0].node
	ops := make([]string, 129)
	for i := range ops {
		ops[i] = fmt.Sprintf(`{"KV":{"Verb":"set","Key":"lim/%d","Value":""}}`, i)
	}
	resp, body := rawHTTP(t, n, "PUT", "/v1/txn", "["+strings.Join(ops, ",")+"]")
	if resp.StatusCode != 413 || !strings.Contains(body, "too many operations") {
		t.Fatalf("129 ops: %d %s", resp.StatusCode, trunc(body))
	}
	resp, body = rawHTTP(t, n, "PUT", "/v1/txn", "["+strings.Join(ops[:128], ",")+"]")
	if resp.StatusCode != 200 {
		t.Fatalf("128 ops: %d %s", resp.StatusCode, trunc(body))
	}
	resp, body = rawHTTP(t, n, "PUT", "/v1/txn", `[{"KV":{"Verb":"cas","Key":"lim/0","Index":1}}]`)
	if resp.StatusCode != 409 || !strings.Contains(body, `"OpIndex":0`) || !strings.Contains(body, "index is stale") {
		t.Fatalf("failed cas: %d %s", resp.StatusCode, trunc(body))
	}
}
