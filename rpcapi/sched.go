package rpcapi

import "github.com/shoalproject/shoal/sched"

// NodeAllocsRequest asks for one node's allocations (an agent's realiser
// blocks on it).
type NodeAllocsRequest struct {
	QueryOptions
	NodeID string
}

// ServiceAllocsRequest asks for one service's allocations; an empty
// Service asks for all.
type ServiceAllocsRequest struct {
	QueryOptions
	Service string
}

// IndexedAllocs answers allocation reads.
type IndexedAllocs struct {
	QueryMeta
	Allocs []*sched.Alloc
}

// IndexedServiceStatuses answers Sched.Services.
type IndexedServiceStatuses struct {
	QueryMeta
	Statuses []*sched.ServiceStatus
}

// AllocUpdateRequest carries an agent's reports on its allocations.
type AllocUpdateRequest struct {
	WriteRequest
	sched.UpdateRequest
}

// RebalanceRequest asks the leader to even out a spread service.
type RebalanceRequest struct {
	WriteRequest
	Service string
	// MaxMoves bounds the moves; 0 means the spec's update parallelism.
	MaxMoves int
}

// RebalanceReply says how many replicas are being moved.
type RebalanceReply struct {
	Moves int
}
