package sched

import (
	"fmt"
)

// State is the read-only view of the cluster that the scheduler evaluates
// against, such as a state-store read transaction. The scheduler never
// modifies what it returns; implementations may return shared values and
// must not modify them while an evaluation runs. It is used from one
// goroutine.
type State interface {
	// Nodes returns every known node, whatever its status.
	Nodes() ([]*Node, error)
	// Allocations returns every allocation of every service, live or not.
	Allocations() ([]*Allocation, error)
	// Specs returns the raw spec document of every service, by name (the
	// keys under SpecPrefix).
	Specs() (map[string][]byte, error)
	// Statuses returns the recorded status of every service, by name.
	Statuses() (map[string]*ServiceStatus, error)
	// LastGood returns the raw spec of service's last good version (the
	// key under LastGoodPrefix); nil means none.
	LastGood(service string) ([]byte, error)
}

// Planner commits plans: the leader's implementation collects an
// evaluation's plans and writes them in one Raft entry (or one entry per
// plan, as a fallback); the test Harness applies them to memory.
// SubmitPlan is called from one goroutine at a time and returns an error if
// and only if the plan was not committed. It must not modify the plan.
type Planner interface {
	SubmitPlan(plan *PlanRequest) error
}

// Schedule evaluates one spec against state and submits the resulting plan
// (placements and stops) to planner unless it changes nothing. It returns
// the plan either way. Pass a seed that is fresh for every evaluation, such
// as the Raft index that triggered it, so that allocation IDs never repeat.
// Evaluate is the whole evaluation the leader runs; Schedule is its
// placement step for a single spec.
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
	if err := planner.SubmitPlan(Request(spec, plan, nodes)); err != nil {
		return plan, fmt.Errorf("sched: submit plan for %q: %w", plan.Service, err)
	}
	return plan, nil
}

// Request turns a placement plan into the request that commits it: its
// placements (with node names and the spec) and its stops.
func Request(spec *Spec, plan *PlanResult, nodes []*Node) *PlanRequest {
	byID := make(map[string]*Node, len(nodes))
	for _, n := range nodes {
		byID[n.ID] = n
	}
	return &PlanRequest{Service: plan.Service, Place: PlaceRequests(spec, plan, byID), Stop: StopRequests(plan)}
}
