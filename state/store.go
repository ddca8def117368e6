// Package state is the replicated state store's foundation: a go-memdb
// database assembled from the tables other packages own (kv, catalog, ...),
// the "index" table that records the Raft index at which each table last
// changed, the abandon channel closed when a snapshot restore replaces the
// whole database, and snapshot encoding.
//
// It imports no networking, Raft or HTTP: table packages build on it, and
// the FSM (server/fsm) drives it.
package state

import (
	"fmt"
	"sync"

	"github.com/hashicorp/go-memdb"
)

// Table describes one table a package contributes to the store.
type Table struct {
	// Schema is the go-memdb schema. Its "id" index must be unique; it is
	// what snapshots iterate.
	Schema *memdb.TableSchema
	// New returns a pointer to a zero row, used to decode snapshot records.
	New func() any
	// Type tags the table's records in snapshots. It is persisted: never
	// renumber. It must be unique, in 1-126 (a one-byte msgpack integer),
	// and, where a table holds what a Consul record type holds, that type
	// (KVS 2, Session 3, Tombstone 5), so that `consul snapshot inspect`
	// names them; Shoal's own tables use 100 and up.
	Type byte
}

// Store is the in-memory state store. It is safe for concurrent use: reads
// run in memdb read transactions and never block writers. Writes are made
// only by the FSM, one at a time.
type Store struct {
	tables []Table

	mu        sync.RWMutex // guards db and abandonCh across Restore
	db        *memdb.MemDB
	abandonCh chan struct{}
}

// NewStore builds an empty store with the given tables plus the index table.
func NewStore(tables ...Table) (*Store, error) {
	all := append([]Table{indexTable()}, tables...)
	db, err := newDB(all)
	if err != nil {
		return nil, err
	}
	return &Store{tables: all, db: db, abandonCh: make(chan struct{})}, nil
}

func newDB(tables []Table) (*memdb.MemDB, error) {
	schema := &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{}}
	types := map[byte]string{}
	for _, t := range tables {
		if _, dup := schema.Tables[t.Schema.Name]; dup {
			return nil, fmt.Errorf("state: table %q registered twice", t.Schema.Name)
		}
		if t.Type == 0 || t.Type >= recordEnd {
			return nil, fmt.Errorf("state: table %q: snapshot type %d not in 1-%d", t.Schema.Name, t.Type, recordEnd-1)
		}
		if other, dup := types[t.Type]; dup {
			return nil, fmt.Errorf("state: tables %q and %q share snapshot type %d", other, t.Schema.Name, t.Type)
		}
		types[t.Type] = t.Schema.Name
		schema.Tables[t.Schema.Name] = t.Schema
	}
	db, err := memdb.NewMemDB(schema)
	if err != nil {
		return nil, fmt.Errorf("state: schema: %w", err)
	}
	return db, nil
}

// ReadTxn starts a read transaction. Callers must not write through it.
func (s *Store) ReadTxn() *memdb.Txn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Txn(false)
}

// WriteTxn starts a write transaction; memdb serialises writers. Only the
// FSM writes.
func (s *Store) WriteTxn() *memdb.Txn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.db.Txn(true)
}

// AbandonCh is closed when a snapshot restore replaces the database: a
// blocking query must add it to its watch set, because the watch channels
// of the old database never fire again.
func (s *Store) AbandonCh() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.abandonCh
}

// LatestIndex is the highest index any table has recorded.
func (s *Store) LatestIndex() uint64 {
	tx := s.ReadTxn()
	defer tx.Abort()
	return MaxIndex(tx)
}
