package sched

import "testing"

// TestStatefulReplicasStayOnTheirNode checks that a spec with a host
// volume never moves a replica: a down node keeps its replica, a failed or
// updated replica is replaced on the same node (or left unplaced when that
// node cannot take it), and rebalancing proposes nothing.
func TestStatefulReplicasStayOnTheirNode(t *testing.T) {
	stateful := func(s *Spec) {
		s.Volumes = []Volume{{Source: "/srv/db", Target: "/data", Type: VolumeHost}}
		s.Rebalance = true
	}
	spec := testSpec(2, stateful)
	cases := []struct {
		name        string
		nodes       []*Node
		current     []*Allocation
		spec        *Spec
		wantPlaceOn []string // node per placed replica
		wantStops   int
		wantUnplace int
	}{
		{
			name:    "node down: replica kept, nothing placed",
			nodes:   []*Node{testNode("n0", withStatus(NodeDown), hostVols), testNode("n1", hostVols), testNode("n2", hostVols)},
			current: []*Allocation{liveAlloc(spec, "a0", "n0", 0), liveAlloc(spec, "a1", "n1", 1)},
			spec:    spec,
		},
		{
			name:  "failed replica replaced on its own node",
			nodes: testNodes(3, hostVols),
			current: func() []*Allocation {
				a := liveAlloc(spec, "a0", "n00", 0)
				a.ClientStatus = ClientFailed
				return []*Allocation{a, liveAlloc(spec, "a1", "n01", 1)}
			}(),
			spec:        spec,
			wantPlaceOn: []string{"n00"},
			wantStops:   1,
		},
		{
			name:        "new version replaces in place",
			nodes:       testNodes(3, hostVols),
			current:     []*Allocation{liveAlloc(spec, "a0", "n00", 0), liveAlloc(spec, "a1", "n01", 1)},
			spec:        testSpec(2, stateful, func(s *Spec) { s.Image = "nginx:1.28"; s.Update.Parallelism = 2 }),
			wantPlaceOn: []string{"n00", "n01"},
			wantStops:   2,
		},
		{
			name:  "its node cannot take it: unplaced, not moved",
			nodes: []*Node{testNode("n00", withStatus(NodeDisconnected), hostVols), testNode("n01", hostVols), testNode("n02", hostVols)},
			current: func() []*Allocation {
				a := liveAlloc(spec, "a0", "n00", 0)
				a.ClientStatus = ClientFailed
				return []*Allocation{a, liveAlloc(spec, "a1", "n01", 1)}
			}(),
			spec:        spec,
			wantStops:   1,
			wantUnplace: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			plan, err := Plan(tc.spec, tc.nodes, tc.current, 1)
			if err != nil {
				t.Fatal(err)
			}
			var on []string
			for _, p := range plan.Place {
				on = append(on, p.NodeID)
			}
			if len(on) != len(tc.wantPlaceOn) || len(plan.Stop) != tc.wantStops || len(plan.Unplaced) != tc.wantUnplace {
				t.Fatalf("placed on %v (want %v), %d stops (want %d), %d unplaced (want %d)",
					on, tc.wantPlaceOn, len(plan.Stop), tc.wantStops, len(plan.Unplaced), tc.wantUnplace)
			}
			for i := range on {
				if on[i] != tc.wantPlaceOn[i] {
					t.Fatalf("placed on %v, want %v", on, tc.wantPlaceOn)
				}
			}
		})
	}

	// Rebalancing never moves a stateful replica onto an empty node.
	nodes := testNodes(4, hostVols)
	current := []*Allocation{liveAlloc(spec, "a0", "n00", 0), liveAlloc(spec, "a1", "n00", 1)}
	rb, err := Rebalance(spec, nodes, current, 1, 2)
	if err != nil || !rb.IsNoOp() {
		t.Fatalf("rebalance of a stateful service: %+v, %v", rb, err)
	}
}

// hostVols lets a test node run host volumes, which stateful services use.
var hostVols = withAllows(AllowHostVolumes)
