package server

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
)

// Internal serves reads used by agents rather than API users.
type Internal struct{ s *Server }

// NodeDump returns one node with its services and checks in one
// consistent read: anti-entropy's view of what the catalog holds.
func (e *Internal) NodeDump(args *rpcapi.NodeRequest, reply *rpcapi.NodeDump) error {
	if done, err := e.s.forward("Internal.NodeDump", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, node, svcs, err := catalog.NodeServices(tx, ws, args.Node)
		if err != nil {
			return idx, err
		}
		cidx, checks, err := catalog.NodeChecks(tx, ws, args.Node)
		if err != nil {
			return cidx, err
		}
		reply.Node, reply.Services, reply.Checks = node, svcs, checks
		return max(idx, cidx), nil
	})
}
