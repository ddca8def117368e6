package sched

import (
	"cmp"
	"fmt"
	"slices"
	"testing"
)

// Harness is an in-memory cluster for scheduler tests, after Nomad's
// scheduler/testing.go: it implements State and Planner, records every
// plan, checks it before applying it, and plays the agents' part (starting
// replicas, losing nodes) and the users' (writing and deleting specs).
type Harness struct {
	t        testing.TB
	nodes    map[string]*Node
	allocs   map[string]*Allocation
	specs    map[string][]byte
	statuses map[string]*ServiceStatus
	lastGood map[string][]byte
	seed     uint64

	// Plans are the plans submitted so far.
	Plans []*PlanRequest
	// Limits apply to Evaluate.
	Limits Limits
}

var (
	_ State   = (*Harness)(nil)
	_ Planner = (*Harness)(nil)
)

// NewHarness returns a harness over nodes.
func NewHarness(t testing.TB, nodes ...*Node) *Harness {
	h := &Harness{t: t, nodes: map[string]*Node{}, allocs: map[string]*Allocation{},
		specs: map[string][]byte{}, statuses: map[string]*ServiceStatus{}, lastGood: map[string][]byte{}}
	for _, n := range nodes {
		h.AddNode(n)
	}
	return h
}

// Nodes implements State.
func (h *Harness) Nodes() ([]*Node, error) {
	out := make([]*Node, 0, len(h.nodes))
	for _, n := range h.nodes {
		out = append(out, n)
	}
	return out, nil
}

// Allocations implements State.
func (h *Harness) Allocations() ([]*Allocation, error) {
	out := make([]*Allocation, 0, len(h.allocs))
	for _, a := range h.allocs {
		out = append(out, a)
	}
	return out, nil
}

// Specs implements State.
func (h *Harness) Specs() (map[string][]byte, error) { return h.specs, nil }

// Statuses implements State.
func (h *Harness) Statuses() (map[string]*ServiceStatus, error) { return h.statuses, nil }

// LastGood implements State.
func (h *Harness) LastGood(service string) ([]byte, error) { return h.lastGood[service], nil }

// SubmitPlan implements Planner: it checks the plan against the store and
// applies it, as the FSM does.
func (h *Harness) SubmitPlan(p *PlanRequest) error {
	for _, s := range p.Stop {
		cur, ok := h.allocs[s.ID]
		if !ok || !cur.Live() {
			return fmt.Errorf("harness: stop of unknown or stopped allocation %s", s.ID)
		}
	}
	for _, a := range p.Place {
		if _, dup := h.allocs[a.ID]; dup {
			return fmt.Errorf("harness: allocation ID %s reused", a.ID)
		}
		if n := h.nodes[a.NodeID]; n == nil || !n.Eligible() {
			return fmt.Errorf("harness: allocation %s placed on ineligible node %s", a.ID, a.NodeID)
		}
		if a.Spec == nil || a.NodeName != h.nodes[a.NodeID].Name {
			return fmt.Errorf("harness: allocation %s lacks its spec or node name", a.ID)
		}
	}
	for _, id := range p.Delete {
		if cur, ok := h.allocs[id]; ok && cur.Live() {
			return fmt.Errorf("harness: delete of live allocation %s", id)
		}
	}
	for _, s := range p.Stop {
		c := h.allocs[s.ID].Copy()
		c.DesiredStatus, c.DesiredDescription = DesiredStop, s.Reason
		h.allocs[c.ID] = c
	}
	for _, a := range p.Place {
		h.allocs[a.ID] = a.Allocation.Copy()
	}
	for _, id := range p.Delete {
		delete(h.allocs, id)
	}
	switch {
	case p.DeleteStatus:
		delete(h.statuses, p.Service)
	case p.Status != nil:
		st := *p.Status
		h.statuses[p.Service] = &st
	}
	if p.LastGood != nil {
		h.lastGood[p.Service] = p.LastGood
	}
	if p.Rollback != nil {
		h.specs[p.Service] = p.Rollback
	}
	h.Plans = append(h.Plans, p)
	return nil
}

// SubmitResult submits a placement plan of spec.
func (h *Harness) SubmitResult(spec *Spec, p *PlanResult) error {
	nodes, _ := h.Nodes()
	return h.SubmitPlan(Request(spec, p, nodes))
}

// PutSpec stores a spec document, as `shoal svc deploy` does.
func (h *Harness) PutSpec(name string, doc []byte) { h.specs[name] = doc }

// DeleteSpec removes a spec, as `shoal svc rm` does.
func (h *Harness) DeleteSpec(name string) { delete(h.specs, name) }

// Status returns a service's recorded status, nil when none.
func (h *Harness) Status(name string) *ServiceStatus { return h.statuses[name] }

// Evaluate runs one full evaluation with a fresh seed and returns what it
// did.
func (h *Harness) Evaluate() *Evaluation {
	h.t.Helper()
	h.seed++
	ev, err := Evaluate(h, h, EvalConfig{Seed: h.seed, Limits: h.Limits})
	if err != nil {
		h.t.Fatalf("Evaluate: %v", err)
	}
	return ev
}

// SetClientStatus plays an agent reporting on every live replica of
// service at version: status, and healthy when running.
func (h *Harness) SetClientStatus(service, version string, status ClientStatus) {
	for id, a := range h.allocs {
		if a.Service == service && a.Live() && a.Version == version {
			c := a.Copy()
			c.ClientStatus, c.Healthy = status, status == ClientRunning
			h.allocs[id] = c
		}
	}
}

// Schedule evaluates spec with a fresh seed and applies the plan.
func (h *Harness) Schedule(spec *Spec) *PlanResult {
	h.t.Helper()
	h.seed++
	p, err := Schedule(spec, h, h, h.seed)
	if err != nil {
		h.t.Fatalf("Schedule: %v", err)
	}
	return p
}

// Converge schedules and starts replicas until the plan is a no-op, at
// most 50 rounds, and returns the number of rounds that changed something.
func (h *Harness) Converge(spec *Spec) int {
	h.t.Helper()
	for round := 0; round < 50; round++ {
		p := h.Schedule(spec)
		h.StartAll()
		if p.IsNoOp() {
			return round
		}
	}
	h.t.Fatalf("service %s did not converge in 50 rounds", spec.Name)
	return 0
}

// StartAll plays the agents: every pending replica on a live node runs and
// is healthy, every stopped one that ran has completed.
func (h *Harness) StartAll() {
	for id, a := range h.allocs {
		n := h.nodes[a.NodeID]
		if n == nil || n.Status == NodeDown {
			continue
		}
		switch {
		case a.Live() && a.ClientStatus == ClientPending:
			c := a.Copy()
			c.ClientStatus, c.Healthy = ClientRunning, true
			h.allocs[id] = c
		case !a.Live() && !a.ClientStatus.Terminal():
			c := a.Copy()
			c.ClientStatus, c.Healthy = ClientComplete, false
			h.allocs[id] = c
		}
	}
}

// AddNode adds a node, or replaces one with the same ID.
func (h *Harness) AddNode(n *Node) { h.nodes[n.ID] = n }

// KillNode marks a node down, as the leader does after the grace period.
func (h *Harness) KillNode(id string) {
	n := *h.nodes[id]
	n.Status = NodeDown
	h.nodes[id] = &n
}

// Live returns the live allocations of service, by slot.
func (h *Harness) Live(service string) []*Allocation {
	var out []*Allocation
	for _, a := range h.allocs {
		if a.Service == service && a.Live() {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *Allocation) int { return cmp.Compare(a.Index, b.Index) })
	return out
}

// CheckConverged asserts the invariants of a converged cluster: every
// service has exactly its replicas, running the current version, on ready
// nodes, one per slot (one per node in global mode); no node holds more
// than its capacity or a host port twice.
func (h *Harness) CheckConverged(specs ...*Spec) {
	h.t.Helper()
	for _, s := range specs {
		live := h.Live(s.Name)
		slotsSeen, nodesSeen := map[int]bool{}, map[string]bool{}
		for _, a := range live {
			if slotsSeen[a.Index] {
				h.t.Errorf("%s: slot %d duplicated", s.Name, a.Index)
			}
			slotsSeen[a.Index] = true
			if s.Mode == ModeGlobal && nodesSeen[a.NodeID] {
				h.t.Errorf("%s: two replicas on node %s", s.Name, a.NodeID)
			}
			nodesSeen[a.NodeID] = true
			if n := h.nodes[a.NodeID]; n == nil || n.Status != NodeReady {
				h.t.Errorf("%s: replica %d on a node that is not ready", s.Name, a.Index)
			}
			if a.Version != s.Version() || a.ClientStatus != ClientRunning {
				h.t.Errorf("%s: replica %d is %s at version %s", s.Name, a.Index, a.ClientStatus, a.Version)
			}
		}
		want := s.Count()
		if s.Mode == ModeGlobal {
			want = 0
			for _, n := range h.nodes {
				if n.Status == NodeReady {
					want++
				}
			}
		}
		if len(live) != want {
			h.t.Errorf("%s: %d live replicas, want %d", s.Name, len(live), want)
		}
	}
	type usage struct{ cpu, mem int }
	used := map[string]*usage{}
	ports := map[string]bool{}
	for _, a := range h.allocs {
		// A stopped replica holds its host ports until it no longer runs.
		for _, p := range a.Ports {
			key := fmt.Sprintf("%s/%d/%s", a.NodeID, p.Host, p.Protocol)
			if p.Host == 0 || a.ClientStatus.Terminal() {
				continue
			}
			if ports[key] {
				h.t.Errorf("host port %s used twice", key)
			}
			ports[key] = true
		}
		if a.Terminal() {
			continue
		}
		u := used[a.NodeID]
		if u == nil {
			u = &usage{}
			used[a.NodeID] = u
		}
		u.cpu += a.Resources.CPU
		u.mem += a.Resources.MemoryMB
	}
	for id, u := range used {
		if r := h.nodes[id].Resources; u.cpu > r.CPU || u.mem > r.MemoryMB {
			h.t.Errorf("node %s overcommitted: %+v of %+v", id, *u, r)
		}
	}
}
