package sched

import (
	"slices"
	"testing"
)

func TestRollingUpdate(t *testing.T) {
	v1 := testSpec(4)
	v2mod := func(s *Spec) { s.Image = "nginx:1.28" }
	withCheck := func(s *Spec) {
		s.Ports = []Port{{Name: "http", Container: 80}}
		s.Check = &Check{HTTP: "/health"}
	}
	// old returns four running replicas of v1, with the given ones (by
	// slot) swapped for v2 replicas in the given client status.
	old := func(v2 *Spec, status ClientStatus, healthy bool, slots ...int) []*Allocation {
		var out []*Allocation
		for i := 0; i < 4; i++ {
			a := liveAlloc(v1, "old"+string(rune('0'+i)), "n0"+string(rune('0'+i%2)), i)
			if slices.Contains(slots, i) {
				a = liveAlloc(v2, "new"+string(rune('0'+i)), a.NodeID, i)
				a.ClientStatus, a.Healthy = status, healthy
			}
			out = append(out, a)
		}
		return out
	}
	tests := []struct {
		name         string
		spec         *Spec
		current      func(v2 *Spec) []*Allocation
		wantSlots    []int // slots replaced (stopped and placed again)
		wantStatus   UpdateStatus
		wantNoUpdate bool
	}{
		{
			name:       "parallelism 1",
			spec:       testSpec(4, v2mod),
			current:    func(v2 *Spec) []*Allocation { return old(v2, "", false) },
			wantSlots:  []int{0},
			wantStatus: UpdateStatus{Outdated: 4, Replacing: 1},
		},
		{
			name:       "parallelism 3",
			spec:       testSpec(4, v2mod, func(s *Spec) { s.Update.Parallelism = 3 }),
			current:    func(v2 *Spec) []*Allocation { return old(v2, "", false) },
			wantSlots:  []int{0, 1, 2},
			wantStatus: UpdateStatus{Outdated: 4, Replacing: 3},
		},
		{
			name:       "waits for a pending replica",
			spec:       testSpec(4, v2mod),
			current:    func(v2 *Spec) []*Allocation { return old(v2, ClientPending, false, 0) },
			wantStatus: UpdateStatus{Outdated: 3, InFlight: 1},
		},
		{
			name:       "running counts as settled without health gating",
			spec:       testSpec(4, v2mod, withCheck),
			current:    func(v2 *Spec) []*Allocation { return old(v2, ClientRunning, false, 0) },
			wantSlots:  []int{1},
			wantStatus: UpdateStatus{Outdated: 3, Replacing: 1},
		},
		{
			name:       "health gated waits for healthy",
			spec:       testSpec(4, v2mod, withCheck, func(s *Spec) { s.Update.HealthGated = true }),
			current:    func(v2 *Spec) []*Allocation { return old(v2, ClientRunning, false, 0) },
			wantStatus: UpdateStatus{Outdated: 3, InFlight: 1},
		},
		{
			name:       "health gated proceeds when healthy",
			spec:       testSpec(4, v2mod, withCheck, func(s *Spec) { s.Update.HealthGated = true; s.Update.Parallelism = 2 }),
			current:    func(v2 *Spec) []*Allocation { return old(v2, ClientRunning, true, 0) },
			wantSlots:  []int{1, 2},
			wantStatus: UpdateStatus{Outdated: 3, Replacing: 2},
		},
		{
			name: "halts after too many failures",
			spec: testSpec(4, v2mod, func(s *Spec) { s.Update.OnFailure = FailureRollback; s.Update.MaxFailures = 1 }),
			current: func(v2 *Spec) []*Allocation {
				cur := old(v2, ClientRunning, true, 0)
				for _, id := range []string{"f1", "f2"} {
					f := liveAlloc(v2, id, "n00", 0)
					f.DesiredStatus, f.ClientStatus = DesiredStop, ClientFailed
					cur = append(cur, f)
				}
				return cur
			},
			wantStatus: UpdateStatus{Outdated: 3, Failed: 2, Halted: true, Action: FailureRollback},
		},
		{
			name:         "scaling is not an update",
			spec:         testSpec(6),
			current:      func(*Spec) []*Allocation { return old(v1, "", false) },
			wantNoUpdate: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPlan(t, tc.spec, testNodes(2), tc.current(tc.spec), 3)
			if tc.wantNoUpdate {
				if p.Update != nil {
					t.Errorf("Update = %+v, want nil", p.Update)
				}
				return
			}
			var stopped []int
			for _, s := range p.Stop {
				if s.Reason != StopVersion {
					t.Errorf("unexpected stop %v of slot %d", s.Reason, s.Alloc.Index)
				}
				stopped = append(stopped, s.Alloc.Index)
			}
			if !slices.Equal(stopped, tc.wantSlots) || !slices.Equal(placedIndexes(p), tc.wantSlots) {
				t.Errorf("stopped %v, placed %v, want %v", stopped, placedIndexes(p), tc.wantSlots)
			}
			if p.Update == nil || *p.Update != tc.wantStatus {
				t.Errorf("Update = %+v, want %+v", p.Update, tc.wantStatus)
			}
		})
	}
}

func TestRollingUpdateGlobalInPlace(t *testing.T) {
	v1 := testSpec(0, func(s *Spec) { s.Mode, s.Replicas = ModeGlobal, nil })
	v2 := testSpec(0, func(s *Spec) {
		s.Mode, s.Replicas, s.Image = ModeGlobal, nil, "nginx:2"
		s.Update.Parallelism = 2
	})
	nodes := append(testNodes(3), testNode("n03", withStatus(NodeDisconnected)))
	var cur []*Allocation
	for i, n := range nodes {
		cur = append(cur, liveAlloc(v1, "g"+n.ID, n.ID, i))
	}
	p := mustPlan(t, v2, nodes, cur, 1)
	if len(p.Stop) != 2 || len(p.Place) != 2 {
		t.Fatalf("stops %d, places %d, want 2 and 2", len(p.Stop), len(p.Place))
	}
	for i, a := range p.Place {
		if s := p.Stop[i].Alloc; s.NodeID != a.NodeID || s.Index != a.Index {
			t.Errorf("replacement %d/%s is not in place of %d/%s", a.Index, a.NodeID, s.Index, s.NodeID)
		}
	}
	if p.Update.Outdated != 4 || p.Update.Replacing != 2 {
		t.Errorf("Update = %+v", p.Update)
	}
}
