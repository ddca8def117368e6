package fsm

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
)

func newFSM(t *testing.T) *FSM {
	t.Helper()
	f, err := New(hclog.NewNullLogger())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func apply(t *testing.T, f *FSM, idx uint64, typ MessageType, msg any) any {
	t.Helper()
	buf, err := Encode(typ, msg)
	if err != nil {
		t.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: idx, Type: raft.LogCommand, Data: buf})
}

func TestApplyCommands(t *testing.T) {
	f := newFSM(t)
	steps := []struct {
		name    string
		typ     MessageType
		msg     any
		wantErr bool
		want    any
	}{
		{"register node with check", RegisterRequestType, &catalog.RegisterRequest{Node: "n1", Address: "10.0.0.1",
			Check: &catalog.HealthCheck{CheckID: catalog.SerfCheckID, Status: catalog.HealthPassing}}, false, nil},
		{"register service on unknown node is impossible without node", RegisterRequestType,
			&catalog.RegisterRequest{Node: ""}, true, nil},
		{"kv set", KVSRequestType, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "a", Value: []byte("1")}}, false, true},
		{"kv cas create-only on existing key fails", KVSRequestType,
			&kv.Request{Op: kv.OpCAS, Entry: kv.Entry{Key: "a", Value: []byte("2")}}, false, false},
		{"deregister node", DeregisterRequestType, &catalog.DeregisterRequest{Node: "n1"}, false, nil},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res := apply(t, f, uint64(10+i), st.typ, st.msg)
			_, isErr := res.(error)
			if isErr != st.wantErr {
				t.Fatalf("result %v, want error=%v", res, st.wantErr)
			}
			if !isErr && st.want != nil && res != st.want {
				t.Fatalf("result %v, want %v", res, st.want)
			}
		})
	}
	tx := f.State().ReadTxn()
	defer tx.Abort()
	_, e, _ := kv.Get(tx, nil, "a")
	if e == nil || string(e.Value) != "1" || e.CreateIndex != 12 {
		t.Fatalf("kv a = %+v", e)
	}
	_, n, _ := catalog.GetNode(tx, nil, "n1")
	if n != nil {
		t.Fatalf("node n1 should be gone: %+v", n)
	}
}

func TestUnknownCommandType(t *testing.T) {
	f := newFSM(t)
	// Flagged unknown types are skipped: an older server keeps going.
	if res := f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: []byte{byte(IgnoreUnknownTypeFlag | 99)}}); res != nil {
		t.Fatalf("flagged unknown type: %v", res)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("unflagged unknown type must panic rather than let servers diverge")
		}
	}()
	f.Apply(&raft.Log{Index: 2, Type: raft.LogCommand, Data: []byte{99}})
}

type sink struct {
	bytes.Buffer
	cancelled bool
}

func (s *sink) ID() string    { return "test" }
func (s *sink) Cancel() error { s.cancelled = true; return nil }
func (s *sink) Close() error  { return nil }

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	f := newFSM(t)
	apply(t, f, 5, RegisterRequestType, &catalog.RegisterRequest{Node: "n1", Address: "10.0.0.1",
		Service: &catalog.Service{Service: "web", Port: 80, Tags: []string{"v1"}},
		Check:   &catalog.HealthCheck{CheckID: "c1", ServiceID: "web", Status: catalog.HealthWarning}})
	for i, k := range []string{"x/1", "x/2", "y"} {
		apply(t, f, uint64(6+i), KVSRequestType, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: k, Value: []byte(k), Flags: 7}})
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var s sink
	if err := snap.Persist(&s); err != nil {
		t.Fatal(err)
	}
	snap.Release()

	g := newFSM(t)
	// A watcher on the restored store's old data must be woken by the restore.
	ws := memdb.NewWatchSet()
	ws.Add(g.State().AbandonCh())
	if err := g.Restore(io.NopCloser(bytes.NewReader(s.Bytes()))); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := ws.WatchCtx(ctx); err != nil {
		t.Fatal("restore did not close the abandon channel")
	}
	tx := g.State().ReadTxn()
	defer tx.Abort()
	_, ents, _ := kv.List(tx, memdb.NewWatchSet(), "x/")
	if len(ents) != 2 || string(ents[1].Value) != "x/2" || ents[1].Flags != 7 || ents[1].ModifyIndex != 7 {
		t.Fatalf("restored kv: %+v", ents)
	}
	_, checks, _ := catalog.NodeChecks(tx, memdb.NewWatchSet(), "n1")
	if len(checks) != 1 || checks[0].ServiceName != "web" || checks[0].Status != catalog.HealthWarning {
		t.Fatalf("restored checks: %+v", checks)
	}
	if got := g.State().LatestIndex(); got != 8 {
		t.Fatalf("restored index %d, want 8", got)
	}
}

// TestRestoreRejectsBadStreams checks that VerifySnapshot refuses what
// Restore would refuse, and that a failed Restore leaves the store as it was
// (it decodes into a new database and swaps only on success).
func TestRestoreRejectsBadStreams(t *testing.T) {
	src := newFSM(t)
	for i := 0; i < 50; i++ {
		apply(t, src, uint64(i+1), KVSRequestType, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: fmt.Sprintf("k/%d", i), Value: []byte("v")}})
	}
	snap, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	var good sink
	if err := snap.Persist(&good); err != nil {
		t.Fatal(err)
	}
	snap.Release()
	if err := VerifySnapshot(bytes.NewReader(good.Bytes())); err != nil {
		t.Fatalf("VerifySnapshot of a good stream: %v", err)
	}

	tests := []struct {
		name   string
		stream []byte
	}{
		{"garbage", []byte{0xc1, 0x00}},
		{"empty", nil},
		{"truncated", good.Bytes()[:good.Len()/2]},
		{"no trailer", good.Bytes()[:good.Len()-1]},
		{"unknown version", append([]byte{0x07}, good.Bytes()[1:]...)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifySnapshot(bytes.NewReader(tc.stream)); err == nil {
				t.Error("VerifySnapshot accepted a bad stream")
			}
			f := newFSM(t)
			apply(t, f, 1, KVSRequestType, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: "keep"}})
			abandon := f.State().AbandonCh()
			if err := f.Restore(io.NopCloser(bytes.NewReader(tc.stream))); err == nil {
				t.Fatal("bad snapshot restored without error")
			}
			tx := f.State().ReadTxn()
			defer tx.Abort()
			if _, e, _ := kv.Get(tx, nil, "keep"); e == nil {
				t.Fatal("a failed restore must leave the store unchanged")
			}
			select {
			case <-abandon:
				t.Error("a failed restore closed the abandon channel")
			default:
			}
		})
	}
}
