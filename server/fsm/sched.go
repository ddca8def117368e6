package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/sched"
)

// Scheduler command types.
const (
	AllocPlanRequestType   MessageType = 30
	AllocUpdateRequestType MessageType = 31
)

func schedCommands() map[MessageType]command {
	return map[MessageType]command{
		AllocPlanRequestType:   applyAllocPlan,
		AllocUpdateRequestType: applyAllocUpdate,
	}
}

// applyAllocPlan commits one service's plan: the allocation and status
// tables, and the spec documents it records (last good) or restores
// (rollback), all in one transaction.
func applyAllocPlan(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req sched.PlanRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode alloc plan: %w", err)
	}
	if err := allocs.ApplyPlan(tx, idx, &req); err != nil {
		return nil, err
	}
	for _, w := range []struct {
		key string
		doc []byte
	}{{sched.LastGoodPrefix + req.Service, req.LastGood}, {sched.SpecPrefix + req.Service, req.Rollback}} {
		if w.doc == nil {
			continue
		}
		if _, err := kv.Apply(tx, idx, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: w.key, Value: w.doc}}); err != nil {
			return nil, fmt.Errorf("fsm: alloc plan: write %s: %w", w.key, err)
		}
	}
	return nil, nil
}

func applyAllocUpdate(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req sched.UpdateRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode alloc update: %w", err)
	}
	return nil, allocs.ApplyUpdate(tx, idx, &req)
}
