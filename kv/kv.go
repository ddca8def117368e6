// Package kv owns the key/value store's state-store table, its write
// operations (applied by the FSM with Consul's semantics) and its queries.
// It is pure: no networking, Raft or HTTP.
package kv

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// TableKVs is the KV table's name.
const TableKVs = "kvs"

const indexID = "id"

// Entry is one key, shaped as Consul's DirEntry.
type Entry struct {
	LockIndex   uint64
	Key         string
	Flags       uint64
	Value       []byte
	Session     string `json:",omitempty"`
	CreateIndex uint64
	ModifyIndex uint64
}

// Tables returns the KV tables for state.NewStore.
func Tables() []state.Table {
	return []state.Table{{Schema: kvsTableSchema(), New: func() any { return new(Entry) }}}
}

func kvsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableKVs,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
		},
	}
}

// Op names a KV write, as Consul's KVSOp.
type Op string

// The KV write operations.
const (
	OpSet        Op = "set"
	OpCAS        Op = "cas"
	OpDelete     Op = "delete"
	OpDeleteCAS  Op = "delete-cas"
	OpDeleteTree Op = "delete-tree"
)

// Request is one KV write, the FSM command body.
type Request struct {
	Op    Op
	Entry Entry
}

// Apply performs req at Raft index idx and reports whether it took effect
// (false for a failed CAS).
func Apply(tx *memdb.Txn, idx uint64, req *Request) (bool, error) {
	e := req.Entry
	switch req.Op {
	case OpSet:
		return true, set(tx, idx, &e)
	case OpCAS:
		cur, err := get(tx, nil, e.Key)
		if err != nil {
			return false, err
		}
		if (e.ModifyIndex == 0 && cur != nil) || (e.ModifyIndex != 0 && (cur == nil || cur.ModifyIndex != e.ModifyIndex)) {
			return false, nil
		}
		return true, set(tx, idx, &e)
	case OpDelete:
		return true, deleteKey(tx, idx, e.Key)
	case OpDeleteCAS:
		cur, err := get(tx, nil, e.Key)
		if err != nil {
			return false, err
		}
		if cur == nil {
			return e.ModifyIndex == 0, nil
		}
		if cur.ModifyIndex != e.ModifyIndex {
			return false, nil
		}
		return true, deleteKey(tx, idx, e.Key)
	case OpDeleteTree:
		n, err := tx.DeletePrefix(TableKVs, indexID+"_prefix", e.Key)
		if err != nil {
			return false, fmt.Errorf("kv: delete tree %q: %w", e.Key, err)
		}
		if n {
			return true, state.UpdateIndex(tx, TableKVs, idx)
		}
		return true, nil
	default:
		return false, fmt.Errorf("kv: unknown operation %q", req.Op)
	}
}

func set(tx *memdb.Txn, idx uint64, e *Entry) error {
	cur, err := get(tx, nil, e.Key)
	if err != nil {
		return err
	}
	if cur != nil {
		e.CreateIndex, e.LockIndex, e.Session = cur.CreateIndex, cur.LockIndex, cur.Session
	} else {
		e.CreateIndex = idx
	}
	e.ModifyIndex = idx
	if err := tx.Insert(TableKVs, e); err != nil {
		return fmt.Errorf("kv: set %q: %w", e.Key, err)
	}
	return state.UpdateIndex(tx, TableKVs, idx)
}

func deleteKey(tx *memdb.Txn, idx uint64, key string) error {
	cur, err := get(tx, nil, key)
	if err != nil || cur == nil {
		return err
	}
	if err := tx.Delete(TableKVs, cur); err != nil {
		return fmt.Errorf("kv: delete %q: %w", key, err)
	}
	return state.UpdateIndex(tx, TableKVs, idx)
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

// Get returns the entry at key (nil when absent) and the index a blocking
// query on it should report.
func Get(tx *memdb.Txn, ws memdb.WatchSet, key string) (uint64, *Entry, error) {
	e, err := get(tx, ws, key)
	if err != nil {
		return 0, nil, err
	}
	idx := state.MaxIndex(tx, TableKVs)
	if e != nil {
		idx = e.ModifyIndex
	}
	return idx, e, nil
}

// List returns the entries under prefix, in key order.
func List(tx *memdb.Txn, ws memdb.WatchSet, prefix string) (uint64, []*Entry, error) {
	it, err := tx.Get(TableKVs, indexID+"_prefix", prefix)
	if err != nil {
		return 0, nil, fmt.Errorf("kv: list %q: %w", prefix, err)
	}
	ws.Add(it.WatchCh())
	var out []*Entry
	var idx uint64
	for raw := it.Next(); raw != nil; raw = it.Next() {
		e := raw.(*Entry)
		out = append(out, e)
		idx = max(idx, e.ModifyIndex)
	}
	if idx == 0 {
		idx = state.MaxIndex(tx, TableKVs)
	}
	return idx, out, nil
}
