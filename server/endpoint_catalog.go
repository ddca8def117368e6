package server

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
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

// Batch applies several registrations and deregistrations atomically.
func (e *Catalog) Batch(args *rpcapi.BatchRequest, reply *struct{}) error {
	if done, err := e.s.forward("Catalog.Batch", args, args, reply); done {
		return err
	}
	if len(args.Register) == 0 && len(args.Deregister) == 0 {
		return nil
	}
	_, err := e.s.raftApply(fsm.BatchRequestType, &args.BatchRequest)
	return err
}

// ListNodes lists the catalog's nodes.
func (e *Catalog) ListNodes(args *rpcapi.NodeSpecificRequest, reply *rpcapi.IndexedNodes) error {
	if done, err := e.s.forward("Catalog.ListNodes", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, nodes, err := catalog.NodesFiltered(tx, ws, args.NodeMetaFilters)
		reply.Nodes = nodes
		return idx, err
	})
}

// NodeChecks lists one node's checks.
func (e *Catalog) NodeChecks(args *rpcapi.NodeRequest, reply *rpcapi.IndexedChecks) error {
	if done, err := e.s.forward("Catalog.NodeChecks", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, checks, err := catalog.NodeChecks(tx, ws, args.Node)
		reply.Checks = checks
		return idx, err
	})
}

// ListServices lists service names with their tags.
func (e *Catalog) ListServices(args *rpcapi.NodeSpecificRequest, reply *rpcapi.IndexedServices) error {
	if done, err := e.s.forward("Catalog.ListServices", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, svcs, err := catalog.Services(tx, ws, args.NodeMetaFilters)
		reply.Services = svcs
		return idx, err
	})
}

// ServiceNodes lists the instances of one service with their nodes.
func (e *Catalog) ServiceNodes(args *rpcapi.ServiceSpecificRequest, reply *rpcapi.IndexedServiceNodes) error {
	if done, err := e.s.forward("Catalog.ServiceNodes", args, args, reply); done {
		return err
	}
	f := catalog.Filter{Tags: args.ServiceTags, NodeMeta: args.NodeMetaFilters}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, nodes, err := catalog.ServiceNodes(tx, ws, args.ServiceName, f)
		reply.ServiceNodes = nodes
		return idx, err
	})
}

// NodeServices returns one node and its services.
func (e *Catalog) NodeServices(args *rpcapi.NodeRequest, reply *rpcapi.IndexedNodeServices) error {
	if done, err := e.s.forward("Catalog.NodeServices", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, node, svcs, err := catalog.NodeServices(tx, ws, args.Node)
		reply.Node, reply.Services = node, svcs
		return idx, err
	})
}
