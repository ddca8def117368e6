package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/shoalproject/shoal/catalog"
)

// Catalog command types.
const (
	RegisterRequestType   MessageType = 0
	DeregisterRequestType MessageType = 1
	// BatchRequestType applies a catalog.BatchRequest in one transaction.
	BatchRequestType MessageType = 10
)

func catalogCommands() map[MessageType]command {
	return map[MessageType]command{
		RegisterRequestType:   applyRegister,
		DeregisterRequestType: applyDeregister,
		BatchRequestType:      applyBatch,
	}
}

func applyRegister(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req catalog.RegisterRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode register: %w", err)
	}
	return nil, invalidateSessions(tx, idx, req.Node, catalog.EnsureRegistration(tx, idx, &req))
}

func applyDeregister(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req catalog.DeregisterRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode deregister: %w", err)
	}
	return nil, invalidateSessions(tx, idx, req.Node, catalog.Deregister(tx, idx, &req))
}

func applyBatch(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req catalog.BatchRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode catalog batch: %w", err)
	}
	return nil, invalidateBatchSessions(tx, idx, &req, catalog.ApplyBatch(tx, idx, &req))
}
