package sched

import (
	"fmt"
)

// State is the read-only view of the cluster that the scheduler evaluates
// against, such as a state-store snapshot. The scheduler never modifies
// what it returns; implementations may return shared values and must not
// modify them while an evaluation runs.
type State interface {
	// Nodes returns every known node, whatever its status.
	Nodes() ([]*Node, error)
	// Allocations returns every allocation of every service, live or not.
	Allocations() ([]*Allocation, error)
}

// Planner commits plans: the leader's implementation writes them through
// Raft; the test Harness applies them to memory. SubmitPlan is called from
// one goroutine at a time per service and returns an error if and only if
// the plan was not committed. It must not modify the plan.
type Planner interface {
	SubmitPlan(plan *PlanResult) error
}

// Schedule evaluates spec against state and submits the resulting plan to
// planner unless it changes nothing. It returns the plan either way. Pass a
// seed that is fresh for every evaluation, such as the Raft index that
// triggered it, so that allocation IDs never repeat.
func Schedule(spec *Spec, state State, planner Planner, seed uint64) (*PlanResult, error) {
	nodes, err := state.Nodes()
	if err != nil {
		return nil, fmt.Errorf("sched: read nodes: %w", err)
	}
	allocs, err := state.Allocations()
	if err != nil {
		return nil, fmt.Errorf("sched: read allocations: %w", err)
	}
	plan, err := Plan(spec, nodes, allocs, seed)
	if err != nil {
		return nil, err
	}
	if plan.IsNoOp() {
		return plan, nil
	}
	if err := planner.SubmitPlan(plan); err != nil {
		return plan, fmt.Errorf("sched: submit plan for %q: %w", plan.Service, err)
	}
	return plan, nil
}
