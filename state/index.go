package state

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
)

// TableIndex is the name of the table recording, per table, the Raft index
// of its last change.
const TableIndex = "index"

// IndexEntry is one row of the index table.
type IndexEntry struct {
	Key   string
	Value uint64
}

func indexTable() Table {
	return Table{
		Schema: &memdb.TableSchema{
			Name: TableIndex,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: &StringIndex[IndexEntry]{Of: func(e *IndexEntry) string { return e.Key }}},
			},
		},
		New:  func() any { return new(IndexEntry) },
		Type: 100,
	}
}

// UpdateIndex records idx as the latest change of table (never lowering it).
func UpdateIndex(tx *memdb.Txn, table string, idx uint64) error {
	raw, err := tx.First(TableIndex, "id", table)
	if err != nil {
		return fmt.Errorf("state: index lookup %q: %w", table, err)
	}
	if raw != nil && raw.(*IndexEntry).Value >= idx {
		return nil
	}
	if err := tx.Insert(TableIndex, &IndexEntry{Key: table, Value: idx}); err != nil {
		return fmt.Errorf("state: index update %q: %w", table, err)
	}
	return nil
}

// MaxIndex is the highest index recorded for the named tables, or for all
// tables when none is named.
func MaxIndex(tx *memdb.Txn, tables ...string) uint64 {
	return MaxIndexWatch(tx, nil, tables...)
}

// MaxIndexWatch is MaxIndex that also adds the rows it read to ws (nil ws
// adds nothing), so a write to any of the tables wakes the watcher.
func MaxIndexWatch(tx *memdb.Txn, ws memdb.WatchSet, tables ...string) uint64 {
	var max uint64
	if len(tables) == 0 {
		it, err := tx.Get(TableIndex, "id")
		if err != nil {
			return 0
		}
		if ws != nil {
			ws.Add(it.WatchCh())
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			if v := raw.(*IndexEntry).Value; v > max {
				max = v
			}
		}
		return max
	}
	for _, t := range tables {
		ch, raw, err := tx.FirstWatch(TableIndex, "id", t)
		if err != nil {
			continue
		}
		if ws != nil {
			ws.Add(ch)
		}
		if raw != nil && raw.(*IndexEntry).Value > max {
			max = raw.(*IndexEntry).Value
		}
	}
	return max
}
