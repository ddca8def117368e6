package state_test

import (
	"bytes"
	"fmt"
	"io"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/server/fsm"
	"github.com/shoalproject/shoal/state"
)

// fillThroughFSM writes a row to every table of the store the way a
// cluster does: through FSM commands at increasing Raft indexes.
func fillThroughFSM(t *testing.T, f *fsm.FSM) {
	t.Helper()
	now := time.Unix(1_700_000_000, 0).UnixNano()
	steps := []struct {
		name string
		typ  fsm.MessageType
		msg  any
	}{
		{"node, service and checks", fsm.RegisterRequestType, &catalog.RegisterRequest{
			Node: "n1", ID: "0b4c1a2e-0000-4000-8000-000000000001", Address: "10.0.0.1",
			TaggedAddresses: map[string]string{"lan": "10.0.0.1"}, NodeMeta: map[string]string{"rack": "a"},
			Service: &catalog.Service{ID: "web-1", Service: "web", Tags: []string{"v1"}, Port: 80,
				Meta: map[string]string{"m": "1"}, Weights: &catalog.Weights{Passing: 3, Warning: 1}},
			Checks: []*catalog.HealthCheck{
				{CheckID: catalog.SerfCheckID, Name: "Serf Health Status", Status: catalog.HealthPassing},
				{CheckID: "web-http", Name: "web", Status: catalog.HealthWarning, ServiceID: "web-1", Output: "slow"},
			},
		}},
		{"second node", fsm.RegisterRequestType, &catalog.RegisterRequest{Node: "n2", Address: "10.0.0.2",
			Check: &catalog.HealthCheck{CheckID: catalog.SerfCheckID, Status: catalog.HealthCritical}}},
		{"key", fsm.KVSRequestType, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "app/a", Value: []byte("1"), Flags: 42}, Now: now}},
		{"batch of keys", fsm.KVSBatchRequestType, &kv.BatchRequest{Ops: []kv.Request{
			{Op: kv.OpSet, Entry: kv.Entry{Key: "app/b", Value: []byte("2")}, Now: now},
			{Op: kv.OpSet, Entry: kv.Entry{Key: "app/c", Value: []byte("3")}, Now: now},
		}}},
		{"tombstone", fsm.KVSRequestType, &kv.Request{Op: kv.OpDelete, Entry: kv.Entry{Key: "app/c"}, Now: now}},
		{"session", fsm.SessionRequestType, &kv.SessionRequest{Op: kv.SessionCreate, Now: now, Session: kv.Session{
			ID: "5e55a1d0-0000-4000-8000-000000000001", Name: "holder", Node: "n1", LockDelay: 15 * time.Second,
			Behavior: kv.BehaviorRelease, TTL: "30s", NodeChecks: []string{catalog.SerfCheckID},
			ServiceChecks: []kv.ServiceCheck{{ID: "web-http"}},
		}}},
		{"lock held by the session", fsm.KVSRequestType, &kv.Request{Op: kv.OpLock, Now: now,
			Entry: kv.Entry{Key: "locks/held", Session: "5e55a1d0-0000-4000-8000-000000000001"}}},
		{"session to destroy", fsm.SessionRequestType, &kv.SessionRequest{Op: kv.SessionCreate, Now: now, Session: kv.Session{
			ID: "5e55a1d0-0000-4000-8000-000000000002", Node: "n1", LockDelay: 30 * time.Second, Behavior: kv.BehaviorRelease,
			NodeChecks: []string{catalog.SerfCheckID},
		}}},
		{"lock then lock-delay", fsm.KVSRequestType, &kv.Request{Op: kv.OpLock, Now: now,
			Entry: kv.Entry{Key: "locks/delayed", Session: "5e55a1d0-0000-4000-8000-000000000002"}}},
		{"destroy starts the lock-delay", fsm.SessionRequestType, &kv.SessionRequest{Op: kv.SessionDestroy, Now: now,
			Session: kv.Session{ID: "5e55a1d0-0000-4000-8000-000000000002"}}},
		{"transaction", fsm.TxnRequestType, &kv.TxnRequest{Now: now, Ops: []kv.TxnOp{
			{Verb: kv.OpSet, Entry: kv.Entry{Key: "app/txn", Value: []byte("t")}},
		}}},
		{"allocations and status", fsm.AllocPlanRequestType, &sched.PlanRequest{
			Service: "web",
			Place: []*sched.Alloc{
				{Allocation: sched.Allocation{ID: "alloc-1", Service: "web", Version: "v1", NodeID: "id-n1", Index: 0,
					DesiredStatus: sched.DesiredRun}, NodeName: "n1", Spec: &sched.Spec{Name: "web", Image: "nginx", Args: []string{"-g", "daemon off;"}}},
				{Allocation: sched.Allocation{ID: "alloc-2", Service: "web", Version: "v1", NodeID: "id-n2", Index: 1,
					DesiredStatus: sched.DesiredRun}, NodeName: "n2"},
			},
			Status: &sched.ServiceStatus{Name: "web", Version: "v1", Unplaced: []string{"none"}, LastGoodVersion: "v0"},
		}},
		{"agent report", fsm.AllocUpdateRequestType, &sched.UpdateRequest{NodeID: "id-n1", Updates: []sched.ClientUpdate{
			{ID: "alloc-1", ClientStatus: sched.ClientRunning, Healthy: true, IP: "10.42.1.2", Restarts: 1, ClientTime: now},
		}}},
	}
	for i, st := range steps {
		buf, err := fsm.Encode(st.typ, st.msg)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if res := f.Apply(&raft.Log{Index: uint64(10 + i), Term: 1, Type: raft.LogCommand, Data: buf}); res != nil {
			if err, ok := res.(error); ok {
				t.Fatalf("%s: %v", st.name, err)
			}
		}
	}
}

// tableNames lists every table of the FSM's store.
func tableNames() []string {
	names := []string{state.TableIndex}
	for _, tables := range [][]state.Table{kv.Tables(), catalog.Tables(), allocs.Tables()} {
		for _, tb := range tables {
			names = append(names, tb.Schema.Name)
		}
	}
	return names
}

// dump reads every row of table through each of its memdb indexes, so a
// restore that loses a secondary index entry shows up too.
func dump(t *testing.T, s *state.Store, table string) map[string][]any {
	t.Helper()
	tx := s.ReadTxn()
	defer tx.Abort()
	out := map[string][]any{}
	for _, idx := range indexNames(t, s, table) {
		it, err := tx.Get(table, idx)
		if err != nil {
			// Compound and prefix indexes list everything through their
			// prefix form with no arguments.
			if it, err = tx.Get(table, idx+"_prefix"); err != nil {
				t.Fatalf("table %s index %s: %v", table, idx, err)
			}
		}
		var rows []any
		for raw := it.Next(); raw != nil; raw = it.Next() {
			rows = append(rows, raw)
		}
		out[idx] = rows
	}
	return out
}

func indexNames(t *testing.T, s *state.Store, table string) []string {
	t.Helper()
	var tables []state.Table
	tables = append(tables, kv.Tables()...)
	tables = append(tables, catalog.Tables()...)
	tables = append(tables, allocs.Tables()...)
	if table == state.TableIndex {
		return []string{"id"}
	}
	for _, tb := range tables {
		if tb.Schema.Name == table {
			var names []string
			for name := range tb.Schema.Indexes {
				names = append(names, name)
			}
			sort.Strings(names)
			return names
		}
	}
	t.Fatalf("no table %s", table)
	return nil
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *memSink) ID() string    { return "test" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { return nil }

// TestSnapshotRestoreRoundTrip fills every table through the FSM, takes a
// snapshot the way Raft does (Snapshot, Persist), restores it into a fresh
// FSM and requires every table — every row, read through every index,
// including the index table of per-table Raft indexes — to come back
// identical.
func TestSnapshotRestoreRoundTrip(t *testing.T) {
	src, err := fsm.New(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	fillThroughFSM(t, src)

	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var sink memSink
	if err := snap.Persist(&sink); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if sink.cancelled {
		t.Fatal("Persist cancelled the sink")
	}

	dst, err := fsm.New(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	if err := dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}

	for _, table := range tableNames() {
		t.Run(table, func(t *testing.T) {
			want, got := dump(t, src.State(), table), dump(t, dst.State(), table)
			if len(want["id"]) == 0 {
				t.Fatalf("the fill wrote no row to %s: add a command that does, so the round trip covers it", table)
			}
			for idx, rows := range want {
				if !reflect.DeepEqual(got[idx], rows) {
					t.Errorf("index %s after restore:\n got %s\nwant %s", idx, show(got[idx]), show(rows))
				}
			}
		})
	}
	if w, g := src.State().LatestIndex(), dst.State().LatestIndex(); w != g || w == 0 {
		t.Errorf("latest index after restore = %d, want %d", g, w)
	}
}

func show(rows []any) string {
	var b bytes.Buffer
	for _, r := range rows {
		fmt.Fprintf(&b, "%+v; ", reflect.Indirect(reflect.ValueOf(r)).Interface())
	}
	return b.String()
}
