package sched

import (
	"fmt"
	"testing"
)

func TestRebalance(t *testing.T) {
	spec := func(mods ...func(*Spec)) *Spec {
		return testSpec(12, append([]func(*Spec){func(s *Spec) { s.Rebalance = true }}, mods...)...)
	}
	// placed returns a harness with 12 running replicas on 3 nodes, then
	// adds joined more nodes.
	placed := func(t *testing.T, s *Spec, joined int) *Harness {
		h := NewHarness(t, testNodes(3)...)
		h.Converge(s)
		for i := 0; i < joined; i++ {
			h.AddNode(testNode(fmt.Sprintf("new%d", i)))
		}
		return h
	}
	rebalance := func(t *testing.T, h *Harness, s *Spec, maxMoves int) *PlanResult {
		nodes, _ := h.Nodes()
		allocs, _ := h.Allocations()
		h.seed++
		p, err := Rebalance(s, nodes, allocs, h.seed, maxMoves)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	tests := []struct {
		name      string
		spec      *Spec
		joined    int
		maxMoves  int
		prepare   func(h *Harness)
		wantMoves int
	}{
		{name: "bounded by maxMoves", spec: spec(), joined: 3, maxMoves: 2, wantMoves: 2},
		{name: "bounded by parallelism", spec: spec(func(s *Spec) { s.Update.Parallelism = 3 }), joined: 3, wantMoves: 3},
		{name: "stops when even", spec: spec(), joined: 3, maxMoves: 100, wantMoves: 6},
		{name: "nothing to do without new nodes", spec: spec(), maxMoves: 100, wantMoves: 0},
		{name: "disabled", spec: testSpec(12), joined: 3, maxMoves: 100, wantMoves: 0},
		{
			name: "not converged: a replica is pending", spec: spec(), joined: 3, maxMoves: 100, wantMoves: 0,
			prepare: func(h *Harness) {
				for id, a := range h.allocs {
					c := a.Copy()
					c.ClientStatus = ClientPending
					h.allocs[id] = c
					return
				}
			},
		},
		{
			name: "not converged: Plan has work", spec: spec(), joined: 3, maxMoves: 100, wantMoves: 0,
			prepare: func(h *Harness) { h.KillNode("n00") },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := placed(t, tc.spec, tc.joined)
			if tc.prepare != nil {
				tc.prepare(h)
			}
			p := rebalance(t, h, tc.spec, tc.maxMoves)
			if len(p.Place) != tc.wantMoves || len(p.Stop) != tc.wantMoves {
				t.Fatalf("moves: %d places, %d stops, want %d", len(p.Place), len(p.Stop), tc.wantMoves)
			}
			for i, s := range p.Stop {
				if s.Reason != StopRebalance || s.Alloc.Index != p.Place[i].Index {
					t.Errorf("move %d: stop %v of slot %d, place slot %d", i, s.Reason, s.Alloc.Index, p.Place[i].Index)
				}
			}
		})
	}

	t.Run("converges to an even spread", func(t *testing.T) {
		s := spec(func(s *Spec) { s.Update.Parallelism = 2 })
		h := placed(t, s, 3)
		for round := 0; round < 20; round++ {
			p := rebalance(t, h, s, 0)
			if p.IsNoOp() {
				break
			}
			if err := h.SubmitResult(s, p); err != nil {
				t.Fatal(err)
			}
			h.StartAll()
		}
		h.CheckConverged(s)
		perNode := map[string]int{}
		for _, a := range h.Live(s.Name) {
			perNode[a.NodeID]++
		}
		if len(perNode) != 6 {
			t.Errorf("replicas on %d nodes, want 6: %v", len(perNode), perNode)
		}
		for id, n := range perNode {
			if n != 2 {
				t.Errorf("node %s has %d replicas, want 2", id, n)
			}
		}
	})
}
