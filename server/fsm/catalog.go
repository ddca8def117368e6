package fsm

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/catalog"
)

// Catalog command types.
const (
	RegisterRequestType   MessageType = 0
	DeregisterRequestType MessageType = 1
	// BatchRequestType applies a catalog.BatchRequest in one transaction.
	BatchRequestType MessageType = 10
)

func catalogCommands(c commands) {
	register(c, RegisterRequestType, "register", func(tx *memdb.Txn, idx uint64, req *catalog.RegisterRequest) (any, error) {
		return nil, invalidateSessions(tx, idx, req.Node, catalog.EnsureRegistration(tx, idx, req))
	})
	register(c, DeregisterRequestType, "deregister", func(tx *memdb.Txn, idx uint64, req *catalog.DeregisterRequest) (any, error) {
		return nil, invalidateSessions(tx, idx, req.Node, catalog.Deregister(tx, idx, req))
	})
	register(c, BatchRequestType, "catalog batch", func(tx *memdb.Txn, idx uint64, req *catalog.BatchRequest) (any, error) {
		return nil, invalidateBatchSessions(tx, idx, req, catalog.ApplyBatch(tx, idx, req))
	})
}
