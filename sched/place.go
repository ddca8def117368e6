package sched

import (
	"cmp"
	"fmt"
	"slices"
)

// PlanResult is what one evaluation of a service decides: allocations to
// create, allocations to stop, and replicas that could not be placed. It
// holds no clock values and, for the same input and seed, is the same.
type PlanResult struct {
	// Service is the spec name.
	Service string
	// Version is the spec's Version.
	Version string
	// Place are new allocations (DesiredStatus run, ClientStatus pending),
	// sorted by slot. Host ports are assigned.
	Place []*Allocation
	// Stop are live allocations to stop, sorted by slot.
	Stop []*StopAllocation
	// Unplaced are slots that no node could take, sorted by slot.
	Unplaced []*Unplaced
	// Update describes a rolling update in progress; nil when every
	// replica runs the current version.
	Update *UpdateStatus
}

// StopAllocation is an allocation to stop and why.
type StopAllocation struct {
	// Alloc is the caller's allocation, unmodified.
	Alloc *Allocation
	// Reason is why it stops; it goes to Allocation.DesiredDescription.
	Reason StopReason
}

// StopReason says why the scheduler stops an allocation.
type StopReason string

// Stop reasons.
const (
	// StopScaleDown: more replicas than wanted; the highest slots go.
	StopScaleDown StopReason = "scale-down"
	// StopNodeLost: its node is down, gone, or the agent reported it lost.
	// A replacement is placed elsewhere.
	StopNodeLost StopReason = "node lost"
	// StopConstraint: its node no longer satisfies the spec's constraints.
	StopConstraint StopReason = "constraint no longer met"
	// StopVersion: replaced by a replica of the current version.
	StopVersion StopReason = "version replaced"
	// StopFailed: it failed and the restart policy is not "never"; a
	// replacement is placed.
	StopFailed StopReason = "failed"
	// StopCompleted: it exited successfully under restart policy "always";
	// a replacement is placed.
	StopCompleted StopReason = "completed"
	// StopDuplicate: another live allocation holds the same slot (or, in
	// global mode, the same node).
	StopDuplicate StopReason = "duplicate"
	// StopRebalance: moved to a less loaded node by Rebalance.
	StopRebalance StopReason = "rebalance"
	// StopServiceRemoved: the spec was deleted (PlanRemoval).
	StopServiceRemoved StopReason = "service removed"
)

// Unplaced is a slot that no node could take, with the reasons.
type Unplaced struct {
	// Index is the slot.
	Index int
	// NodeID is the node it was meant for in global mode, else "".
	NodeID string
	// Metrics say what filtered or exhausted the nodes. In replicated mode
	// all unplaced slots of a plan share one Metrics.
	Metrics *Metrics
}

// UpdateStatus describes a rolling update (see UpdatePolicy).
type UpdateStatus struct {
	// Outdated is the number of live replicas of an older version before
	// this plan.
	Outdated int
	// Replacing is how many of them this plan replaces.
	Replacing int
	// InFlight is the number of current-version replicas not yet settled
	// (running, and healthy if health-gated) before this plan.
	InFlight int
	// Failed is the number of current-version replicas that failed.
	Failed int
	// Halted reports that Failed exceeds UpdatePolicy.MaxFailures: no more
	// replicas are replaced until the spec changes.
	Halted bool
	// Action is UpdatePolicy.OnFailure when Halted. For "rollback" the
	// leader should restore the previous spec.
	Action FailureAction
}

// IsNoOp reports whether the plan neither places nor stops anything.
func (p *PlanResult) IsNoOp() bool { return len(p.Place) == 0 && len(p.Stop) == 0 }

// Plan computes the changes that bring spec's service from its current
// allocations to its desired state on the given nodes. It is a pure
// function: it reads but never modifies its arguments, uses no clock and no
// global randomness, and returns the same plan for the same input and seed
// whatever the order of nodes and current.
//
// current holds every allocation in the cluster (all services, live or
// not): the others count against node capacity and host ports. Placement
// runs feasibility (static checkers, then the dynamic fit) and ranking (see
// rank.go); README.md has the flow.
//
// Errors wrap ErrInvalidSpec (with a *ValidationError) or ErrInvalidInput.
// Replicas that cannot be placed are not errors: they are in
// PlanResult.Unplaced.
func Plan(spec *Spec, nodes []*Node, current []*Allocation, seed uint64) (*PlanResult, error) {
	c, err := newCluster(spec, nodes, current, seed)
	if err != nil {
		return nil, planError(spec, err)
	}
	res := c.newResult()
	var slots []slot
	if c.spec.Mode == ModeGlobal {
		slots = c.reconcileGlobal(res)
	} else {
		slots = c.reconcileReplicated(res)
	}
	c.applyUsage()
	c.place(res, slots)
	res.sort()
	return res, nil
}

// PlanRemoval returns the plan for a deleted spec: stop every live
// allocation of service.
func PlanRemoval(service string, current []*Allocation) *PlanResult {
	res := &PlanResult{Service: service}
	for _, a := range current {
		if a != nil && a.Service == service && a.Live() {
			res.Stop = append(res.Stop, &StopAllocation{Alloc: a, Reason: StopServiceRemoved})
		}
	}
	res.sort()
	return res
}

func planError(spec *Spec, err error) error {
	if spec == nil {
		return fmt.Errorf("sched: plan: %w", err)
	}
	return fmt.Errorf("sched: plan %q: %w", spec.Name, err)
}

func (c *cluster) newResult() *PlanResult {
	return &PlanResult{Service: c.spec.Name, Version: c.version}
}

// slot is a replica to place: its index and, in global mode, its node.
type slot struct {
	index  int
	nodeID string
}

// place ranks nodes for each slot and records the new allocations or the
// reasons they could not be placed.
func (c *cluster) place(res *PlanResult, slots []slot) {
	if len(slots) == 0 {
		return
	}
	if c.spec.Mode == ModeGlobal {
		for _, sl := range slots {
			ns := c.nodes[sl.nodeID]
			if ok, dim := c.fits(ns); !ok {
				res.Unplaced = append(res.Unplaced, &Unplaced{
					Index: sl.index, NodeID: sl.nodeID,
					Metrics: &Metrics{NodesEvaluated: 1, NodesExhausted: 1, Exhausted: map[string]int{dim: 1}},
				})
				continue
			}
			res.Place = append(res.Place, c.assign(ns, sl.index))
		}
		return
	}

	var candidates []*nodeState
	for _, ns := range c.order {
		if ns.feasible {
			candidates = append(candidates, ns)
		}
	}
	h := c.newHeap(candidates)
	var failed *Metrics
	for _, sl := range slots {
		if sl.nodeID != "" { // a stateful slot goes back to its node
			ns := c.nodes[sl.nodeID]
			if ns == nil || !ns.feasible {
				res.Unplaced = append(res.Unplaced, &Unplaced{Index: sl.index, NodeID: sl.nodeID,
					Metrics: &Metrics{NodesEvaluated: 1, NodesFiltered: 1, Filtered: map[string]int{ReasonPinned: 1}}})
				continue
			}
			if ok, dim := c.fits(ns); !ok {
				res.Unplaced = append(res.Unplaced, &Unplaced{Index: sl.index, NodeID: sl.nodeID,
					Metrics: &Metrics{NodesEvaluated: 1, NodesExhausted: 1, Exhausted: map[string]int{dim: 1}}})
				continue
			}
			res.Place = append(res.Place, c.assign(ns, sl.index))
			h.changed(ns)
			continue
		}
		if failed == nil {
			if ns := h.best(); ns != nil {
				res.Place = append(res.Place, c.assign(ns, sl.index))
				h.changed(ns)
				continue
			}
			// Nothing fits now and nothing will free up within this
			// plan, so the remaining slots fail for the same reasons.
			failed = c.metrics()
		}
		res.Unplaced = append(res.Unplaced, &Unplaced{Index: sl.index, Metrics: failed})
	}
}

// stop records that allocation a stops for reason.
func (c *cluster) stop(res *PlanResult, a *Allocation, reason StopReason) {
	c.stopping[a.ID] = struct{}{}
	res.Stop = append(res.Stop, &StopAllocation{Alloc: a, Reason: reason})
}

func (p *PlanResult) sort() {
	slices.SortFunc(p.Place, func(a, b *Allocation) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.NodeID, b.NodeID))
	})
	slices.SortFunc(p.Stop, func(a, b *StopAllocation) int {
		return cmp.Or(cmp.Compare(a.Alloc.Index, b.Alloc.Index), cmp.Compare(a.Alloc.ID, b.Alloc.ID))
	})
	slices.SortFunc(p.Unplaced, func(a, b *Unplaced) int {
		return cmp.Or(cmp.Compare(a.Index, b.Index), cmp.Compare(a.NodeID, b.NodeID))
	})
}
