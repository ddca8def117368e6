package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/shoalproject/shoal/kv"
)

// KV command types.
const (
	KVSRequestType MessageType = 2
)

func kvCommands() map[MessageType]command {
	return map[MessageType]command{
		KVSRequestType: applyKVS,
	}
}

func applyKVS(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
	var req kv.Request
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("fsm: decode kv: %w", err)
	}
	return kv.Apply(tx, idx, &req)
}
