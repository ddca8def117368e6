package sched

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Filter reasons: formats of the keys of Metrics.Filtered, one per static
// feasibility checker (see feasible.go); a missing host permission's is
// Permission.NotAllowed("").
const (
	// ReasonNodeStatus: the node's status is not ready; %q is the status.
	ReasonNodeStatus = "node status %q"
	// ReasonDriver: the node cannot run the spec's driver; %q is the driver.
	ReasonDriver = "missing driver %q"
	// ReasonConstraint: the node fails a constraint; %q is its text.
	ReasonConstraint = "constraint %q"
	// ReasonCpuset: the node lacks a CPU of the cpuset; %q is the cpuset.
	ReasonCpuset = "cpuset %q"
	// ReasonPinned: a stateful replica's node (the only one it may run on,
	// holding its host volume) cannot take it now.
	ReasonPinned = "host volume pins the replica to its node, which"
)

// Exhausted dimensions: the keys of Metrics.Exhausted, one per dynamic
// feasibility check.
const (
	// DimensionCPU: not enough CPU left.
	DimensionCPU = "cpu"
	// DimensionMemory: not enough memory left.
	DimensionMemory = "memory"
	// DimensionPort (a format): a static host port is in use; %d/%s are the
	// port and protocol, such as "port 80/tcp".
	DimensionPort = "port %d/%s"
	// DimensionDynamicPorts: too few free ports in the dynamic range.
	DimensionDynamicPorts = "dynamic ports"
)

// Metrics explains why a replica could not be placed: how many nodes each
// feasibility stage removed, counting each node once, at the first stage it
// failed (as Nomad's AllocMetric does). Metrics are read-only once in a
// PlanResult and may be shared by several Unplaced entries.
type Metrics struct {
	// NodesEvaluated is the number of nodes considered.
	NodesEvaluated int
	// NodesFiltered is the number removed by static checks: status,
	// driver, constraints, cpuset.
	NodesFiltered int
	// Filtered counts nodes by filter reason (the Reason formats).
	Filtered map[string]int
	// NodesExhausted is the number that passed the static checks but had
	// no room left.
	NodesExhausted int
	// Exhausted counts nodes by exhausted dimension (the Dimension
	// constants).
	Exhausted map[string]int
}

// Reasons returns one line per cause, most nodes first, such as
// `constraint "node.meta.storage == ssd" filtered 3 nodes`,
// "memory exhausted on 2 nodes" or "port 80/tcp in use on 1 node".
func (m *Metrics) Reasons() []string {
	if m.NodesEvaluated == 0 {
		return []string{"no nodes"}
	}
	type line struct {
		n    int
		text string
	}
	var lines []line
	for _, r := range slices.Sorted(maps.Keys(m.Filtered)) {
		n := m.Filtered[r]
		lines = append(lines, line{n, fmt.Sprintf("%s filtered %s", r, nodes(n))})
	}
	for _, d := range slices.Sorted(maps.Keys(m.Exhausted)) {
		n := m.Exhausted[d]
		verb := "exhausted on"
		if strings.HasPrefix(d, "port ") {
			verb = "in use on"
		}
		lines = append(lines, line{n, fmt.Sprintf("%s %s %s", d, verb, nodes(n))})
	}
	slices.SortStableFunc(lines, func(a, b line) int { return b.n - a.n })
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = l.text
	}
	return out
}

// String joins Reasons with "; ".
func (m *Metrics) String() string { return strings.Join(m.Reasons(), "; ") }

func nodes(n int) string {
	if n == 1 {
		return "1 node"
	}
	return fmt.Sprintf("%d nodes", n)
}
