package server

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
	"github.com/shoalproject/shoal/state"
)

// Catalog serves catalog writes and reads.
type Catalog struct{ s *Server }

// Register registers a node, service or checks.
func (e *Catalog) Register(args *rpcapi.RegisterRequest, reply *struct{}) error {
	if done, err := e.s.forward("Catalog.Register", args, args, reply); done {
		return err
	}
	if args.Node == "" {
		return catalog.ErrMissingNode
	}
	_, err := e.s.raftApply(fsm.RegisterRequestType, &args.RegisterRequest)
	return err
}

// Deregister removes a node, service or check.
func (e *Catalog) Deregister(args *rpcapi.DeregisterRequest, reply *struct{}) error {
	if done, err := e.s.forward("Catalog.Deregister", args, args, reply); done {
		return err
	}
	if args.Node == "" {
		return catalog.ErrMissingNode
	}
	_, err := e.s.raftApply(fsm.DeregisterRequestType, &args.DeregisterRequest)
	return err
}

// ListNodes lists the catalog's nodes.
func (e *Catalog) ListNodes(args *rpcapi.DCRequest, reply *rpcapi.IndexedNodes) error {
	if done, err := e.s.forward("Catalog.ListNodes", args, args, reply); done {
		return err
	}
	return e.s.blockingQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, st *state.Store) error {
		tx := st.ReadTxn()
		defer tx.Abort()
		idx, nodes, err := catalog.Nodes(tx, ws)
		reply.Index, reply.Nodes = idx, nodes
		return err
	})
}

// NodeChecks lists one node's checks.
func (e *Catalog) NodeChecks(args *rpcapi.NodeRequest, reply *rpcapi.IndexedChecks) error {
	if done, err := e.s.forward("Catalog.NodeChecks", args, args, reply); done {
		return err
	}
	return e.s.blockingQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, st *state.Store) error {
		tx := st.ReadTxn()
		defer tx.Abort()
		idx, checks, err := catalog.NodeChecks(tx, ws, args.Node)
		reply.Index, reply.Checks = idx, checks
		return err
	})
}
