package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
	"github.com/shoalproject/shoal/state"
)

// Txn serves KV transactions.
type Txn struct{ s *Server }

// Apply runs a transaction through one Raft entry: all of it applies, or
// none and reply.Errors says why.
func (e *Txn) Apply(args *rpcapi.TxnRequest, reply *rpcapi.TxnResponse) error {
	if done, err := e.s.forward("Txn.Apply", args, args, reply); done {
		return err
	}
	if len(args.Ops) > kv.MaxTxnOps {
		return fmt.Errorf("Transaction contains too many operations (%d > %d)", len(args.Ops), kv.MaxTxnOps)
	}
	req := kv.TxnRequest{Ops: args.Ops, Now: time.Now().UnixNano()}
	res, err := e.s.raftApply(fsm.TxnRequestType, &req)
	var txnErrs kv.TxnErrors
	if errors.As(err, &txnErrs) {
		reply.Results, reply.Errors = nil, txnErrs
		return nil
	}
	if err != nil {
		return err
	}
	reply.Results, _ = res.([]kv.TxnResult)
	return nil
}

// Read runs a read-only transaction under the request's consistency mode,
// without Raft. It does not block.
func (e *Txn) Read(args *rpcapi.TxnReadRequest, reply *rpcapi.TxnReadResponse) error {
	if done, err := e.s.forward("Txn.Read", args, args, reply); done {
		return err
	}
	if len(args.Ops) > kv.MaxTxnOps {
		return fmt.Errorf("Transaction contains too many operations (%d > %d)", len(args.Ops), kv.MaxTxnOps)
	}
	opts := args.QueryOptions
	opts.MinQueryIndex = 0
	return e.s.readQuery(&opts, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		req := kv.TxnRequest{Ops: args.Ops}
		reply.Results, reply.Errors = kv.TxnRead(tx, ws, &req)
		return state.MaxIndex(tx, kv.TableKVs, kv.TableTombstones), nil
	})
}
