package state

import (
	"errors"
	"fmt"
	"io"
	"reflect"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
)

// snapshotVersion is written first in every snapshot; Restore rejects others.
const snapshotVersion = 1

// MsgpackHandle is the codec used for snapshots and Raft commands.
func MsgpackHandle() *codec.MsgpackHandle {
	h := &codec.MsgpackHandle{}
	h.RawToString = true
	h.WriteExt = true
	h.MapType = reflect.TypeOf(map[string]any(nil))
	return h
}

// Snapshot is a point-in-time read view of the whole store, taken by the FSM
// and persisted by Raft in the background.
type Snapshot struct {
	tables []Table
	tx     *memdb.Txn
}

// Snapshot starts a consistent read view; Persist writes it; Release frees it.
func (s *Store) Snapshot() *Snapshot {
	return &Snapshot{tables: s.tables, tx: s.ReadTxn()}
}

// Persist writes every row of every table: the version, then pairs of
// (table name, row), closed by an empty table name.
func (sn *Snapshot) Persist(w io.Writer) error {
	enc := codec.NewEncoder(w, MsgpackHandle())
	if err := enc.Encode(snapshotVersion); err != nil {
		return fmt.Errorf("state: snapshot header: %w", err)
	}
	for _, t := range sn.tables {
		it, err := sn.tx.Get(t.Schema.Name, "id")
		if err != nil {
			return fmt.Errorf("state: snapshot %s: %w", t.Schema.Name, err)
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if err := enc.Encode(t.Schema.Name); err != nil {
				return fmt.Errorf("state: snapshot %s: %w", t.Schema.Name, err)
			}
			if err := enc.Encode(raw); err != nil {
				return fmt.Errorf("state: snapshot %s: %w", t.Schema.Name, err)
			}
		}
	}
	if err := enc.Encode(""); err != nil {
		return fmt.Errorf("state: snapshot trailer: %w", err)
	}
	return nil
}

// Release ends the read view.
func (sn *Snapshot) Release() { sn.tx.Abort() }

// Restore replaces the whole database with the snapshot read from r, then
// closes the old abandon channel so blocked queries re-run against the new
// data. On error the store is left unchanged.
func (s *Store) Restore(r io.Reader) error {
	db, err := newDB(s.tables)
	if err != nil {
		return err
	}
	byName := make(map[string]Table, len(s.tables))
	for _, t := range s.tables {
		byName[t.Schema.Name] = t
	}
	dec := codec.NewDecoder(r, MsgpackHandle())
	var version int
	if err := dec.Decode(&version); err != nil {
		return fmt.Errorf("state: restore header: %w", err)
	}
	if version != snapshotVersion {
		return fmt.Errorf("state: restore: unsupported snapshot version %d", version)
	}
	tx := db.Txn(true)
	defer tx.Abort()
	for {
		var name string
		if err := dec.Decode(&name); err != nil {
			if errors.Is(err, io.EOF) {
				return fmt.Errorf("state: restore: snapshot truncated")
			}
			return fmt.Errorf("state: restore: %w", err)
		}
		if name == "" {
			break
		}
		t, ok := byName[name]
		if !ok {
			return fmt.Errorf("state: restore: unknown table %q", name)
		}
		row := t.New()
		if err := dec.Decode(row); err != nil {
			return fmt.Errorf("state: restore %s: %w", name, err)
		}
		if err := tx.Insert(name, row); err != nil {
			return fmt.Errorf("state: restore %s: %w", name, err)
		}
	}
	tx.Commit()

	s.mu.Lock()
	old := s.abandonCh
	s.db, s.abandonCh = db, make(chan struct{})
	s.mu.Unlock()
	close(old)
	return nil
}
