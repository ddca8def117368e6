package sched

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestSimulatedCluster runs three services on 200 nodes through node
// failures, joins, scaling and a rolling update, checking after every
// step that no replica is lost or duplicated.
func TestSimulatedCluster(t *testing.T) {
	r := rand.New(rand.NewPCG(2024, 1))
	var nodes []*Node
	for i := 0; i < 200; i++ {
		n := testNode(fmt.Sprintf("node-%03d", i), withMeta("zone", []string{"eu-1", "eu-2", "us-1"}[i%3]))
		if i%10 == 0 {
			n.Role = RoleServer
		}
		nodes = append(nodes, n)
	}
	h := NewHarness(t, nodes...)

	web := testSpec(300, func(s *Spec) {
		s.Network = NetworkBridge // dynamic host ports
		s.Ports = []Port{{Name: "http", Container: 8080}}
		s.Update.Parallelism = 25
	})
	cache := &Spec{Name: "cache", Image: "redis:7", Replicas: intPtr(120), Strategy: StrategyBinpack,
		Resources:   Resources{CPU: 500, MemoryMB: 1024},
		Ports:       []Port{{Name: "redis", Container: 6379, Host: 6379}},
		Constraints: []string{"node.role != server"}}
	agent := &Spec{Name: "agent", Image: "agent:1", Mode: ModeGlobal, Resources: Resources{CPU: 50, MemoryMB: 64},
		Constraints: []string{"node.meta.zone regexp ^eu-"}}
	specs := []*Spec{web, cache, agent}
	for _, s := range specs {
		s.Canonicalize()
	}
	convergeAll := func(step string) {
		t.Helper()
		for _, s := range specs {
			h.Converge(s)
		}
		// Global mode only runs where the constraint holds.
		h.CheckConverged(web, cache)
		checkGlobal(t, h, agent)
		if t.Failed() {
			t.Fatalf("invariants broken after %s", step)
		}
	}
	convergeAll("initial placement")

	alive := func() []string {
		var ids []string
		for _, n := range nodes {
			if h.nodes[n.ID].Status == NodeReady {
				ids = append(ids, n.ID)
			}
		}
		return ids
	}
	for round := 0; round < 5; round++ {
		ids := alive()
		for k := 0; k < 10; k++ {
			h.KillNode(ids[r.IntN(len(ids))])
		}
		convergeAll(fmt.Sprintf("killing nodes, round %d", round))
	}

	for i := 200; i < 220; i++ {
		h.AddNode(testNode(fmt.Sprintf("node-%03d", i), withMeta("zone", "eu-1")))
	}
	convergeAll("nodes joined")

	*web.Replicas = 150
	*cache.Replicas = 100
	convergeAll("scaling")

	web.Image = "web:2"
	rounds := h.Converge(web)
	if rounds < 150/25 {
		t.Errorf("rolling update took %d rounds, want at least %d batches", rounds, 150/25)
	}
	convergeAll("rolling update")

	// Every replacement reused a slot: slots stay 0..n-1.
	for i, a := range h.Live("web") {
		if a.Index != i {
			t.Fatalf("web slots are not 0..n-1: slot %d at position %d", a.Index, i)
		}
	}
}

func checkGlobal(t *testing.T, h *Harness, s *Spec) {
	t.Helper()
	con, _ := ParseConstraint(s.Constraints[0])
	want := map[string]bool{}
	for id, n := range h.nodes {
		if n.Status == NodeReady && con.Match(n) {
			want[id] = true
		}
	}
	got := map[string]bool{}
	for _, a := range h.Live(s.Name) {
		if got[a.NodeID] {
			t.Errorf("global: two replicas on %s", a.NodeID)
		}
		got[a.NodeID] = true
		if !want[a.NodeID] {
			t.Errorf("global: replica on %s, which is not eligible", a.NodeID)
		}
	}
	if len(got) != len(want) {
		t.Errorf("global: %d replicas, want %d", len(got), len(want))
	}
}
