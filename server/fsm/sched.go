package fsm

import (
	"encoding/json"
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
	// AllocPlanBatchRequestType commits the plans of one evaluation
	// (several services) in one entry and one transaction: all or none.
	// Servers before cluster protocol 2 cannot apply it; the leader sends
	// it only when every server speaks 2 (version.ProtocolVersion).
	AllocPlanBatchRequestType MessageType = 32
)

// PlanBatch is the body of an AllocPlanBatchRequestType command: the
// plans in the order the evaluation made them.
type PlanBatch struct {
	Plans []*sched.PlanRequest
}

func schedCommands(c commands) {
	register(c, AllocPlanRequestType, "alloc plan", applyAllocPlan)
	register(c, AllocPlanBatchRequestType, "alloc plan batch", func(tx *memdb.Txn, idx uint64, req *PlanBatch) (any, error) {
		for _, p := range req.Plans {
			if _, err := applyAllocPlan(tx, idx, p); err != nil {
				return nil, fmt.Errorf("fsm: plan of %s: %w", p.Service, err)
			}
		}
		return nil, nil
	})
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
	if req.History != nil {
		if err := appendHistory(tx, idx, req.Service, req.History); err != nil {
			return nil, fmt.Errorf("fsm: alloc plan: history of %s: %w", req.Service, err)
		}
	}
	return nil, nil
}

// appendHistory records rec as the service's next spec version and
// deletes the oldest beyond rec.Keep (sched.HistoryRecord.Append decides).
func appendHistory(tx *memdb.Txn, idx uint64, service string, rec *sched.HistoryRecord) error {
	_, entries, err := kv.List(tx, nil, sched.HistoryFolder(service))
	if err != nil {
		return err
	}
	hist := make([]sched.HistoryEntry, 0, len(entries))
	for _, e := range entries {
		var h sched.HistoryEntry
		if _, ok := sched.ParseHistorySeq(e.Key); !ok || json.Unmarshal(e.Value, &h) != nil {
			continue // not written by the scheduler: left alone
		}
		hist = append(hist, h)
	}
	add, drop := rec.Append(hist)
	if add == nil {
		return nil
	}
	doc, err := json.Marshal(add)
	if err != nil {
		return err
	}
	if _, err := kv.Apply(tx, idx, &kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: sched.HistoryKey(service, add.Seq), Value: doc}}); err != nil {
		return err
	}
	for _, seq := range drop {
		if _, err := kv.Apply(tx, idx, &kv.Request{Op: kv.OpDelete, Entry: kv.Entry{Key: sched.HistoryKey(service, seq)}}); err != nil {
			return err
		}
	}
	return nil
}
