package sched

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// LastGoodPrefix is the KV prefix under which the leader records the raw
// spec of each service's last good version, for rollbacks. It lies outside
// SpecPrefix, so it is not a spec itself.
const LastGoodPrefix = "shoal/last-good/"

// EvalConfig parameterises one Evaluate.
type EvalConfig struct {
	// Seed chooses among equal nodes and derives allocation IDs. Pass one
	// that is fresh for every evaluation, such as the Raft applied index.
	Seed uint64
	// Limits bound what a spec may ask; a spec beyond them is rejected
	// with a recorded error. The zero value means the defaults.
	Limits Limits
	// Due reports whether a service may be planned now; the leader holds a
	// service back for its update.delay between batches. nil means every
	// service is due.
	Due func(service string) bool
}

// Evaluation is what one Evaluate did.
type Evaluation struct {
	// Submitted are the plans the Planner committed, in order.
	Submitted []*PlanRequest
	// Delays maps a service to how long to hold it back before planning
	// it again (update.delay after a batch of a rolling update).
	Delays map[string]time.Duration
	// Errors maps a service to why its plan could not be made or
	// committed; the other services are unaffected.
	Errors map[string]error
}

// Evaluate plans every service against state and submits each service's
// plan to planner, one PlanRequest per service that changes something:
//
//   - a spec that does not parse, does not match its key, breaks the
//     Limits or closes a depends_on cycle is recorded as the service's
//     Error; the replicas of its last good version keep running;
//   - a valid spec gets a placement Plan (or a Rebalance when it has
//     converged and opted in); the unplaced replicas are summarised per
//     reason in the status;
//   - a rolling update halted with on_failure "rollback" restores the last
//     good spec (PlanRequest.Rollback) and records RolledBackFrom;
//   - a service whose live replicas all run the current version (healthy
//     when health-gated) records it as last good (PlanRequest.LastGood);
//   - stopped allocations that are finished, or whose node is down or gone,
//     are deleted (garbage);
//   - a service whose spec is gone has its replicas stopped, its garbage
//     deleted and, once nothing is left, its status removed.
//
// Services are planned in name order; each sees what the plans committed
// before it placed and stopped. Evaluate reads state only and is pure
// otherwise: the same state, config and planner answers give the same
// plans. It returns an error only when state cannot be read.
func Evaluate(state State, planner Planner, cfg EvalConfig) (*Evaluation, error) {
	e, err := newEvaluator(state, cfg)
	if err != nil {
		return nil, err
	}
	ev := &Evaluation{Delays: map[string]time.Duration{}, Errors: map[string]error{}}
	for _, name := range slices.Sorted(maps.Keys(e.raw)) {
		if cfg.Due != nil && !cfg.Due(name) {
			continue
		}
		req, delay, err := e.service(name)
		if err == nil && req != nil {
			err = planner.SubmitPlan(req)
			if err == nil {
				ev.Submitted = append(ev.Submitted, req)
				e.current = withPlan(e.current, req)
			}
		}
		if err != nil {
			ev.Errors[name] = err
			continue
		}
		if delay > 0 {
			ev.Delays[name] = delay
		}
	}
	for _, name := range e.removed() {
		req := e.removal(name)
		if req == nil {
			continue
		}
		if err := planner.SubmitPlan(req); err != nil {
			ev.Errors[name] = err
			continue
		}
		ev.Submitted = append(ev.Submitted, req)
	}
	return ev, nil
}

// evaluator holds one evaluation's view of the state, indexed once.
type evaluator struct {
	state    State
	cfg      EvalConfig
	nodes    []*Node
	nodeByID map[string]*Node
	// current is every allocation, updated as plans commit.
	current   []*Allocation
	byService map[string][]*Allocation
	raw       map[string][]byte
	statuses  map[string]*ServiceStatus
	// specs are the parsed specs; specErr the specs rejected, by name.
	specs   map[string]*Spec
	specErr map[string]error
}

func newEvaluator(state State, cfg EvalConfig) (*evaluator, error) {
	e := &evaluator{state: state, cfg: cfg, nodeByID: map[string]*Node{}, byService: map[string][]*Allocation{},
		specs: map[string]*Spec{}, specErr: map[string]error{}}
	var err error
	if e.nodes, err = state.Nodes(); err != nil {
		return nil, fmt.Errorf("sched: read nodes: %w", err)
	}
	if e.current, err = state.Allocations(); err != nil {
		return nil, fmt.Errorf("sched: read allocations: %w", err)
	}
	if e.raw, err = state.Specs(); err != nil {
		return nil, fmt.Errorf("sched: read specs: %w", err)
	}
	if e.statuses, err = state.Statuses(); err != nil {
		return nil, fmt.Errorf("sched: read statuses: %w", err)
	}
	for _, n := range e.nodes {
		e.nodeByID[n.ID] = n
	}
	for _, a := range e.current {
		e.byService[a.Service] = append(e.byService[a.Service], a)
	}
	for name, raw := range e.raw {
		spec, err := ParseSpec(raw)
		if err == nil && spec.Name != name {
			err = fmt.Errorf("spec name %q does not match its key %s%s", spec.Name, SpecPrefix, name)
		}
		if err == nil {
			err = cfg.Limits.Check(spec)
		}
		if err != nil {
			e.specErr[name] = err
			continue
		}
		e.specs[name] = spec
	}
	for name, err := range dependencyCycles(e.specs) {
		e.specErr[name] = err
		delete(e.specs, name)
	}
	return e, nil
}

// service plans one service. A nil request means nothing changes.
func (e *evaluator) service(name string) (*PlanRequest, time.Duration, error) {
	old := e.statuses[name]
	status := &ServiceStatus{Name: name}
	if old != nil {
		status.LastGoodVersion, status.RolledBackFrom = old.LastGoodVersion, old.RolledBackFrom
	}
	if err := e.specErr[name]; err != nil {
		// A bad spec is recorded where `svc ls` shows it; the replicas of
		// the last good spec keep running.
		status.Error = err.Error()
		if old != nil {
			status.Version = old.Version
		}
		return statusOnly(name, status, old), 0, nil
	}
	spec := e.specs[name]
	status.Version = spec.Version()
	plan, err := Plan(spec, e.nodes, e.current, e.cfg.Seed)
	if err != nil {
		status.Error = err.Error()
		return statusOnly(name, status, old), 0, nil
	}
	if plan.IsNoOp() && len(plan.Unplaced) == 0 && spec.Rebalance {
		if rb, err := Rebalance(spec, e.nodes, e.current, e.cfg.Seed, 0); err == nil && !rb.IsNoOp() {
			plan = rb
		}
	}
	status.Unplaced = SummarizeUnplaced(plan.Unplaced)
	status.Update = plan.Update
	if plan.Update != nil && plan.Update.Halted && plan.Update.Action == FailureRollback &&
		status.LastGoodVersion != "" && status.LastGoodVersion != status.Version {
		good, err := e.state.LastGood(name)
		if err != nil || good == nil {
			return nil, 0, err
		}
		status.RolledBackFrom = status.Version
		return &PlanRequest{Service: name, Status: status, Rollback: good}, 0, nil
	}
	own := e.byService[name]
	req := &PlanRequest{Service: name, Status: status}
	if plan.IsNoOp() && plan.Update == nil && settled(own, status.Version, spec) {
		status.LastGoodVersion = status.Version
		cur, err := e.state.LastGood(name)
		if err != nil {
			return nil, 0, err
		}
		if cur == nil || string(cur) != string(e.raw[name]) {
			req.LastGood = e.raw[name]
		}
	}
	req.Place = PlaceRequests(spec, plan, e.nodeByID)
	req.Stop = StopRequests(plan)
	req.Delete = garbage(own, e.nodeByID)
	var delay time.Duration
	if plan.Update != nil && plan.Update.Replacing > 0 {
		delay = spec.Update.Delay.Std()
	}
	if req.IsEmpty() && statusEqual(status, old) {
		return nil, delay, nil
	}
	return req, delay, nil
}

// statusOnly returns a request that records status, nil when it is
// already recorded.
func statusOnly(name string, status, old *ServiceStatus) *PlanRequest {
	if statusEqual(status, old) {
		return nil
	}
	return &PlanRequest{Service: name, Status: status}
}

// removed lists, in name order, the services that have allocations or a
// status but no spec.
func (e *evaluator) removed() []string {
	var out []string
	for name := range e.byService {
		if _, ok := e.raw[name]; !ok {
			out = append(out, name)
		}
	}
	for name := range e.statuses {
		if _, ok := e.raw[name]; !ok && e.byService[name] == nil {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// removal stops the replicas of a service whose spec is gone, deletes its
// garbage and, once nothing is left, its status. nil means nothing to do.
func (e *evaluator) removal(name string) *PlanRequest {
	own := e.byService[name]
	req := &PlanRequest{Service: name, Stop: StopRequests(PlanRemoval(name, own))}
	req.Delete = garbage(own, e.nodeByID)
	deleted := make(map[string]bool, len(req.Delete))
	for _, id := range req.Delete {
		deleted[id] = true
	}
	live := 0
	for _, a := range own {
		if !deleted[a.ID] {
			live++
		}
	}
	req.DeleteStatus = live == 0 && e.statuses[name] != nil
	if req.IsEmpty() {
		return nil
	}
	return req
}

// PlaceRequests turns a plan's placements into stored allocations: each
// carries its node's name and the spec it runs.
func PlaceRequests(spec *Spec, plan *PlanResult, nodes map[string]*Node) []*Alloc {
	out := make([]*Alloc, 0, len(plan.Place))
	for _, p := range plan.Place {
		a := &Alloc{Allocation: *p, Spec: spec}
		if n := nodes[p.NodeID]; n != nil {
			a.NodeName = n.Name
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// StopRequests turns a plan's stops into stop requests.
func StopRequests(plan *PlanResult) []StopRequest {
	var out []StopRequest
	for _, st := range plan.Stop {
		out = append(out, StopRequest{ID: st.Alloc.ID, Reason: string(st.Reason)})
	}
	return out
}

// garbage lists allocations that are stopped for good: desired stop and
// either finished on their node or on a node that is down or gone.
func garbage(as []*Allocation, nodes map[string]*Node) []string {
	var out []string
	for _, a := range as {
		if a.DesiredStatus != DesiredStop {
			continue
		}
		n := nodes[a.NodeID]
		if a.ClientStatus.Terminal() || n == nil || n.Status == NodeDown {
			out = append(out, a.ID)
		}
	}
	return out
}

// withPlan returns current as it is after req: placed allocations added,
// stopped ones replaced by stopped copies (the stored ones are immutable).
func withPlan(current []*Allocation, req *PlanRequest) []*Allocation {
	stopped := map[string]bool{}
	for _, st := range req.Stop {
		stopped[st.ID] = true
	}
	out := make([]*Allocation, 0, len(current)+len(req.Place))
	for _, a := range current {
		if stopped[a.ID] {
			c := a.Copy()
			c.DesiredStatus = DesiredStop
			a = c
		}
		out = append(out, a)
	}
	for _, p := range req.Place {
		out = append(out, &p.Allocation)
	}
	return out
}

// settled reports whether every live replica runs version (healthy when
// the update is health-gated) and there is at least one.
func settled(own []*Allocation, version string, spec *Spec) bool {
	n := 0
	for _, a := range own {
		if !a.Live() {
			continue
		}
		if a.Version != version || a.ClientStatus != ClientRunning || (spec.Update.HealthGated && !a.Healthy) {
			return false
		}
		n++
	}
	return n > 0
}

// statusEqual reports whether a and b record the same status (b may be
// nil: never equal).
func statusEqual(a, b *ServiceStatus) bool {
	if b == nil {
		return false
	}
	ua, ub := a.Update, b.Update
	return a.Version == b.Version && a.Error == b.Error && slices.Equal(a.Unplaced, b.Unplaced) &&
		a.LastGoodVersion == b.LastGoodVersion && a.RolledBackFrom == b.RolledBackFrom &&
		((ua == nil) == (ub == nil)) && (ua == nil || *ua == *ub)
}
