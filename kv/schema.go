package kv

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// Table names.
const (
	TableKVs        = "kvs"
	TableTombstones = "tombstones"
	TableLockDelay  = "kvs_lock_delay"
	TableSessions   = "sessions"
)

// Index names.
const (
	indexID      = "id"
	indexSession = "session"
	indexNode    = "node"
)

// reapedIndexKey is the index-table row holding the highest tombstone index
// reaped so far: the floor every missing key reports.
const reapedIndexKey = "tombstones.reaped"

// Tables returns the KV and session tables for state.NewStore.
func Tables() []state.Table {
	return []state.Table{
		// Snapshot types are persisted: never renumber. KV, sessions and
		// tombstones use Consul's record types (inspect names them).
		{Schema: kvsTableSchema(), New: func() any { return new(Entry) }, Type: 2},
		{Schema: tombstonesTableSchema(), New: func() any { return new(Tombstone) }, Type: 5},
		{Schema: lockDelayTableSchema(), New: func() any { return new(LockDelay) }, Type: 101},
		{Schema: sessionsTableSchema(), New: func() any { return new(Session) }, Type: 3},
	}
}

func kvsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableKVs,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: &state.StringIndex[Entry]{Of: func(e *Entry) string { return e.Key }}},
			indexSession: {Name: indexSession, AllowMissing: true,
				Indexer: &state.StringIndex[Entry]{Of: func(e *Entry) string { return e.Session }}},
		},
	}
}

func tombstonesTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableTombstones,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: &state.StringIndex[Tombstone]{Of: func(t *Tombstone) string { return t.Key }}},
		},
	}
}

func lockDelayTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableLockDelay,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Key"}},
		},
	}
}

func sessionsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableSessions,
		Indexes: map[string]*memdb.IndexSchema{
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
			indexNode: {Name: indexNode,
				Indexer: &memdb.StringFieldIndex{Field: "Node", Lowercase: true}},
		},
	}
}
