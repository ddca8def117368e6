// Package allocs owns the scheduler's state-store tables: allocations (the
// desired state the leader writes, with the status each agent reports) and
// the per-service status the leader records (spec errors, unplaced
// replicas, rolling updates) — their schema, their writes and their
// queries. The rows are sched's types (sched.Alloc, sched.ServiceStatus);
// what to write is decided by sched's evaluation. Writes are applied by the
// FSM; it is pure — no clock, networking or Raft: times arrive in the
// requests.
package allocs

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/state"
)

// Table names.
const (
	TableAllocs   = "allocs"
	TableServices = "sched_services"

	indexID      = "id"
	indexNode    = "node"
	indexService = "service"
)

// Tables returns the tables for state.NewStore.
func Tables() []state.Table {
	return []state.Table{
		{Schema: &memdb.TableSchema{
			Name: TableAllocs,
			Indexes: map[string]*memdb.IndexSchema{
				indexID:      {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID"}},
				indexNode:    {Name: indexNode, Indexer: &memdb.StringFieldIndex{Field: "NodeID"}},
				indexService: {Name: indexService, Indexer: &memdb.StringFieldIndex{Field: "Service"}},
			},
		}, New: func() any { return new(sched.Alloc) }, Type: 120}, // snapshot types are persisted: never renumber
		{Schema: &memdb.TableSchema{
			Name: TableServices,
			Indexes: map[string]*memdb.IndexSchema{
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name"}},
			},
		}, New: func() any { return new(sched.ServiceStatus) }, Type: 121},
	}
}

// ApplyPlan applies a PlanRequest at index idx.
func ApplyPlan(tx *memdb.Txn, idx uint64, req *sched.PlanRequest) error {
	changed := false
	for _, a := range req.Place {
		c := *a
		if raw, _ := tx.First(TableAllocs, indexID, c.ID); raw != nil {
			return fmt.Errorf("allocs: allocation %s exists", c.ID)
		}
		c.CreateIndex, c.ModifyIndex = idx, idx
		if err := tx.Insert(TableAllocs, &c); err != nil {
			return fmt.Errorf("allocs: insert: %w", err)
		}
		changed = true
	}
	for _, st := range req.Stop {
		raw, err := tx.First(TableAllocs, indexID, st.ID)
		if err != nil || raw == nil {
			continue // already gone: nothing to stop
		}
		c := *raw.(*sched.Alloc)
		if c.DesiredStatus == sched.DesiredStop {
			continue
		}
		c.DesiredStatus, c.DesiredDescription, c.ModifyIndex = sched.DesiredStop, st.Reason, idx
		if err := tx.Insert(TableAllocs, &c); err != nil {
			return fmt.Errorf("allocs: stop: %w", err)
		}
		changed = true
	}
	for _, id := range req.Delete {
		raw, err := tx.First(TableAllocs, indexID, id)
		if err != nil || raw == nil {
			continue
		}
		if err := tx.Delete(TableAllocs, raw); err != nil {
			return fmt.Errorf("allocs: delete: %w", err)
		}
		changed = true
	}
	if changed {
		if err := state.UpdateIndex(tx, TableAllocs, idx); err != nil {
			return err
		}
	}
	switch {
	case req.DeleteStatus:
		if raw, _ := tx.First(TableServices, indexID, req.Service); raw != nil {
			if err := tx.Delete(TableServices, raw); err != nil {
				return fmt.Errorf("allocs: delete status: %w", err)
			}
			return state.UpdateIndex(tx, TableServices, idx)
		}
	case req.Status != nil:
		st := *req.Status
		st.Name = req.Service
		st.CreateIndex = idx
		if raw, _ := tx.First(TableServices, indexID, req.Service); raw != nil {
			st.CreateIndex = raw.(*sched.ServiceStatus).CreateIndex
		}
		st.ModifyIndex = idx
		if err := tx.Insert(TableServices, &st); err != nil {
			return fmt.Errorf("allocs: status: %w", err)
		}
		return state.UpdateIndex(tx, TableServices, idx)
	}
	return nil
}

// ApplyUpdate applies agents' reports. Reports on unknown allocations, or
// from a node that does not hold them, are ignored.
func ApplyUpdate(tx *memdb.Txn, idx uint64, req *sched.UpdateRequest) error {
	changed := false
	for _, u := range req.Updates {
		raw, err := tx.First(TableAllocs, indexID, u.ID)
		if err != nil || raw == nil {
			continue
		}
		c := *raw.(*sched.Alloc)
		if req.NodeID != "" && c.NodeID != req.NodeID {
			continue
		}
		if c.ClientStatus == u.ClientStatus && c.Healthy == u.Healthy && c.IP == u.IP && c.TaskID == u.TaskID &&
			c.ExitCode == u.ExitCode && c.Restarts == u.Restarts && c.ClientDescription == u.ClientDescription {
			continue
		}
		c.ClientStatus, c.Healthy, c.IP, c.TaskID = u.ClientStatus, u.Healthy, u.IP, u.TaskID
		c.ExitCode, c.Restarts, c.ClientDescription, c.ClientTime = u.ExitCode, u.Restarts, u.ClientDescription, u.ClientTime
		c.ModifyIndex = idx
		if err := tx.Insert(TableAllocs, &c); err != nil {
			return fmt.Errorf("allocs: update: %w", err)
		}
		changed = true
	}
	if changed {
		return state.UpdateIndex(tx, TableAllocs, idx)
	}
	return nil
}

// list reads table through index (with args), watching in ws only the
// part of the index it reads: a blocking query on one node's allocations
// wakes when they change, not on any allocation change (the table's index
// row) nor, before the first allocation (the row then missing, its watch
// the index table's root), on every write to any table. The index it
// returns is still the table's.
func list[T any](tx *memdb.Txn, ws memdb.WatchSet, table, index string, args ...any) (uint64, []T, error) {
	idx := state.MaxIndex(tx, table)
	it, err := tx.Get(table, index, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("allocs: list %s: %w", table, err)
	}
	if ws != nil {
		ws.Add(it.WatchCh())
	}
	var out []T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(T))
	}
	return idx, out, nil
}

// All returns every allocation.
func All(tx *memdb.Txn, ws memdb.WatchSet) (uint64, []*sched.Alloc, error) {
	return list[*sched.Alloc](tx, ws, TableAllocs, indexID)
}

// ByNode returns a node's allocations.
func ByNode(tx *memdb.Txn, ws memdb.WatchSet, nodeID string) (uint64, []*sched.Alloc, error) {
	return list[*sched.Alloc](tx, ws, TableAllocs, indexNode, nodeID)
}

// ByService returns a service's allocations.
func ByService(tx *memdb.Txn, ws memdb.WatchSet, service string) (uint64, []*sched.Alloc, error) {
	return list[*sched.Alloc](tx, ws, TableAllocs, indexService, service)
}

// Statuses returns every service status.
func Statuses(tx *memdb.Txn, ws memdb.WatchSet) (uint64, []*sched.ServiceStatus, error) {
	return list[*sched.ServiceStatus](tx, ws, TableServices, indexID)
}

// Status returns one service's status, nil when absent.
func Status(tx *memdb.Txn, name string) (*sched.ServiceStatus, error) {
	raw, err := tx.First(TableServices, indexID, name)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*sched.ServiceStatus), nil
}
