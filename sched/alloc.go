package sched

// Alloc is one replica as the state store keeps it: the scheduler's
// Allocation plus what the leader adds when it commits a placement (the
// node's name, the spec) and what the agent that runs it reports. The
// allocs package stores it; agents realise it.
type Alloc struct {
	Allocation
	// NodeName is the node's name (NodeID is its ID).
	NodeName string
	// Spec is the spec version this replica runs, so an agent can
	// (re)start an older replica during a rolling update.
	Spec *Spec
	// Agent-reported status beyond ClientStatus/Healthy.
	IP                string
	TaskID            string
	ExitCode          int
	Restarts          int
	ClientDescription string
	// ClientTime is the agent's time of its last report (unix nanoseconds).
	ClientTime  int64
	CreateIndex uint64
	ModifyIndex uint64
}

// ServiceStatus is what the leader knows about one service beyond its
// allocations.
type ServiceStatus struct {
	Name string
	// Version of the spec in force (empty when the spec is invalid).
	Version string
	// Error is why the spec was rejected, "" when valid.
	Error string
	// Unplaced describes replicas no node could take, one line per
	// reason with the number of replicas it holds back (see
	// SummarizeUnplaced): its size does not grow with the replica count.
	Unplaced []string
	// Update is the rolling update in progress, nil when none.
	Update *UpdateStatus
	// LastGoodVersion is the last version whose replicas all ran
	// healthy; RolledBackFrom names a version abandoned by a rollback.
	LastGoodVersion string
	RolledBackFrom  string
	CreateIndex     uint64
	ModifyIndex     uint64
}

// PlanRequest is the plan of one service as the leader commits it, in one
// Raft entry: allocations to create, to stop, to delete (garbage), the
// service's status, and the spec documents to record (last good) or
// restore (rollback).
type PlanRequest struct {
	Service string
	Place   []*Alloc
	Stop    []StopRequest
	Delete  []string
	// Status replaces the service's status when non-nil.
	Status *ServiceStatus
	// DeleteStatus removes the service's status (its spec is gone).
	DeleteStatus bool
	// LastGood, when non-nil, is the raw spec to record under
	// LastGoodPrefix+Service: the version whose replicas all settled.
	LastGood []byte
	// Rollback, when non-nil, is the raw spec to write back under
	// SpecPrefix+Service: the last good version, restored after a
	// rolling update failed.
	Rollback []byte
}

// IsEmpty reports whether r changes nothing but, perhaps, the status.
func (r *PlanRequest) IsEmpty() bool {
	return len(r.Place)+len(r.Stop)+len(r.Delete) == 0 && !r.DeleteStatus && r.LastGood == nil && r.Rollback == nil
}

// StopRequest marks one allocation to stop.
type StopRequest struct {
	ID     string
	Reason string
}

// ClientUpdate is an agent's report on one of its allocations.
type ClientUpdate struct {
	ID                string
	ClientStatus      ClientStatus
	Healthy           bool
	IP                string
	TaskID            string
	ExitCode          int
	Restarts          int
	ClientDescription string
	ClientTime        int64
}

// UpdateRequest carries agents' reports, applied together.
type UpdateRequest struct {
	NodeID  string
	Updates []ClientUpdate
}
