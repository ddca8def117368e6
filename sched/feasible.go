package sched

import (
	"fmt"
)

// Feasibility runs in two stages, as in Nomad's stack:
//
//  1. Static checkers (this file's feasibilityChecker chain) depend only on
//     the node and the spec, so they run once per node per evaluation: node
//     status, driver, host permissions, each constraint,
//     cpuset. A node that fails one is
//     filtered for that reason and never ranked.
//  2. The dynamic check (fits) depends on what is already placed: CPU,
//     memory, static host ports, room in the dynamic port range. Within one
//     plan usage only grows (stops are applied before placements), so a node
//     that does not fit once is dropped for the rest of the plan.

// DynamicPortMin and DynamicPortMax bound the host ports assigned to ports
// with Host 0, as in Nomad.
const (
	DynamicPortMin = 20000
	DynamicPortMax = 32000
)

// feasibilityChecker is one static stage: check reports whether node n
// passes; reason names the filter (a key of Metrics.Filtered) when it does
// not.
type feasibilityChecker struct {
	check  func(n *Node) bool
	reason func(n *Node) string
	// constraint marks the spec's own constraints, which existing replicas
	// must keep satisfying.
	constraint bool
}

// checkerChain is the ordered list of static checkers for one spec.
type checkerChain []feasibilityChecker

// fixed returns a reason func that ignores the node.
func fixed(reason string) func(*Node) string { return func(*Node) string { return reason } }

func staticCheckers(s *Spec) (checkerChain, error) {
	chain := checkerChain{
		{
			// Only ready nodes take new replicas.
			check:  (*Node).Eligible,
			reason: func(n *Node) string { return fmt.Sprintf(ReasonNodeStatus, n.Status) },
		},
		{
			// The node must report the spec's driver as healthy.
			check:  func(n *Node) bool { return n.hasDriver(s.Driver) },
			reason: fixed(fmt.Sprintf(ReasonDriver, s.Driver)),
		},
	}
	// Each host permission the spec needs is its own stage, naming the
	// agent setting that grants it.
	for _, p := range s.Needs() {
		chain = append(chain, feasibilityChecker{
			check:  func(n *Node) bool { return n.allows(p) },
			reason: fixed(p.NotAllowed("")),
		})
	}
	// Each constraint is its own stage so that metrics name it.
	for _, raw := range s.Constraints {
		con, err := ParseConstraint(raw)
		if err != nil {
			return nil, err // unreachable: the spec was validated
		}
		chain = append(chain, feasibilityChecker{
			check:      con.Match,
			reason:     fixed(fmt.Sprintf(ReasonConstraint, raw)),
			constraint: true,
		})
	}
	// A cpuset needs every listed CPU on the node.
	if s.Resources.Cpuset != "" {
		cpus, err := parseCpuset(s.Resources.Cpuset)
		if err != nil {
			return nil, err // unreachable: the spec was validated
		}
		highest := cpus[len(cpus)-1]
		chain = append(chain, feasibilityChecker{
			check:  func(n *Node) bool { return highest < n.Resources.Cores },
			reason: fixed(fmt.Sprintf(ReasonCpuset, s.Resources.Cpuset)),
		})
	}
	return chain, nil
}

// run applies the chain to n. feasible reports whether n passed every
// stage; if not, the first failing stage's reason is counted in filtered.
// matches reports whether n satisfies the spec's constraints alone,
// whatever its status.
func (chain checkerChain) run(n *Node, filtered map[string]int) (feasible, matches bool) {
	feasible, matches = true, true
	for _, fc := range chain {
		if fc.check(n) {
			continue
		}
		if feasible {
			feasible = false
			filtered[fc.reason(n)]++
		}
		if fc.constraint {
			matches = false
			break
		}
	}
	return feasible, matches
}

// nodeState is one node's scratch state during an evaluation.
type nodeState struct {
	node *Node
	// rank is the node's place in the seeded tie-break order.
	rank uint64
	// feasible: passed every static checker.
	feasible bool
	// matches: satisfies the spec's constraints.
	matches bool

	cpu, mem int                  // reserved by live allocations
	ports    map[portKey]struct{} // host ports in use, lazily made
	dynUsed  map[Protocol]int     // of those, how many in the dynamic range
	mine     int                  // live allocations of this service
	total    int                  // live allocations of every service

	score   float64 // binpack score after one more replica
	heapIdx int
}

// add charges allocation a to the node.
func (ns *nodeState) add(a *Allocation, mine bool) {
	ns.cpu += a.Resources.CPU
	ns.mem += a.Resources.MemoryMB
	ns.holdPorts(a)
	ns.total++
	if mine {
		ns.mine++
	}
}

// remove undoes add.
func (ns *nodeState) remove(a *Allocation, mine bool) {
	ns.cpu -= a.Resources.CPU
	ns.mem -= a.Resources.MemoryMB
	for _, p := range a.Ports {
		k := portKey{p.Host, p.Protocol}
		if _, ok := ns.ports[k]; ok {
			delete(ns.ports, k)
			if inDynamicRange(k.port) {
				ns.dynUsed[k.proto]--
			}
		}
	}
	ns.total--
	if mine {
		ns.mine--
	}
}

// holdPorts charges a's host ports to the node.
func (ns *nodeState) holdPorts(a *Allocation) {
	for _, p := range a.Ports {
		if p.Host > 0 {
			ns.usePort(portKey{p.Host, p.Protocol})
		}
	}
}

func (ns *nodeState) usePort(k portKey) {
	if ns.ports == nil {
		ns.ports = map[portKey]struct{}{}
		ns.dynUsed = map[Protocol]int{}
	}
	if _, dup := ns.ports[k]; dup {
		return
	}
	ns.ports[k] = struct{}{}
	if inDynamicRange(k.port) {
		ns.dynUsed[k.proto]++
	}
}

func (ns *nodeState) portFree(k portKey) bool {
	_, used := ns.ports[k]
	return !used
}

func inDynamicRange(port int) bool { return port >= DynamicPortMin && port <= DynamicPortMax }

// fits reports whether one more replica fits on the node now, and if not,
// the exhausted dimension (a key of Metrics.Exhausted).
func (c *cluster) fits(ns *nodeState) (bool, string) {
	r := ns.node.Resources
	if ns.cpu+c.req.cpu > r.CPU {
		return false, DimensionCPU
	}
	if ns.mem+c.req.mem > r.MemoryMB {
		return false, DimensionMemory
	}
	for _, k := range c.req.static {
		if !ns.portFree(k) {
			return false, fmt.Sprintf(DimensionPort, k.port, k.proto)
		}
	}
	for proto, n := range c.req.dynamic {
		free := DynamicPortMax - DynamicPortMin + 1 - ns.dynUsed[proto]
		for _, k := range c.req.static {
			if k.proto == proto && inDynamicRange(k.port) {
				free--
			}
		}
		if free < n {
			return false, DimensionDynamicPorts
		}
	}
	return true, ""
}

// assign places one replica in slot index on the node, which must fit, and
// charges it to the node.
func (c *cluster) assign(ns *nodeState, index int) *Allocation {
	s := c.spec
	a := &Allocation{
		ID:            c.newID(ns.node.ID, index),
		Service:       s.Name,
		Version:       c.version,
		NodeID:        ns.node.ID,
		Index:         index,
		DesiredStatus: DesiredRun,
		ClientStatus:  ClientPending,
		Resources:     s.Resources,
	}
	if len(s.Ports) > 0 {
		a.Ports = make([]Port, len(s.Ports))
		copy(a.Ports, s.Ports)
		// Static ports first, so a dynamic pick never takes one of them.
		for _, p := range a.Ports {
			if p.Host > 0 {
				ns.usePort(portKey{p.Host, p.Protocol})
			}
		}
		for i := range a.Ports {
			p := &a.Ports[i]
			if p.Host > 0 || !s.dynamicPorts() {
				continue
			}
			for port := DynamicPortMin; port <= DynamicPortMax; port++ {
				if k := (portKey{port, p.Protocol}); ns.portFree(k) {
					p.Host = port
					ns.usePort(k)
					break
				}
			}
		}
	}
	ns.cpu += a.Resources.CPU
	ns.mem += a.Resources.MemoryMB
	ns.total++
	ns.mine++
	return a
}
