package kv

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// Entry is one key, shaped as Consul's DirEntry (and its JSON).
type Entry struct {
	LockIndex   uint64
	Key         string
	Flags       uint64
	Value       []byte
	Session     string `json:",omitempty"`
	CreateIndex uint64
	ModifyIndex uint64
}

// Tombstone records that Key was deleted at Index.
type Tombstone struct {
	Key   string
	Index uint64
}

// LockDelay forbids acquiring Key for Delay after a session holding it was
// invalidated. Start is the leader's clock (Unix nanoseconds) when the
// delay began; 0 means the invalidating command carried no time (a catalog
// change), and the delay starts at the next lock attempt.
type LockDelay struct {
	Key   string
	Start int64
	Delay time.Duration
}

// MaxLockDelay caps a session's lock-delay, as Consul's.
const MaxLockDelay = 60 * time.Second

// Op names a KV write, as Consul's KVSOp.
type Op string

// The KV operations. The check and get verbs are only valid in a
// transaction.
const (
	OpSet            Op = "set"
	OpCAS            Op = "cas"
	OpLock           Op = "lock"
	OpUnlock         Op = "unlock"
	OpDelete         Op = "delete"
	OpDeleteCAS      Op = "delete-cas"
	OpDeleteTree     Op = "delete-tree"
	OpGet            Op = "get"
	OpGetTree        Op = "get-tree"
	OpCheckIndex     Op = "check-index"
	OpCheckSession   Op = "check-session"
	OpCheckNotExists Op = "check-not-exists"
)

// Errors of KV writes. They reach API callers as their text.
var (
	// ErrMissingSession means a lock or unlock named no session.
	ErrMissingSession = errors.New("missing session")
	// ErrInvalidSession means a lock named a session that does not exist.
	ErrInvalidSession = errors.New("invalid session")
	// ErrUnknownOp means a request carried an operation this version does
	// not know.
	ErrUnknownOp = errors.New("unknown KV operation")
)

// Request is one KV write, the FSM command body.
type Request struct {
	Op    Op
	Entry Entry
	// Now is the leader's clock (Unix nanoseconds) when it accepted the
	// request: lock acquisition compares it with lock delays.
	Now int64
}

// Apply performs req at Raft index idx and reports whether it took effect
// (false for a failed CAS, a lock held by another session or in its
// lock-delay, or an unlock by a non-holder).
func Apply(tx *memdb.Txn, idx uint64, req *Request) (bool, error) {
	ok, _, err := apply(tx, idx, req.Op, &req.Entry, req.Now)
	return ok, err
}

// apply performs one write and returns, when it succeeded, the entry it
// wrote (nil for deletes).
func apply(tx *memdb.Txn, idx uint64, op Op, in *Entry, now int64) (bool, *Entry, error) {
	e := *in
	switch op {
	case OpSet:
		out, err := set(tx, idx, &e)
		return err == nil, out, err
	case OpCAS:
		cur, err := get(tx, nil, e.Key)
		if err != nil {
			return false, nil, err
		}
		if (e.ModifyIndex == 0 && cur != nil) || (e.ModifyIndex != 0 && (cur == nil || cur.ModifyIndex != e.ModifyIndex)) {
			return false, nil, nil
		}
		out, err := set(tx, idx, &e)
		return err == nil, out, err
	case OpLock:
		return lock(tx, idx, &e, now)
	case OpUnlock:
		return unlock(tx, idx, &e)
	case OpDelete:
		return true, nil, deleteKey(tx, idx, e.Key)
	case OpDeleteCAS:
		cur, err := get(tx, nil, e.Key)
		if err != nil {
			return false, nil, err
		}
		if cur == nil {
			return e.ModifyIndex == 0, nil, nil
		}
		if cur.ModifyIndex != e.ModifyIndex {
			return false, nil, nil
		}
		return true, nil, deleteKey(tx, idx, e.Key)
	case OpDeleteTree:
		return true, nil, deleteTree(tx, idx, e.Key)
	default:
		return false, nil, fmt.Errorf("%w %q", ErrUnknownOp, op)
	}
}

// set writes e, keeping the existing entry's CreateIndex, LockIndex and
// Session (a plain set never changes a lock).
func set(tx *memdb.Txn, idx uint64, e *Entry) (*Entry, error) {
	cur, err := get(tx, nil, e.Key)
	if err != nil {
		return nil, err
	}
	if cur != nil {
		e.CreateIndex, e.LockIndex, e.Session = cur.CreateIndex, cur.LockIndex, cur.Session
	} else {
		e.CreateIndex, e.LockIndex, e.Session = idx, 0, ""
	}
	return e, insert(tx, idx, e)
}

func insert(tx *memdb.Txn, idx uint64, e *Entry) error {
	e.ModifyIndex = idx
	if err := tx.Insert(TableKVs, e); err != nil {
		return fmt.Errorf("kv: set %q: %w", e.Key, err)
	}
	return state.UpdateIndex(tx, TableKVs, idx)
}

// lock acquires e.Key for e.Session, as Consul's kvsLockTxn: the session
// must exist; a key held by another session, or in lock-delay, is not
// acquired; re-acquiring by the holder updates the value only.
func lock(tx *memdb.Txn, idx uint64, e *Entry, now int64) (bool, *Entry, error) {
	if e.Session == "" {
		return false, nil, ErrMissingSession
	}
	sess, err := tx.First(TableSessions, indexID, e.Session)
	if err != nil {
		return false, nil, fmt.Errorf("kv: session lookup: %w", err)
	}
	if sess == nil {
		return false, nil, fmt.Errorf("%w %q", ErrInvalidSession, e.Session)
	}
	if delayed, err := inLockDelay(tx, e.Key, now); err != nil || delayed {
		return false, nil, err
	}
	cur, err := get(tx, nil, e.Key)
	if err != nil {
		return false, nil, err
	}
	switch {
	case cur == nil:
		e.CreateIndex, e.LockIndex = idx, 1
	case cur.Session != "" && cur.Session != e.Session:
		return false, nil, nil
	case cur.Session == e.Session:
		e.CreateIndex, e.LockIndex = cur.CreateIndex, cur.LockIndex
	default:
		e.CreateIndex, e.LockIndex = cur.CreateIndex, cur.LockIndex+1
	}
	return true, e, insert(tx, idx, e)
}

// inLockDelay reports whether key may not be acquired at now. A pending
// delay (Start 0) starts at now; an expired one is removed.
func inLockDelay(tx *memdb.Txn, key string, now int64) (bool, error) {
	raw, err := tx.First(TableLockDelay, indexID, key)
	if err != nil || raw == nil {
		return false, err
	}
	d := raw.(*LockDelay)
	if d.Start == 0 {
		nd := *d
		nd.Start = now
		if err := tx.Insert(TableLockDelay, &nd); err != nil {
			return false, fmt.Errorf("kv: lock delay: %w", err)
		}
		return true, nil
	}
	if now < d.Start+int64(d.Delay) {
		return true, nil
	}
	if err := tx.Delete(TableLockDelay, d); err != nil {
		return false, fmt.Errorf("kv: lock delay: %w", err)
	}
	return false, nil
}

// unlock releases e.Key if e.Session holds it, writing e's value.
func unlock(tx *memdb.Txn, idx uint64, e *Entry) (bool, *Entry, error) {
	if e.Session == "" {
		return false, nil, ErrMissingSession
	}
	cur, err := get(tx, nil, e.Key)
	if err != nil || cur == nil || cur.Session != e.Session {
		return false, nil, err
	}
	e.CreateIndex, e.LockIndex, e.Session = cur.CreateIndex, cur.LockIndex, ""
	return true, e, insert(tx, idx, e)
}

func deleteKey(tx *memdb.Txn, idx uint64, key string) error {
	cur, err := get(tx, nil, key)
	if err != nil || cur == nil {
		return err
	}
	return deleteEntry(tx, idx, cur)
}

// deleteEntry removes e and leaves its tombstone.
func deleteEntry(tx *memdb.Txn, idx uint64, e *Entry) error {
	if err := tx.Delete(TableKVs, e); err != nil {
		return fmt.Errorf("kv: delete %q: %w", e.Key, err)
	}
	if err := tx.Insert(TableTombstones, &Tombstone{Key: e.Key, Index: idx}); err != nil {
		return fmt.Errorf("kv: tombstone %q: %w", e.Key, err)
	}
	if err := state.UpdateIndex(tx, TableTombstones, idx); err != nil {
		return err
	}
	return state.UpdateIndex(tx, TableKVs, idx)
}

func deleteTree(tx *memdb.Txn, idx uint64, prefix string) error {
	it, err := tx.Get(TableKVs, indexID+"_prefix", prefix)
	if err != nil {
		return fmt.Errorf("kv: delete tree %q: %w", prefix, err)
	}
	var doomed []*Entry
	for raw := it.Next(); raw != nil; raw = it.Next() {
		doomed = append(doomed, raw.(*Entry))
	}
	for _, e := range doomed {
		if err := deleteEntry(tx, idx, e); err != nil {
			return err
		}
	}
	return nil
}

// ReapTombstones removes the tombstones at or below index and raises the
// floor missing keys report to index.
func ReapTombstones(tx *memdb.Txn, idx, index uint64) error {
	it, err := tx.Get(TableTombstones, indexID)
	if err != nil {
		return fmt.Errorf("kv: reap: %w", err)
	}
	var doomed []*Tombstone
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if t := raw.(*Tombstone); t.Index <= index {
			doomed = append(doomed, t)
		}
	}
	for _, t := range doomed {
		if err := tx.Delete(TableTombstones, t); err != nil {
			return fmt.Errorf("kv: reap %q: %w", t.Key, err)
		}
	}
	return state.UpdateIndex(tx, reapedIndexKey, index)
}

// ReapLockDelays removes the lock delays that have expired at now (the
// leader's clock, Unix nanoseconds), so that keys never acquired again do
// not keep their rows forever. Pending delays (Start 0) stay.
func ReapLockDelays(tx *memdb.Txn, now int64) error {
	it, err := tx.Get(TableLockDelay, indexID)
	if err != nil {
		return fmt.Errorf("kv: reap lock delays: %w", err)
	}
	var doomed []*LockDelay
	for raw := it.Next(); raw != nil; raw = it.Next() {
		if d := raw.(*LockDelay); d.Start != 0 && now >= d.Start+int64(d.Delay) {
			doomed = append(doomed, d)
		}
	}
	for _, d := range doomed {
		if err := tx.Delete(TableLockDelay, d); err != nil {
			return fmt.Errorf("kv: reap lock delay %q: %w", d.Key, err)
		}
	}
	return nil
}

func get(tx *memdb.Txn, ws memdb.WatchSet, key string) (*Entry, error) {
	ch, raw, err := tx.FirstWatch(TableKVs, indexID, key)
	if err != nil {
		return nil, fmt.Errorf("kv: get %q: %w", key, err)
	}
	if ws != nil {
		ws.Add(ch)
	}
	if raw == nil {
		return nil, nil
	}
	return raw.(*Entry), nil
}

// reapedFloor is the highest reaped tombstone index (0 if none).
func reapedFloor(tx *memdb.Txn) uint64 { return state.MaxIndex(tx, reapedIndexKey) }

// tombstoneIndex is the highest index of the tombstones under prefix, or
// of the one at exactly key when exact is set.
func tombstoneIndex(tx *memdb.Txn, key string, exact bool) (uint64, error) {
	if exact {
		raw, err := tx.First(TableTombstones, indexID, key)
		if err != nil || raw == nil {
			return 0, err
		}
		return raw.(*Tombstone).Index, nil
	}
	it, err := tx.Get(TableTombstones, indexID+"_prefix", key)
	if err != nil {
		return 0, fmt.Errorf("kv: tombstones %q: %w", key, err)
	}
	var idx uint64
	for raw := it.Next(); raw != nil; raw = it.Next() {
		idx = max(idx, raw.(*Tombstone).Index)
	}
	return idx, nil
}

// Get returns the entry at key (nil when absent) and the index a blocking
// query on it reports: the entry's ModifyIndex, or for a missing key its
// tombstone's index or the reaped floor. Only the key's own radix node is
// added to ws.
func Get(tx *memdb.Txn, ws memdb.WatchSet, key string) (uint64, *Entry, error) {
	e, err := get(tx, ws, key)
	if err != nil {
		return 0, nil, err
	}
	if e != nil {
		return e.ModifyIndex, e, nil
	}
	idx, err := tombstoneIndex(tx, key, true)
	if err != nil {
		return 0, nil, err
	}
	return max(idx, reapedFloor(tx)), nil, nil
}

// WatchLimit bounds the channels one read adds to a watch set; beyond it
// the read watches the whole table instead (memdb.WatchSet.AddWithLimit).
const WatchLimit = 2048

// List returns the entries under prefix, in key order, and the highest
// index among them, the prefix's tombstones and the reaped floor. It adds
// one channel to ws, the prefix's radix subtree, whatever its size.
func List(tx *memdb.Txn, ws memdb.WatchSet, prefix string) (uint64, []*Entry, error) {
	idx, err := tombstoneIndex(tx, prefix, false)
	if err != nil {
		return 0, nil, err
	}
	idx = max(idx, reapedFloor(tx))
	it, err := tx.Get(TableKVs, indexID+"_prefix", prefix)
	if err != nil {
		return 0, nil, fmt.Errorf("kv: list %q: %w", prefix, err)
	}
	if ws != nil {
		ws.Add(it.WatchCh())
	}
	var out []*Entry
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*Entry)
		out = append(out, e)
		idx = max(idx, e.ModifyIndex)
	}
	return idx, out, nil
}

// addKeyWatch adds one key's channel to ws, or, once ws holds WatchLimit
// channels, the KV table's index row instead (which any KV write fires), so
// a read of many keys cannot grow a watch set without bound.
func addKeyWatch(tx *memdb.Txn, ws memdb.WatchSet, ch <-chan struct{}) {
	if ws == nil {
		return
	}
	fallback, _, err := tx.FirstWatch(state.TableIndex, "id", TableKVs)
	if err != nil {
		ws.Add(ch)
		return
	}
	ws.AddWithLimit(WatchLimit, ch, fallback)
}

// Keys returns the keys under prefix, cut after the first separator that
// follows the prefix (deduplicated), as Consul's ?keys&separator=.
func Keys(tx *memdb.Txn, ws memdb.WatchSet, prefix, sep string) (uint64, []string, error) {
	idx, ents, err := List(tx, ws, prefix)
	if err != nil {
		return 0, nil, err
	}
	var keys []string
	last := ""
	for _, e := range ents {
		if sep == "" {
			keys = append(keys, e.Key)
			continue
		}
		after := e.Key[len(prefix):]
		if i := strings.Index(after, sep); i >= 0 {
			k := e.Key[:len(prefix)+i+len(sep)]
			if k != last {
				keys = append(keys, k)
				last = k
			}
			continue
		}
		keys = append(keys, e.Key)
	}
	return idx, keys, nil
}

// Batchable reports whether op may share a Raft entry with other writes
// (see BatchRequest): it is a plain write that fails only by its own
// condition, never with an error.
func Batchable(op Op) bool {
	switch op {
	case OpSet, OpCAS, OpDelete, OpDeleteCAS:
		return true
	}
	return false
}

// BatchRequest is several independent KV writes the leader grouped into
// one Raft entry (group commit). Each applies as if alone, in order, at
// the same index; their results are independent, unlike a transaction's.
type BatchRequest struct {
	Ops []Request
}

// ApplyBatch applies every write of req at index idx and returns each
// one's result. An error (which only a corrupt store can cause) fails the
// whole batch.
func ApplyBatch(tx *memdb.Txn, idx uint64, req *BatchRequest) ([]bool, error) {
	out := make([]bool, len(req.Ops))
	for i := range req.Ops {
		op := &req.Ops[i]
		if !Batchable(op.Op) {
			return nil, fmt.Errorf("%w %q in a batch", ErrUnknownOp, op.Op)
		}
		ok, err := Apply(tx, idx, op)
		if err != nil {
			return nil, err
		}
		out[i] = ok
	}
	return out, nil
}
