package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/sched"
)

// Scheduler command types.
const (
	AllocPlanRequestType   MessageType = 30
	AllocUpdateRequestType MessageType = 31
)

func schedCommands(c commands) {
	register(c, AllocPlanRequestType, "alloc plan", applyAllocPlan)
	register(c, AllocUpdateRequestType, "alloc update", func(tx *memdb.Txn, idx uint64, req *sched.UpdateRequest) (any, error) {
		return nil, allocs.ApplyUpdate(tx, idx, req)
	})
}

// applyAllocPlan commits one service's plan: the allocation and status
// tables, and the spec documents it records (last good) or restores
// (rollback), all in one transaction.
func applyAllocPlan(tx *memdb.Txn, idx uint64, req *sched.PlanRequest) (any, error) {
	if err := allocs.ApplyPlan(tx, idx, req); err != nil {
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
