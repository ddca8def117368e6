package kv

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

func newStore(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.NewStore(Tables()...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// write applies fn in one write transaction, committing on success.
func write(t *testing.T, st *state.Store, fn func(tx *memdb.Txn) error) {
	t.Helper()
	tx := st.WriteTxn()
	if err := fn(tx); err != nil {
		tx.Abort()
		t.Fatal(err)
	}
	tx.Commit()
}

func mustApply(t *testing.T, st *state.Store, idx uint64, req Request) bool {
	t.Helper()
	var ok bool
	write(t, st, func(tx *memdb.Txn) error {
		var err error
		ok, err = Apply(tx, idx, &req)
		return err
	})
	return ok
}

func setReq(key, val string) Request {
	return Request{Op: OpSet, Entry: Entry{Key: key, Value: []byte(val)}}
}

func getKey(t *testing.T, st *state.Store, ws memdb.WatchSet, key string) (uint64, *Entry) {
	t.Helper()
	tx := st.ReadTxn()
	defer tx.Abort()
	idx, e, err := Get(tx, ws, key)
	if err != nil {
		t.Fatal(err)
	}
	return idx, e
}

func listKeys(t *testing.T, st *state.Store, ws memdb.WatchSet, prefix string) (uint64, []string) {
	t.Helper()
	tx := st.ReadTxn()
	defer tx.Abort()
	idx, ents, err := List(tx, ws, prefix)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range ents {
		keys = append(keys, e.Key)
	}
	return idx, keys
}

// watchFired reports whether a write has closed one of ws's channels.
func watchFired(ws memdb.WatchSet) bool {
	timedOut := ws.Watch(time.After(50 * time.Millisecond))
	return !timedOut
}

func TestApplySemantics(t *testing.T) {
	type step struct {
		req    Request
		wantOK bool
	}
	cases := []struct {
		name    string
		steps   []step
		key     string
		want    string // "" means absent
		wantIdx uint64 // ModifyIndex or index reported
	}{
		{"set creates", []step{{setReq("a", "1"), true}}, "a", "1", 1},
		{"set overwrites", []step{{setReq("a", "1"), true}, {setReq("a", "2"), true}}, "a", "2", 2},
		{"cas 0 creates only", []step{
			{Request{Op: OpCAS, Entry: Entry{Key: "a", Value: []byte("1")}}, true},
			{Request{Op: OpCAS, Entry: Entry{Key: "a", Value: []byte("2")}}, false},
		}, "a", "1", 1},
		{"cas matching index", []step{
			{setReq("a", "1"), true},
			{Request{Op: OpCAS, Entry: Entry{Key: "a", Value: []byte("2"), ModifyIndex: 1}}, true},
		}, "a", "2", 2},
		{"cas stale index", []step{
			{setReq("a", "1"), true}, {setReq("a", "2"), true},
			{Request{Op: OpCAS, Entry: Entry{Key: "a", Value: []byte("3"), ModifyIndex: 1}}, false},
		}, "a", "2", 2},
		{"delete leaves tombstone index", []step{
			{setReq("a", "1"), true}, {Request{Op: OpDelete, Entry: Entry{Key: "a"}}, true},
		}, "a", "", 2},
		{"delete-cas stale", []step{
			{setReq("a", "1"), true}, {setReq("a", "2"), true},
			{Request{Op: OpDeleteCAS, Entry: Entry{Key: "a", ModifyIndex: 1}}, false},
		}, "a", "2", 2},
		{"delete-cas matching", []step{
			{setReq("a", "1"), true},
			{Request{Op: OpDeleteCAS, Entry: Entry{Key: "a", ModifyIndex: 1}}, true},
		}, "a", "", 2},
		{"delete-tree", []step{
			{setReq("p/a", "1"), true}, {setReq("p/b", "1"), true}, {setReq("q", "1"), true},
			{Request{Op: OpDeleteTree, Entry: Entry{Key: "p/"}}, true},
		}, "p/b", "", 4},
		{"binary value", []step{{Request{Op: OpSet, Entry: Entry{Key: "b", Value: []byte{0, 255, 10}}}, true}}, "b", "\x00\xff\n", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			for i, s := range tc.steps {
				if got := mustApply(t, st, uint64(i+1), s.req); got != s.wantOK {
					t.Fatalf("step %d (%s): ok=%v, want %v", i, s.req.Op, got, s.wantOK)
				}
			}
			idx, e := getKey(t, st, nil, tc.key)
			got := ""
			if e != nil {
				got = string(e.Value)
			}
			if got != tc.want || idx != tc.wantIdx {
				t.Fatalf("%s = %q @%d, want %q @%d", tc.key, got, idx, tc.want, tc.wantIdx)
			}
		})
	}
}

func TestKeysSeparator(t *testing.T) {
	st := newStore(t)
	for i, k := range []string{"a/b/c", "a/b/d", "a/e", "a/f/g", "b"} {
		mustApply(t, st, uint64(i+1), setReq(k, "x"))
	}
	cases := []struct {
		name, prefix, sep string
		want              []string
	}{
		{"all", "", "", []string{"a/b/c", "a/b/d", "a/e", "a/f/g", "b"}},
		{"root separator", "", "/", []string{"a/", "b"}},
		{"prefix separator", "a/", "/", []string{"a/b/", "a/e", "a/f/"}},
		{"missing", "zz", "/", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tx := st.ReadTxn()
			defer tx.Abort()
			_, keys, err := Keys(tx, nil, tc.prefix, tc.sep)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(keys, tc.want) {
				t.Fatalf("keys = %v, want %v", keys, tc.want)
			}
		})
	}
}

func TestWatchesOnlyWhatWasRead(t *testing.T) {
	cases := []struct {
		name    string
		read    func(t *testing.T, st *state.Store, ws memdb.WatchSet)
		write   Request
		wantHit bool
	}{
		{"key: same key", func(t *testing.T, st *state.Store, ws memdb.WatchSet) { getKey(t, st, ws, "app/a") },
			setReq("app/a", "2"), true},
		{"key: unrelated key", func(t *testing.T, st *state.Store, ws memdb.WatchSet) { getKey(t, st, ws, "app/a") },
			setReq("other/x", "2"), false},
		{"key: sibling key", func(t *testing.T, st *state.Store, ws memdb.WatchSet) { getKey(t, st, ws, "app/a") },
			setReq("app/b", "2"), false},
		{"key: new key sharing its prefix", func(t *testing.T, st *state.Store, ws memdb.WatchSet) { getKey(t, st, ws, "app/a") },
			setReq("app/aa", "2"), false},
		{"prefix: write inside", func(t *testing.T, st *state.Store, ws memdb.WatchSet) { listKeys(t, st, ws, "app/") },
			setReq("app/c", "1"), true},
		{"prefix: write outside", func(t *testing.T, st *state.Store, ws memdb.WatchSet) { listKeys(t, st, ws, "app/") },
			setReq("other/y", "1"), false},
		{"prefix: delete subtree", func(t *testing.T, st *state.Store, ws memdb.WatchSet) { listKeys(t, st, ws, "app/") },
			Request{Op: OpDeleteTree, Entry: Entry{Key: "app/"}}, true},
		{"missing key: created", func(t *testing.T, st *state.Store, ws memdb.WatchSet) { getKey(t, st, ws, "app/zz") },
			setReq("app/zz", "1"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			mustApply(t, st, 1, setReq("app/a", "1"))
			mustApply(t, st, 2, setReq("app/b", "1"))
			mustApply(t, st, 3, setReq("other/x", "1"))
			ws := memdb.NewWatchSet()
			tc.read(t, st, ws)
			mustApply(t, st, 4, tc.write)
			if got := watchFired(ws); got != tc.wantHit {
				t.Fatalf("watch fired = %v, want %v", got, tc.wantHit)
			}
		})
	}
}

func TestIndexNeverGoesBackwards(t *testing.T) {
	st := newStore(t)
	mustApply(t, st, 5, setReq("p/a", "1"))
	mustApply(t, st, 6, setReq("p/b", "1"))
	mustApply(t, st, 7, setReq("q", "1"))
	if idx, _ := listKeys(t, st, nil, "p/"); idx != 6 {
		t.Fatalf("prefix index %d, want 6", idx)
	}
	mustApply(t, st, 8, Request{Op: OpDelete, Entry: Entry{Key: "p/b"}})
	if idx, keys := listKeys(t, st, nil, "p/"); idx != 8 || len(keys) != 1 {
		t.Fatalf("after delete: index %d keys %v, want 8 and one key", idx, keys)
	}
	mustApply(t, st, 9, Request{Op: OpDeleteTree, Entry: Entry{Key: "p/"}})
	if idx, keys := listKeys(t, st, nil, "p/"); idx != 9 || len(keys) != 0 {
		t.Fatalf("after delete-tree: index %d keys %v, want 9 and none", idx, keys)
	}
	// Reaping the tombstones raises the floor: still not backwards.
	write(t, st, func(tx *memdb.Txn) error { return ReapTombstones(tx, 10, 9) })
	if idx, _ := listKeys(t, st, nil, "p/"); idx != 9 {
		t.Fatalf("after reap: index %d, want 9", idx)
	}
	if idx, _ := getKey(t, st, nil, "never"); idx != 9 {
		t.Fatalf("missing key after reap: index %d, want the floor 9", idx)
	}
	tx := st.ReadTxn()
	defer tx.Abort()
	if raw, _ := tx.First(TableTombstones, indexID, "p/a"); raw != nil {
		t.Fatal("tombstone not reaped")
	}
}

// fakeHealth is a catalog with nodes and check states.
type fakeHealth struct {
	nodes  map[string]bool
	checks map[string]bool // "node/check" → critical
}

func (h fakeHealth) NodeExists(_ *memdb.Txn, n string) bool { return h.nodes[n] }
func (h fakeHealth) CheckState(_ *memdb.Txn, n, c string) (bool, bool) {
	crit, ok := h.checks[n+"/"+c]
	return ok, crit
}

func healthy() fakeHealth {
	return fakeHealth{nodes: map[string]bool{"n1": true}, checks: map[string]bool{"n1/serfHealth": false}}
}

func createSession(t *testing.T, st *state.Store, idx uint64, h Health, s Session) error {
	t.Helper()
	tx := st.WriteTxn()
	defer tx.Abort()
	if err := ApplySession(tx, idx, h, &SessionRequest{Op: SessionCreate, Session: s}); err != nil {
		return err
	}
	tx.Commit()
	return nil
}

func TestSessionCreateValidation(t *testing.T) {
	h := healthy()
	h.checks["n1/bad"] = true
	cases := []struct {
		name    string
		s       Session
		wantErr error
	}{
		{"ok", Session{ID: "s1", Node: "n1", NodeChecks: []string{"serfHealth"}}, nil},
		{"no checks", Session{ID: "s1", Node: "n1"}, nil},
		{"missing node", Session{ID: "s1", Node: "n9"}, ErrSessionNodeMissing},
		{"missing check", Session{ID: "s1", Node: "n1", NodeChecks: []string{"nope"}}, ErrSessionCheckMissing},
		{"critical check", Session{ID: "s1", Node: "n1", NodeChecks: []string{"bad"}}, ErrSessionCheckCritical},
		{"critical service check", Session{ID: "s1", Node: "n1", ServiceChecks: []ServiceCheck{{ID: "bad"}}}, ErrSessionCheckCritical},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			err := createSession(t, st, 1, h, tc.s)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestLocksAndSessionInvalidation(t *testing.T) {
	const sec = int64(time.Second)
	cases := []struct {
		name      string
		behavior  SessionBehavior
		delay     time.Duration
		now       int64 // destroy time; 0 = catalog invalidation
		reacquire int64 // when the second session tries
		wantKey   bool
		wantLock  bool
	}{
		{"release, no delay", BehaviorRelease, 0, 100 * sec, 100 * sec, true, true},
		{"release, within delay", BehaviorRelease, 15 * time.Second, 100 * sec, 110 * sec, true, false},
		{"release, after delay", BehaviorRelease, 15 * time.Second, 100 * sec, 116 * sec, true, true},
		{"delete behaviour", BehaviorDelete, 0, 100 * sec, 100 * sec, false, true},
		{"catalog invalidation delays first attempt", BehaviorRelease, 15 * time.Second, 0, 100 * sec, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			h := healthy()
			if err := createSession(t, st, 1, h, Session{ID: "s1", Node: "n1", Behavior: tc.behavior, LockDelay: tc.delay, NodeChecks: []string{"serfHealth"}}); err != nil {
				t.Fatal(err)
			}
			if err := createSession(t, st, 2, h, Session{ID: "s2", Node: "n1"}); err != nil {
				t.Fatal(err)
			}
			lock := func(idx uint64, sess string, now int64) bool {
				return mustApply(t, st, idx, Request{Op: OpLock, Entry: Entry{Key: "l", Value: []byte(sess), Session: sess}, Now: now})
			}
			if !lock(3, "s1", 50*sec) {
				t.Fatal("s1 could not acquire a free lock")
			}
			if lock(4, "s2", 50*sec) {
				t.Fatal("s2 acquired a held lock")
			}
			if !lock(5, "s1", 50*sec) {
				t.Fatal("holder could not re-acquire")
			}
			if _, e := getKey(t, st, nil, "l"); e.LockIndex != 1 || e.Session != "s1" {
				t.Fatalf("entry %+v, want LockIndex 1 held by s1", e)
			}
			// A plain set does not change the lock.
			mustApply(t, st, 6, setReq("l", "plain"))
			if tc.now == 0 {
				h.checks["n1/serfHealth"] = true
				write(t, st, func(tx *memdb.Txn) error { return InvalidateNodeSessions(tx, 7, h, "n1") })
				h.checks["n1/serfHealth"] = false
			} else {
				write(t, st, func(tx *memdb.Txn) error { return DestroySession(tx, 7, "s1", tc.now) })
			}
			_, e := getKey(t, st, nil, "l")
			if (e != nil) != tc.wantKey {
				t.Fatalf("key present = %v, want %v", e != nil, tc.wantKey)
			}
			if e != nil && (e.Session != "" || e.ModifyIndex != 7) {
				t.Fatalf("released entry %+v", e)
			}
			if got := lock(9, "s2", tc.reacquire); got != tc.wantLock {
				t.Fatalf("re-acquire = %v, want %v", got, tc.wantLock)
			}
			if tc.wantLock && tc.wantKey {
				if _, e := getKey(t, st, nil, "l"); e.LockIndex != 2 {
					t.Fatalf("LockIndex %d, want 2", e.LockIndex)
				}
			}
		})
	}
}

func TestLockErrorsAndUnlock(t *testing.T) {
	st := newStore(t)
	tx := st.WriteTxn()
	_, err := Apply(tx, 1, &Request{Op: OpLock, Entry: Entry{Key: "l", Session: "nope"}})
	tx.Abort()
	if !errors.Is(err, ErrInvalidSession) {
		t.Fatalf("lock with unknown session: %v", err)
	}
	if err := createSession(t, st, 2, healthy(), Session{ID: "s1", Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	mustApply(t, st, 3, Request{Op: OpLock, Entry: Entry{Key: "l", Session: "s1"}})
	if mustApply(t, st, 4, Request{Op: OpUnlock, Entry: Entry{Key: "l", Session: "other"}}) {
		t.Fatal("non-holder unlocked")
	}
	if !mustApply(t, st, 5, Request{Op: OpUnlock, Entry: Entry{Key: "l", Session: "s1", Value: []byte("v")}}) {
		t.Fatal("holder could not unlock")
	}
	if _, e := getKey(t, st, nil, "l"); e.Session != "" || e.LockIndex != 1 || string(e.Value) != "v" {
		t.Fatalf("after unlock %+v", e)
	}
}

func TestTxnAtomic(t *testing.T) {
	cases := []struct {
		name     string
		ops      []TxnOp
		wantErrs []int // failing op indexes
		wantA    string
		results  int
	}{
		{"all succeed", []TxnOp{
			{Verb: OpSet, Entry: Entry{Key: "a", Value: []byte("2")}},
			{Verb: OpGet, Entry: Entry{Key: "a"}},
			{Verb: OpCheckNotExists, Entry: Entry{Key: "zz"}},
		}, nil, "2", 2},
		{"cas failure rolls back", []TxnOp{
			{Verb: OpSet, Entry: Entry{Key: "a", Value: []byte("2")}},
			{Verb: OpCAS, Entry: Entry{Key: "b", Value: []byte("x"), ModifyIndex: 99}},
		}, []int{1}, "1", 0},
		{"get missing fails", []TxnOp{
			{Verb: OpDelete, Entry: Entry{Key: "a"}},
			{Verb: OpGet, Entry: Entry{Key: "missing"}},
			{Verb: OpCheckIndex, Entry: Entry{Key: "b", ModifyIndex: 3}},
		}, []int{1, 2}, "1", 0},
		{"check-index ok and delete-tree", []TxnOp{
			{Verb: OpCheckIndex, Entry: Entry{Key: "a", ModifyIndex: 1}},
			{Verb: OpDeleteTree, Entry: Entry{Key: ""}},
			{Verb: OpGetTree, Entry: Entry{Key: ""}},
		}, nil, "", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t)
			mustApply(t, st, 1, setReq("a", "1"))
			mustApply(t, st, 2, setReq("b", "1"))
			tx := st.WriteTxn()
			res, err := Txn(tx, 3, &TxnRequest{Ops: tc.ops})
			var errs TxnErrors
			if errors.As(err, &errs) {
				tx.Abort()
			} else if err != nil {
				t.Fatal(err)
			} else {
				tx.Commit()
			}
			var got []int
			for _, e := range errs {
				got = append(got, e.OpIndex)
			}
			if !slices.Equal(got, tc.wantErrs) {
				t.Fatalf("failed ops %v, want %v (%v)", got, tc.wantErrs, err)
			}
			if len(res) != tc.results {
				t.Fatalf("%d results, want %d", len(res), tc.results)
			}
			_, e := getKey(t, st, nil, "a")
			val := ""
			if e != nil {
				val = string(e.Value)
			}
			if val != tc.wantA {
				t.Fatalf("a = %q, want %q", val, tc.wantA)
			}
		})
	}
}

func TestReapLockDelays(t *testing.T) {
	const sec = int64(time.Second)
	st := newStore(t)
	write(t, st, func(tx *memdb.Txn) error {
		for _, d := range []*LockDelay{
			{Key: "expired", Start: 10 * sec, Delay: 5 * time.Second},
			{Key: "running", Start: 18 * sec, Delay: 5 * time.Second},
			{Key: "pending", Start: 0, Delay: 5 * time.Second},
		} {
			if err := tx.Insert(TableLockDelay, d); err != nil {
				return err
			}
		}
		return ReapLockDelays(tx, 20*sec)
	})
	tx := st.ReadTxn()
	defer tx.Abort()
	for key, want := range map[string]bool{"expired": false, "running": true, "pending": true} {
		raw, _ := tx.First(TableLockDelay, indexID, key)
		if (raw != nil) != want {
			t.Errorf("%s kept = %v, want %v", key, raw != nil, want)
		}
	}
}
