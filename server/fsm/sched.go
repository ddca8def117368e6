package fsm

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/allocs"
)

// Scheduler command types.
const (
	AllocPlanRequestType   MessageType = 30
	AllocUpdateRequestType MessageType = 31
)

func schedCommands(c commands) {
	register(c, AllocPlanRequestType, "alloc plan", func(tx *memdb.Txn, idx uint64, req *allocs.PlanRequest) (any, error) {
		return nil, allocs.ApplyPlan(tx, idx, req)
	})
	register(c, AllocUpdateRequestType, "alloc update", func(tx *memdb.Txn, idx uint64, req *allocs.UpdateRequest) (any, error) {
		return nil, allocs.ApplyUpdate(tx, idx, req)
	})
}
