package server

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
	"github.com/shoalproject/shoal/state"
)

// KVS serves the key/value store.
type KVS struct{ s *Server }

// Apply performs a KV write; reply reports whether it took effect.
func (e *KVS) Apply(args *rpcapi.KVSRequest, reply *bool) error {
	if done, err := e.s.forward("KVS.Apply", args, args, reply); done {
		return err
	}
	res, err := e.s.raftApply(fsm.KVSRequestType, &args.Request)
	if err != nil {
		return err
	}
	ok, _ := res.(bool)
	*reply = ok
	return nil
}

// Get reads one key.
func (e *KVS) Get(args *rpcapi.KeyRequest, reply *rpcapi.IndexedEntries) error {
	if done, err := e.s.forward("KVS.Get", args, args, reply); done {
		return err
	}
	return e.s.blockingQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, st *state.Store) error {
		tx := st.ReadTxn()
		defer tx.Abort()
		idx, ent, err := kv.Get(tx, ws, args.Key)
		reply.Index, reply.Entries = idx, nil
		if ent != nil {
			reply.Entries = []*kv.Entry{ent}
		}
		return err
	})
}

// List reads every key under a prefix.
func (e *KVS) List(args *rpcapi.KeyRequest, reply *rpcapi.IndexedEntries) error {
	if done, err := e.s.forward("KVS.List", args, args, reply); done {
		return err
	}
	return e.s.blockingQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, st *state.Store) error {
		tx := st.ReadTxn()
		defer tx.Abort()
		idx, ents, err := kv.List(tx, ws, args.Key)
		reply.Index, reply.Entries = idx, ents
		return err
	})
}
