package server

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/server/fsm"
)

// Sched serves the scheduler's state: allocations for agents and the CLI,
// agents' status reports, and rebalancing.
type Sched struct{ s *Server }

// NodeAllocs lists one node's allocations.
func (e *Sched) NodeAllocs(args *rpcapi.NodeAllocsRequest, reply *rpcapi.IndexedAllocs) error {
	if done, err := e.s.forward("Sched.NodeAllocs", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, as, err := allocs.ByNode(tx, ws, args.NodeID)
		reply.Allocs = as
		return idx, err
	})
}

// ServiceAllocs lists a service's allocations (all when Service is empty).
func (e *Sched) ServiceAllocs(args *rpcapi.ServiceAllocsRequest, reply *rpcapi.IndexedAllocs) error {
	if done, err := e.s.forward("Sched.ServiceAllocs", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		var (
			idx uint64
			as  []*sched.Alloc
			err error
		)
		if args.Service == "" {
			idx, as, err = allocs.All(tx, ws)
		} else {
			idx, as, err = allocs.ByService(tx, ws, args.Service)
		}
		reply.Allocs = as
		return idx, err
	})
}

// Services lists the status of every scheduled service.
func (e *Sched) Services(args *rpcapi.DCRequest, reply *rpcapi.IndexedServiceStatuses) error {
	if done, err := e.s.forward("Sched.Services", args, args, reply); done {
		return err
	}
	return e.s.readQuery(&args.QueryOptions, &reply.QueryMeta, func(ws memdb.WatchSet, tx *memdb.Txn) (uint64, error) {
		idx, sts, err := allocs.Statuses(tx, ws)
		reply.Statuses = sts
		return idx, err
	})
}

// UpdateAllocs records an agent's reports on its allocations.
func (e *Sched) UpdateAllocs(args *rpcapi.AllocUpdateRequest, reply *struct{}) error {
	if done, err := e.s.forward("Sched.UpdateAllocs", args, args, reply); done {
		return err
	}
	if args.NodeID == "" {
		return errors.New("missing node ID")
	}
	_, err := e.s.raftApply(fsm.AllocUpdateRequestType, &args.UpdateRequest)
	return err
}

// ErrNoSuchService means a request named a service with no spec.
var ErrNoSuchService = errors.New("no such service")

// Rebalance moves replicas of a spread service onto under-used nodes.
func (e *Sched) Rebalance(args *rpcapi.RebalanceRequest, reply *rpcapi.RebalanceReply) error {
	if done, err := e.s.forward("Sched.Rebalance", args, args, reply); done {
		return err
	}
	view, err := e.s.schedView(time.Now())
	if err != nil {
		return err
	}
	defer view.Close()
	raw, ok := view.specs[args.Service]
	if !ok {
		return fmt.Errorf("%w: %q", ErrNoSuchService, args.Service)
	}
	spec, err := sched.ParseSpec(raw)
	if err != nil {
		return err
	}
	spec.Rebalance = true // asked for explicitly: the spec's opt-in is for automatic moves
	plan, err := sched.Rebalance(spec, view.nodes, view.allocs, e.s.raft.AppliedIndex(), args.MaxMoves)
	if err != nil {
		return err
	}
	reply.Moves = len(plan.Place)
	if reply.Moves == 0 {
		return nil
	}
	return raftPlanner{e.s}.SubmitPlan(sched.Request(spec, plan, view.nodes))
}
