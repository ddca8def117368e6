package sched

import (
	"fmt"
	"sort"
	"testing"
)

// testNode returns a ready client node with docker and exec, 4000 MHz,
// 8192 MB and 4 cores, changed by opts.
func testNode(id string, opts ...func(*Node)) *Node {
	n := &Node{
		ID: id, Name: id, Role: RoleClient, Datacenter: "dc1",
		Resources: NodeResources{CPU: 4000, MemoryMB: 8192, Cores: 4},
		Drivers:   []Driver{DriverDocker, DriverExec},
		Status:    NodeReady,
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

func withMeta(kv ...string) func(*Node) {
	return func(n *Node) {
		if n.Meta == nil {
			n.Meta = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			n.Meta[kv[i]] = kv[i+1]
		}
	}
}

func withStatus(s NodeStatus) func(*Node) { return func(n *Node) { n.Status = s } }
func withRole(r string) func(*Node)       { return func(n *Node) { n.Role = r } }
func withRes(cpu, mem int) func(*Node) {
	return func(n *Node) { n.Resources.CPU, n.Resources.MemoryMB = cpu, mem }
}
func withDrivers(d ...Driver) func(*Node)    { return func(n *Node) { n.Drivers = d } }
func withAllows(p ...Permission) func(*Node) { return func(n *Node) { n.Allows = p } }

// testNodes returns n default nodes n00, n01, ...
func testNodes(n int, opts ...func(*Node)) []*Node {
	out := make([]*Node, n)
	for i := range out {
		out[i] = testNode(fmt.Sprintf("n%02d", i), opts...)
	}
	return out
}

// testSpec returns a canonical docker spec "web" with the given replicas,
// changed by mods.
func testSpec(replicas int, mods ...func(*Spec)) *Spec {
	s := &Spec{Name: "web", Image: "nginx:1.27", Replicas: &replicas}
	for _, m := range mods {
		m(s)
	}
	s.Canonicalize()
	return s
}

func intPtr(n int) *int { return &n }

// liveAlloc returns a running allocation of spec in slot index on node.
func liveAlloc(s *Spec, id, nodeID string, index int) *Allocation {
	return &Allocation{
		ID: id, Service: s.Name, Version: s.Version(), NodeID: nodeID, Index: index,
		DesiredStatus: DesiredRun, ClientStatus: ClientRunning, Healthy: true,
		Resources: s.Resources,
	}
}

// otherAlloc returns a running allocation of another service.
func otherAlloc(id, nodeID string, cpu, mem int, ports ...Port) *Allocation {
	return &Allocation{
		ID: id, Service: "other", Version: "v0", NodeID: nodeID,
		DesiredStatus: DesiredRun, ClientStatus: ClientRunning,
		Resources: Resources{CPU: cpu, MemoryMB: mem}, Ports: ports,
	}
}

// mustPlan runs Plan and fails the test on error.
func mustPlan(t testing.TB, s *Spec, nodes []*Node, current []*Allocation, seed uint64) *PlanResult {
	t.Helper()
	p, err := Plan(s, nodes, current, seed)
	if err != nil {
		t.Fatalf("Plan: %v", err)
	}
	return p
}

// placedPerNode counts new allocations per node.
func placedPerNode(p *PlanResult) map[string]int {
	out := map[string]int{}
	for _, a := range p.Place {
		out[a.NodeID]++
	}
	return out
}

// stopReasons counts stops per reason.
func stopReasons(p *PlanResult) map[StopReason]int {
	out := map[StopReason]int{}
	for _, s := range p.Stop {
		out[s.Reason]++
	}
	return out
}

func placedIndexes(p *PlanResult) []int {
	var out []int
	for _, a := range p.Place {
		out = append(out, a.Index)
	}
	return out
}

func stoppedIndexes(p *PlanResult) []int {
	var out []int
	for _, s := range p.Stop {
		out = append(out, s.Alloc.Index)
	}
	return out
}

// sortedCounts returns the values of m, descending.
func sortedCounts(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(out)))
	return out
}
