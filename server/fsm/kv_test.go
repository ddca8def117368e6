package fsm

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
)

func applyCmd(t *testing.T, f *FSM, idx uint64, typ MessageType, msg any) any {
	t.Helper()
	buf, err := Encode(typ, msg)
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: buf})
}

func kvGet(t *testing.T, f *FSM, key string) *kv.Entry {
	t.Helper()
	tx := f.State().ReadTxn()
	defer tx.Abort()
	_, e, err := kv.Get(tx, nil, key)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func registerNode(status string) *catalog.RegisterRequest {
	return &catalog.RegisterRequest{Node: "n1", Address: "127.0.0.1",
		Check: &catalog.HealthCheck{CheckID: catalog.SerfCheckID, Name: catalog.SerfCheckName, Status: status}}
}

func TestFSMKVCommands(t *testing.T) {
	f, err := New(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		typ   MessageType
		msg   any
		check func(t *testing.T, res any)
	}{
		{"set", KVSRequestType, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "k", Value: []byte("v")}},
			func(t *testing.T, res any) {
				if res != true || string(kvGet(t, f, "k").Value) != "v" {
					t.Fatalf("res %v", res)
				}
			}},
		{"node with passing serfHealth", RegisterRequestType, registerNode(catalog.HealthPassing), nil},
		{"session create", SessionRequestType, &kv.SessionRequest{Op: kv.SessionCreate,
			Session: kv.Session{ID: "s1", Node: "n1", NodeChecks: []string{"serfHealth"}, Behavior: kv.BehaviorDelete}},
			func(t *testing.T, res any) {
				if res != "s1" {
					t.Fatalf("res %v", res)
				}
			}},
		{"lock", KVSRequestType, &kv.Request{Op: kv.OpLock, Entry: kv.Entry{Key: "lock", Session: "s1"}},
			func(t *testing.T, res any) {
				if res != true || kvGet(t, f, "lock").Session != "s1" {
					t.Fatalf("res %v", res)
				}
			}},
		{"txn rolled back", TxnRequestType, &kv.TxnRequest{Ops: []kv.TxnOp{
			{Verb: kv.OpSet, Entry: kv.Entry{Key: "k", Value: []byte("new")}},
			{Verb: kv.OpCheckNotExists, Entry: kv.Entry{Key: "lock"}},
		}}, func(t *testing.T, res any) {
			var errs kv.TxnErrors
			if err, _ := res.(error); !errors.As(err, &errs) || errs[0].OpIndex != 1 {
				t.Fatalf("res %v", res)
			}
			if string(kvGet(t, f, "k").Value) != "v" {
				t.Fatal("rolled-back txn wrote")
			}
		}},
		{"serfHealth critical invalidates session", RegisterRequestType, registerNode(catalog.HealthCritical),
			func(t *testing.T, res any) {
				if kvGet(t, f, "lock") != nil {
					t.Fatal("delete-behaviour session's key survived invalidation")
				}
			}},
		{"session create with critical check fails", SessionRequestType, &kv.SessionRequest{Op: kv.SessionCreate,
			Session: kv.Session{ID: "s2", Node: "n1", NodeChecks: []string{"serfHealth"}}},
			func(t *testing.T, res any) {
				if err, _ := res.(error); !errors.Is(err, kv.ErrSessionCheckCritical) {
					t.Fatalf("res %v", res)
				}
			}},
		{"batch of independent writes", KVSBatchRequestType, &kv.BatchRequest{Ops: []kv.Request{
			{Op: kv.OpCAS, Entry: kv.Entry{Key: "b1", Value: []byte("1")}},
			{Op: kv.OpCAS, Entry: kv.Entry{Key: "b1", Value: []byte("2")}},
			{Op: kv.OpSet, Entry: kv.Entry{Key: "b2", Value: []byte("x")}},
		}}, func(t *testing.T, res any) {
			oks, _ := res.([]bool)
			if len(oks) != 3 || !oks[0] || oks[1] || !oks[2] || string(kvGet(t, f, "b1").Value) != "1" {
				t.Fatalf("res %v", res)
			}
		}},
		{"reap tombstones", TombstoneRequestType, &TombstoneRequest{Index: 100}, func(t *testing.T, res any) {
			tx := f.State().ReadTxn()
			defer tx.Abort()
			if idx, _, _ := kv.Get(tx, nil, "lock"); idx != 100 {
				t.Fatalf("missing key index %d, want the reaped floor 100", idx)
			}
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := applyCmd(t, f, uint64(i+1), tc.typ, tc.msg)
			if tc.check != nil {
				tc.check(t, res)
			} else if err, ok := res.(error); ok {
				t.Fatal(err)
			}
		})
	}
}

// The KV tables — keys, tombstones, lock delays, sessions — survive a
// snapshot and restore, so indexes and lock-delays hold on a restored
// server.
func TestKVSnapshotRestore(t *testing.T) {
	f, err := New(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	applyCmd(t, f, 1, RegisterRequestType, registerNode(catalog.HealthPassing))
	applyCmd(t, f, 2, SessionRequestType, &kv.SessionRequest{Op: kv.SessionCreate,
		Session: kv.Session{ID: "s1", Node: "n1", TTL: "15s", LockDelay: 15 * time.Second, Behavior: kv.BehaviorRelease,
			ServiceChecks: []kv.ServiceCheck{{ID: "serfHealth"}}}})
	applyCmd(t, f, 3, KVSRequestType, &kv.Request{Op: kv.OpLock, Entry: kv.Entry{Key: "l", Session: "s1"}})
	applyCmd(t, f, 4, SessionRequestType, &kv.SessionRequest{Op: kv.SessionCreate, Session: kv.Session{ID: "s2", Node: "n1"}})
	applyCmd(t, f, 5, KVSRequestType, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "gone", Value: []byte("x")}})
	applyCmd(t, f, 6, KVSRequestType, &kv.Request{Op: kv.OpDelete, Entry: kv.Entry{Key: "gone"}})
	applyCmd(t, f, 7, SessionRequestType, &kv.SessionRequest{Op: kv.SessionDestroy, Session: kv.Session{ID: "s1"}, Now: 1000})

	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sk sink
	if err := snap.Persist(&sk); err != nil {
		t.Fatal(err)
	}
	buf := sk.Buffer
	g, err := New(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	tx := g.State().ReadTxn()
	idx, e, _ := kv.Get(tx, nil, "gone")
	_, s2, _ := kv.GetSession(tx, nil, "s2")
	tx.Abort()
	if e != nil || idx != 6 {
		t.Fatalf("deleted key after restore: %v @%d, want its tombstone's index 6", e, idx)
	}
	if s2 == nil || s2.Node != "n1" {
		t.Fatalf("session s2 after restore: %+v", s2)
	}
	// s1's lock-delay (15 s from t=1000 ns) still holds on the restored store.
	if res := applyCmd(t, g, 8, KVSRequestType, &kv.Request{Op: kv.OpLock, Entry: kv.Entry{Key: "l", Session: "s2"},
		Now: 1000 + int64(10*time.Second)}); res != false {
		t.Fatalf("lock during restored lock-delay: %v", res)
	}
	if res := applyCmd(t, g, 9, KVSRequestType, &kv.Request{Op: kv.OpLock, Entry: kv.Entry{Key: "l", Session: "s2"},
		Now: 1000 + int64(16*time.Second)}); res != true {
		t.Fatalf("lock after restored lock-delay: %v", res)
	}
}
