package kv

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-memdb"
)

// MaxTxnOps is the most operations one transaction may hold, as current
// Consul's.
const MaxTxnOps = 128

// TxnOp is one KV operation of a transaction: Consul's TxnKVOp.
type TxnOp struct {
	Verb  Op
	Entry Entry
}

// TxnResult is one result of a transaction: the entry an operation wrote
// (without its value) or read.
type TxnResult struct {
	KV *Entry
}

// TxnError is why a transaction was rolled back, as Consul's TxnError.
type TxnError struct {
	OpIndex int
	What    string
}

// TxnErrors is the error Txn returns when an operation failed: the FSM
// then rolls the whole transaction back.
type TxnErrors []TxnError

func (e TxnErrors) Error() string {
	parts := make([]string, len(e))
	for i, x := range e {
		parts[i] = fmt.Sprintf("op %d: %s", x.OpIndex, x.What)
	}
	return "kv: transaction rolled back: " + strings.Join(parts, "; ")
}

// TxnRequest is a transaction, the FSM command body.
type TxnRequest struct {
	Ops []TxnOp
	// Now is the leader's clock (Unix nanoseconds), for lock operations.
	Now int64
}

// IsRead reports whether every operation only reads, so the transaction
// may be served without Raft.
func (r *TxnRequest) IsRead() bool {
	for _, op := range r.Ops {
		switch op.Verb {
		case OpGet, OpGetTree, OpCheckIndex, OpCheckSession, OpCheckNotExists:
		default:
			return false
		}
	}
	return true
}

// Txn applies every operation of req at index idx within tx, in order. It
// returns the results, or TxnErrors when any operation failed — the
// caller must then abort tx, so that nothing is applied.
func Txn(tx *memdb.Txn, idx uint64, req *TxnRequest) ([]TxnResult, error) {
	results, errs := txnOps(tx, nil, idx, req.Now, req.Ops)
	if len(errs) > 0 {
		return nil, errs
	}
	return results, nil
}

// TxnRead runs a read-only transaction (see TxnRequest.IsRead), adding
// what it read to ws (bounded by WatchLimit).
func TxnRead(tx *memdb.Txn, ws memdb.WatchSet, req *TxnRequest) ([]TxnResult, TxnErrors) {
	if !req.IsRead() {
		return nil, TxnErrors{{What: "kv: read transaction holds a write"}}
	}
	if ws == nil {
		ws = memdb.NewWatchSet()
	}
	return txnOps(tx, ws, 0, 0, req.Ops)
}

// txnOps runs every op, collecting the results, or the errors of those
// that failed (then no results).
func txnOps(tx *memdb.Txn, ws memdb.WatchSet, idx uint64, now int64, ops []TxnOp) ([]TxnResult, TxnErrors) {
	var results []TxnResult
	var errs TxnErrors
	for i := range ops {
		res, err := txnOp(tx, ws, idx, &ops[i], now)
		if err != nil {
			errs = append(errs, TxnError{OpIndex: i, What: err.Error()})
			continue
		}
		results = append(results, res...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return results, nil
}

func txnOp(tx *memdb.Txn, ws memdb.WatchSet, idx uint64, op *TxnOp, now int64) ([]TxnResult, error) {
	e := &op.Entry
	switch op.Verb {
	case OpGet:
		ch, raw, err := tx.FirstWatch(TableKVs, indexID, e.Key)
		if err != nil {
			return nil, err
		}
		addKeyWatch(tx, ws, ch)
		if raw == nil {
			return nil, fmt.Errorf("key %q doesn't exist", e.Key)
		}
		return []TxnResult{{KV: raw.(*Entry)}}, nil
	case OpGetTree:
		_, ents, err := List(tx, ws, e.Key)
		if err != nil {
			return nil, err
		}
		out := make([]TxnResult, len(ents))
		for i, ent := range ents {
			out[i] = TxnResult{KV: ent}
		}
		return out, nil
	case OpCheckIndex, OpCheckSession, OpCheckNotExists:
		ch, raw, err := tx.FirstWatch(TableKVs, indexID, e.Key)
		if err != nil {
			return nil, err
		}
		addKeyWatch(tx, ws, ch)
		if op.Verb == OpCheckNotExists {
			if raw != nil {
				return nil, fmt.Errorf("key %q exists", e.Key)
			}
			return nil, nil
		}
		if raw == nil {
			return nil, fmt.Errorf("key %q doesn't exist", e.Key)
		}
		cur := raw.(*Entry)
		if op.Verb == OpCheckIndex && cur.ModifyIndex != e.ModifyIndex {
			return nil, fmt.Errorf("current modify index %d for key %q doesn't match %d", cur.ModifyIndex, e.Key, e.ModifyIndex)
		}
		if op.Verb == OpCheckSession && cur.Session != e.Session {
			return nil, fmt.Errorf("failed session check for key %q, current session %q != %q", e.Key, cur.Session, e.Session)
		}
		return []TxnResult{{KV: withoutValue(cur)}}, nil
	}
	if ws != nil {
		return nil, fmt.Errorf("operation %q is not a read", op.Verb)
	}
	ok, out, err := apply(tx, idx, op.Verb, e, now)
	if err != nil {
		return nil, err
	}
	if !ok {
		switch op.Verb {
		case OpCAS:
			return nil, fmt.Errorf("failed to set key %q, index is stale", e.Key)
		case OpDeleteCAS:
			return nil, fmt.Errorf("failed to delete key %q, index is stale", e.Key)
		case OpLock:
			return nil, fmt.Errorf("failed to lock key %q, lock failed", e.Key)
		case OpUnlock:
			return nil, fmt.Errorf("failed to unlock key %q, unlock failed", e.Key)
		}
		return nil, fmt.Errorf("failed to apply %s on key %q", op.Verb, e.Key)
	}
	if out == nil {
		return nil, nil
	}
	return []TxnResult{{KV: withoutValue(out)}}, nil
}

func withoutValue(e *Entry) *Entry {
	c := *e
	c.Value = nil
	return &c
}
