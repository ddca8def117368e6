package sched

import (
	"fmt"
	"testing"
)

// benchCluster returns 1,000 nodes in five zones and a 10,000-replica spec
// with a constraint that every node passes and a dynamic port.
func benchCluster(strategy Strategy) ([]*Node, *Spec) {
	nodes := make([]*Node, 1000)
	for i := range nodes {
		nodes[i] = testNode(fmt.Sprintf("node-%04d", i), withMeta("zone", fmt.Sprintf("eu-%d", i%5)))
	}
	spec := testSpec(10000, func(s *Spec) {
		s.Strategy = strategy
		s.Constraints = []string{"node.meta.zone regexp ^eu-"}
		s.Ports = []Port{{Name: "http", Container: 8080}}
	})
	return nodes, spec
}

func benchPlace(b *testing.B, strategy Strategy) {
	nodes, spec := benchCluster(strategy)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := Plan(spec, nodes, nil, uint64(i))
		if err != nil || len(p.Place) != 10000 {
			b.Fatalf("Plan: %v, %d placed", err, len(p.Place))
		}
	}
}

// BenchmarkPlan10kReplicas1kNodes places 10,000 replicas from scratch.
func BenchmarkPlan10kReplicas1kNodes(b *testing.B) { benchPlace(b, StrategySpread) }

// BenchmarkPlan10kReplicas1kNodesBinpack is the same with binpack.
func BenchmarkPlan10kReplicas1kNodesBinpack(b *testing.B) { benchPlace(b, StrategyBinpack) }

// BenchmarkPlanNodeLost1kNodes re-plans a placed 10,000-replica service
// after one node of 1,000 went down: the incremental case.
func BenchmarkPlanNodeLost1kNodes(b *testing.B) {
	nodes, spec := benchCluster(StrategySpread)
	first, err := Plan(spec, nodes, nil, 1)
	if err != nil {
		b.Fatal(err)
	}
	current := make([]*Allocation, len(first.Place))
	for i, a := range first.Place {
		c := a.Copy()
		c.ClientStatus = ClientRunning
		current[i] = c
	}
	lost := *nodes[500]
	lost.Status = NodeDown
	nodes[500] = &lost
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p, err := Plan(spec, nodes, current, uint64(i))
		if err != nil || len(p.Place) != 10 || len(p.Stop) != 10 {
			b.Fatalf("Plan: %v, %d placed, %d stopped", err, len(p.Place), len(p.Stop))
		}
	}
}

// BenchmarkEvaluateBesideHugeSpec evaluates ten 10-replica services over
// 100 nodes beside a spec asking for MaxReplicas replicas that no node can
// take (limits raised to allow it): the case of issue 17, where such a spec
// made every other deploy wait 25-52 s. Each evaluation starts from the
// same state: the huge spec unplaced, the others to place.
func BenchmarkEvaluateBesideHugeSpec(b *testing.B) {
	nodes := make([]*Node, 100)
	for i := range nodes {
		nodes[i] = testNode(fmt.Sprintf("node-%03d", i))
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		h := NewHarness(b, nodes...)
		h.Limits = Limits{MaxReplicas: MaxReplicas}
		h.PutSpec("huge", specDoc("huge", MaxReplicas, `"constraints": ["node.meta.gpu == yes"]`))
		for j := 0; j < 10; j++ {
			name := fmt.Sprintf("svc-%d", j)
			h.PutSpec(name, specDoc(name, 10))
		}
		b.StartTimer()
		if ev := h.Evaluate(); len(ev.Submitted) != 11 {
			b.Fatalf("%d plans submitted, want 11", len(ev.Submitted))
		}
	}
}
