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
)

func catalogCommands() map[MessageType]command {
	return map[MessageType]command{
		RegisterRequestType:   applyRegister,
		DeregisterRequestType: applyDeregister,
	}
}

func applyRegister(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req catalog.RegisterRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode register: %w", err)
	}
	return nil, catalog.EnsureRegistration(tx, idx, &req)
}

func applyDeregister(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req catalog.DeregisterRequest
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode deregister: %w", err)
	}
	return nil, catalog.Deregister(tx, idx, &req)
}
