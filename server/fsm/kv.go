package fsm

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
)

// KV, session and transaction command types.
const (
	KVSRequestType       MessageType = 2
	SessionRequestType   MessageType = 20
	TxnRequestType       MessageType = 21
	TombstoneRequestType MessageType = 22
	KVSBatchRequestType  MessageType = 23
)

// TombstoneRequest reaps the KV tombstones at or below Index, and the
// lock delays expired at Now (the leader's clock, Unix nanoseconds; 0
// reaps none).
type TombstoneRequest struct {
	Index uint64
	Now   int64
}

func kvCommands(c commands) {
	register(c, KVSRequestType, "kv", func(tx *memdb.Txn, idx uint64, req *kv.Request) (any, error) {
		return kv.Apply(tx, idx, req)
	})
	// The result is one bool per write of the batch.
	register(c, KVSBatchRequestType, "kv batch", func(tx *memdb.Txn, idx uint64, req *kv.BatchRequest) (any, error) {
		return kv.ApplyBatch(tx, idx, req)
	})
	register(c, SessionRequestType, "session", func(tx *memdb.Txn, idx uint64, req *kv.SessionRequest) (any, error) {
		return req.Session.ID, kv.ApplySession(tx, idx, catalogHealth{}, req)
	})
	// The result is the transaction's results, or kv.TxnErrors (and the FSM
	// aborts the whole transaction).
	register(c, TxnRequestType, "txn", func(tx *memdb.Txn, idx uint64, req *kv.TxnRequest) (any, error) {
		return kv.Txn(tx, idx, req)
	})
	register(c, TombstoneRequestType, "tombstone reap", func(tx *memdb.Txn, idx uint64, req *TombstoneRequest) (any, error) {
		if req.Now != 0 {
			if err := kv.ReapLockDelays(tx, req.Now); err != nil {
				return nil, err
			}
		}
		return nil, kv.ReapTombstones(tx, idx, req.Index)
	})
}

// invalidateSessions runs after a catalog write touching node that
// succeeded (err nil): it destroys the node's sessions whose node is gone
// or whose checks are missing or critical, as Consul does.
func invalidateSessions(tx *memdb.Txn, idx uint64, node string, err error) error {
	if err != nil {
		return err
	}
	return kv.InvalidateNodeSessions(tx, idx, catalogHealth{}, node)
}

// catalogHealth implements kv.Health over the catalog's tables.
type catalogHealth struct{}

func (catalogHealth) NodeExists(tx *memdb.Txn, node string) bool {
	_, n, err := catalog.GetNode(tx, nil, node)
	return err == nil && n != nil
}

func (catalogHealth) CheckState(tx *memdb.Txn, node, checkID string) (exists, critical bool) {
	_, checks, err := catalog.NodeChecks(tx, nil, node)
	if err != nil {
		return false, false
	}
	for _, c := range checks {
		if c.CheckID == checkID {
			return true, c.Status == catalog.HealthCritical
		}
	}
	return false, false
}

// invalidateBatchSessions is invalidateSessions for every node a catalog
// batch touched.
func invalidateBatchSessions(tx *memdb.Txn, idx uint64, req *catalog.BatchRequest, err error) error {
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var nodes []string
	for _, r := range req.Register {
		if r != nil && !seen[r.Node] {
			seen[r.Node] = true
			nodes = append(nodes, r.Node)
		}
	}
	for _, r := range req.Deregister {
		if r != nil && !seen[r.Node] {
			seen[r.Node] = true
			nodes = append(nodes, r.Node)
		}
	}
	for _, n := range nodes {
		if err := kv.InvalidateNodeSessions(tx, idx, catalogHealth{}, n); err != nil {
			return err
		}
	}
	return nil
}
