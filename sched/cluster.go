package sched

import (
	"cmp"
	"fmt"
	"slices"
)

// cluster is the scheduler's working view for one evaluation: the read-only
// input (spec, nodes, allocations) indexed, plus scratch usage that grows as
// replicas are placed. Nothing in it points back into the caller's data
// except read-only *Node and *Allocation values.
type cluster struct {
	spec    *Spec // canonical, valid private copy
	version string
	seed    uint64
	req     request

	nodes map[string]*nodeState
	order []*nodeState // sorted by node ID

	// filtered counts nodes by the static check that removed them.
	filtered map[string]int
	// exhausted counts nodes by the dimension that filled up.
	exhausted map[string]int

	all      []*Allocation       // every allocation, sorted by ID
	mine     []*Allocation       // live ones of this service, reconcile order
	ids      map[string]struct{} // every allocation ID, including new ones
	stopping map[string]struct{} // IDs this plan stops
	failed   int                 // failed allocations of this version
}

// request is what one replica asks of a node.
type request struct {
	cpu, mem int
	static   []portKey        // fixed host ports
	dynamic  map[Protocol]int // number of dynamic ports per protocol
}

type portKey struct {
	port  int
	proto Protocol
}

// newCluster validates the input and runs the static feasibility checks.
func newCluster(spec *Spec, nodes []*Node, current []*Allocation, seed uint64) (*cluster, error) {
	if spec == nil {
		return nil, fmt.Errorf("%w: nil spec", ErrInvalidInput)
	}
	s := spec.Copy()
	s.Canonicalize()
	if err := s.Validate(); err != nil {
		return nil, err
	}
	c := &cluster{
		spec:      s,
		version:   s.Version(),
		seed:      seed,
		nodes:     make(map[string]*nodeState, len(nodes)),
		order:     make([]*nodeState, 0, len(nodes)),
		filtered:  map[string]int{},
		exhausted: map[string]int{},
		ids:       make(map[string]struct{}, len(current)),
		stopping:  map[string]struct{}{},
	}
	c.req = newRequest(s)
	checkers, err := staticCheckers(s)
	if err != nil {
		return nil, err
	}
	for i, n := range nodes {
		if n == nil || n.ID == "" {
			return nil, fmt.Errorf("%w: nodes[%d] is nil or has no ID", ErrInvalidInput, i)
		}
		if _, dup := c.nodes[n.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate node ID %q", ErrInvalidInput, n.ID)
		}
		ns := &nodeState{node: n, rank: tieBreak(seed, n.ID)}
		ns.feasible, ns.matches = checkers.run(n, c.filtered)
		c.nodes[n.ID] = ns
		c.order = append(c.order, ns)
	}
	slices.SortFunc(c.order, func(a, b *nodeState) int { return cmp.Compare(a.node.ID, b.node.ID) })

	c.all = make([]*Allocation, 0, len(current))
	for i, a := range current {
		if a == nil || a.ID == "" {
			return nil, fmt.Errorf("%w: allocations[%d] is nil or has no ID", ErrInvalidInput, i)
		}
		if _, dup := c.ids[a.ID]; dup {
			return nil, fmt.Errorf("%w: duplicate allocation ID %q", ErrInvalidInput, a.ID)
		}
		c.ids[a.ID] = struct{}{}
		c.all = append(c.all, a)
		if a.Service != s.Name {
			continue
		}
		if a.Version == c.version && a.ClientStatus == ClientFailed {
			c.failed++
		}
		if a.Live() {
			c.mine = append(c.mine, a)
		}
	}
	slices.SortFunc(c.all, func(a, b *Allocation) int { return cmp.Compare(a.ID, b.ID) })
	// Reconcile order: by slot; within a slot the one to keep first (the
	// current version, then a running one, then by ID).
	slices.SortFunc(c.mine, func(a, b *Allocation) int {
		return cmp.Or(
			cmp.Compare(a.Index, b.Index),
			compareBool(a.Version == c.version, b.Version == c.version),
			compareBool(a.ClientStatus == ClientRunning, b.ClientStatus == ClientRunning),
			cmp.Compare(a.ID, b.ID),
		)
	})
	return c, nil
}

// compareBool orders true before false.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return -1
	}
	return 1
}

func newRequest(s *Spec) request {
	r := request{cpu: s.Resources.CPU, mem: s.Resources.MemoryMB}
	for _, p := range s.Ports {
		if p.Host > 0 {
			r.static = append(r.static, portKey{p.Host, p.Protocol})
			continue
		}
		if !s.dynamicPorts() {
			continue
		}
		if r.dynamic == nil {
			r.dynamic = map[Protocol]int{}
		}
		r.dynamic[p.Protocol]++
	}
	return r
}

// applyUsage charges every allocation that stays live after this plan's
// stops to its node. Call it once, after reconciling and before placing.
//
// The host ports of an allocation that is stopped (by this plan or an
// earlier one) stay charged until its agent reports it no longer runs: the
// old container holds them until it is gone, and a replacement on the same
// node that asked for one of them would fail to start ("port is already
// allocated"). A dynamic port is picked elsewhere in the range; a static
// one makes the node unfit until the port is released.
func (c *cluster) applyUsage() {
	for _, a := range c.all {
		ns := c.nodes[a.NodeID]
		if ns == nil || a.ClientStatus.Terminal() {
			continue
		}
		if _, stop := c.stopping[a.ID]; stop || !a.Live() {
			ns.holdPorts(a)
			continue
		}
		ns.add(a, a.Service == c.spec.Name)
	}
}

// metrics snapshots the filter and exhaustion counts.
func (c *cluster) metrics() *Metrics {
	m := &Metrics{
		NodesEvaluated: len(c.order),
		Filtered:       cloneCounts(c.filtered),
		Exhausted:      cloneCounts(c.exhausted),
	}
	for _, n := range c.filtered {
		m.NodesFiltered += n
	}
	for _, n := range c.exhausted {
		m.NodesExhausted += n
	}
	return m
}

func cloneCounts(m map[string]int) map[string]int {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
