package server

import (
	"slices"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
)

// Health serves health reads: checks and instances with their checks.
type Health struct{ s *Server }

// NodeChecks lists one node's checks.
func (e *Health) NodeChecks(args *rpcapi.NodeRequest, reply *rpcapi.IndexedChecks) error {
	return (&Catalog{e.s}).NodeChecks(args, reply)
}

// ServiceChecks lists the checks of one service's instances.
func (e *Health) ServiceChecks(args *rpcapi.ServiceChecksRequest, reply *rpcapi.IndexedChecks) error {
	if done, err := e.s.forward("Health.ServiceChecks", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, checks, err := catalog.ServiceChecks(tx, ws, args.ServiceName, args.NodeMetaFilters)
		reply.Checks = checks
		return idx, err
	})
}

// ChecksInState lists the checks in one state ("any" for all).
func (e *Health) ChecksInState(args *rpcapi.ChecksInStateRequest, reply *rpcapi.IndexedChecks) error {
	if done, err := e.s.forward("Health.ChecksInState", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, checks, err := catalog.ChecksInState(tx, ws, args.State, args.NodeMetaFilters)
		reply.Checks = checks
		return idx, err
	})
}

// ServiceNodes lists the instances of one service with their nodes and
// checks; PassingOnly drops instances with any non-passing check.
func (e *Health) ServiceNodes(args *rpcapi.ServiceSpecificRequest, reply *rpcapi.IndexedCheckServiceNodes) error {
	if done, err := e.s.forward("Health.ServiceNodes", args, args, reply); done {
		return err
	}
	f := catalog.Filter{Tags: args.ServiceTags, NodeMeta: args.NodeMetaFilters}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, insts, err := catalog.CheckServiceNodes(tx, ws, args.ServiceName, f)
		if err != nil {
			return idx, err
		}
		if args.PassingOnly {
			insts = slices.DeleteFunc(insts, func(in catalog.Instance) bool { return !catalog.Passing(in.Checks) })
		}
		reply.Nodes = insts
		return idx, nil
	})
}
