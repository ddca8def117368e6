package catalog

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

// Nodes returns every node, sorted by name, and the nodes table's index.
func Nodes(tx *memdb.Txn, ws memdb.WatchSet) (uint64, []*Node, error) {
	idx := state.MaxIndexWatch(tx, ws, TableNodes)
	it, err := tx.Get(TableNodes, indexID)
	if err != nil {
		return 0, nil, fmt.Errorf("catalog: nodes: %w", err)
	}
	ws.Add(it.WatchCh())
	var out []*Node
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*Node))
	}
	return idx, out, nil
}

// GetNode returns one node (nil when absent) and the nodes table's index.
func GetNode(tx *memdb.Txn, ws memdb.WatchSet, name string) (uint64, *Node, error) {
	idx := state.MaxIndexWatch(tx, ws, TableNodes)
	ch, raw, err := tx.FirstWatch(TableNodes, indexID, name)
	if err != nil {
		return 0, nil, fmt.Errorf("catalog: node: %w", err)
	}
	ws.Add(ch)
	if raw == nil {
		return idx, nil, nil
	}
	return idx, raw.(*Node), nil
}

// NodeChecks returns the checks of one node and the checks table's index.
func NodeChecks(tx *memdb.Txn, ws memdb.WatchSet, node string) (uint64, []*HealthCheck, error) {
	idx := state.MaxIndexWatch(tx, ws, TableChecks)
	it, err := tx.Get(TableChecks, indexNode, node)
	if err != nil {
		return 0, nil, fmt.Errorf("catalog: node checks: %w", err)
	}
	ws.Add(it.WatchCh())
	var out []*HealthCheck
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*HealthCheck))
	}
	return idx, out, nil
}
