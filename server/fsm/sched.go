package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/shoalproject/shoal/allocs"
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

func applyAllocPlan(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req allocs.PlanRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode alloc plan: %w", err)
	}
	return nil, allocs.ApplyPlan(tx, idx, &req)
}

func applyAllocUpdate(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req allocs.UpdateRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode alloc update: %w", err)
	}
	return nil, allocs.ApplyUpdate(tx, idx, &req)
}
