package sched

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// specDoc returns a spec document for service name with the given
// replicas and extra JSON fields (such as `"image": "x:2"`).
func specDoc(name string, replicas int, extra ...string) []byte {
	fields := []string{fmt.Sprintf(`"name": %q`, name), fmt.Sprintf(`"replicas": %d`, replicas)}
	if !strings.Contains(strings.Join(extra, ","), `"image"`) {
		fields = append(fields, `"image": "nginx:1.27"`)
	}
	return []byte("{" + strings.Join(append(fields, extra...), ", ") + "}")
}

func mustParse(t *testing.T, doc []byte) *Spec {
	t.Helper()
	s, err := ParseSpec(doc)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// converge evaluates and starts replicas until nothing changes, at most
// 20 rounds.
func (h *Harness) converge() {
	h.t.Helper()
	for round := 0; round < 20; round++ {
		ev := h.Evaluate()
		h.StartAll()
		if len(ev.Submitted) == 0 {
			return
		}
	}
	h.t.Fatal("evaluations did not converge in 20 rounds")
}

// TestWithPlanFreesAndTakes checks that a pass's later plans see what an
// earlier plan of the same pass placed and stopped.
func TestWithPlanFreesAndTakes(t *testing.T) {
	a := &Allocation{ID: "a", Service: "x", DesiredStatus: DesiredRun}
	b := &Allocation{ID: "b", Service: "x", DesiredStatus: DesiredRun}
	req := &PlanRequest{Service: "x", Stop: []StopRequest{{ID: "a"}},
		Place: []*Alloc{{Allocation: Allocation{ID: "c", Service: "x", DesiredStatus: DesiredRun}}}}
	got := withPlan([]*Allocation{a, b}, req)
	if len(got) != 3 || got[0].DesiredStatus != DesiredStop || got[1] != b || got[2].ID != "c" {
		t.Fatalf("withPlan: %+v", got)
	}
	if a.DesiredStatus != DesiredRun {
		t.Fatal("withPlan modified a stored allocation")
	}
}

// TestEvaluateStatus checks the status each kind of spec records and what
// gets placed for it.
func TestEvaluateStatus(t *testing.T) {
	tests := []struct {
		name        string
		doc         []byte
		limits      Limits
		wantPlaced  int
		wantErr     string // substring of Status.Error; "" means valid
		wantVersion bool
		wantUnplace []string
	}{
		{name: "valid", doc: specDoc("web", 3), wantPlaced: 3, wantVersion: true},
		{name: "not json", doc: []byte(`{"name": "web",`), wantErr: "invalid service spec"},
		{name: "breaks a rule", doc: specDoc("web", -1), wantErr: `replicas: must be >= 0, got -1`},
		{name: "name differs from key", doc: specDoc("api", 1), wantErr: `spec name "api" does not match its key shoal/services/web`},
		{name: "beyond the default max replicas", doc: specDoc("web", DefaultMaxReplicas+1),
			wantErr: fmt.Sprintf("replicas: must be <= %d (the scheduler's max_replicas), got %d", DefaultMaxReplicas, DefaultMaxReplicas+1)},
		{name: "beyond a configured max replicas", doc: specDoc("web", 6), limits: Limits{MaxReplicas: 5},
			wantErr: "replicas: must be <= 5 (the scheduler's max_replicas), got 6"},
		{name: "at the max replicas", doc: specDoc("web", 5), limits: Limits{MaxReplicas: 5}, wantPlaced: 5, wantVersion: true},
		{name: "unplaceable replicas counted per reason", doc: specDoc("web", 4, `"constraints": ["node.meta.disk == ssd"]`),
			wantVersion: true, wantUnplace: []string{`4 replicas: constraint "node.meta.disk == ssd" filtered 2 nodes`}},
		{name: "one unplaceable replica named by slot", doc: specDoc("web", 1, `"constraints": ["node.meta.disk == ssd"]`),
			wantVersion: true, wantUnplace: []string{`replica 0: constraint "node.meta.disk == ssd" filtered 2 nodes`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHarness(t, testNodes(2)...)
			h.Limits = tc.limits
			h.PutSpec("web", tc.doc)
			h.Evaluate()
			st := h.Status("web")
			if st == nil {
				t.Fatal("no status recorded")
			}
			if tc.wantErr == "" && st.Error != "" || !strings.Contains(st.Error, tc.wantErr) {
				t.Errorf("Error = %q, want containing %q", st.Error, tc.wantErr)
			}
			if (st.Version != "") != tc.wantVersion {
				t.Errorf("Version = %q, want set: %v", st.Version, tc.wantVersion)
			}
			if got := len(h.Live("web")); got != tc.wantPlaced {
				t.Errorf("%d replicas placed, want %d", got, tc.wantPlaced)
			}
			if strings.Join(st.Unplaced, "\n") != strings.Join(tc.wantUnplace, "\n") {
				t.Errorf("Unplaced = %q, want %q", st.Unplaced, tc.wantUnplace)
			}
			if ev := h.Evaluate(); len(ev.Submitted) != 0 {
				t.Errorf("a second evaluation of the same state submitted %d plans", len(ev.Submitted))
			}
		})
	}
}

// TestEvaluateBadSpecKeepsLastGood checks that an invalid update records
// its error and leaves the running replicas and version alone.
func TestEvaluateBadSpecKeepsLastGood(t *testing.T) {
	h := NewHarness(t, testNodes(2)...)
	good := specDoc("web", 2)
	h.PutSpec("web", good)
	h.converge()
	version := mustParse(t, good).Version()
	h.PutSpec("web", specDoc("web", 2, `"strategy": "fastest"`))
	h.Evaluate()
	st := h.Status("web")
	if !strings.Contains(st.Error, "unknown strategy") || st.Version != version || st.LastGoodVersion != version {
		t.Errorf("status %+v: want the strategy error, version and last good %s", st, version)
	}
	if live := h.Live("web"); len(live) != 2 || live[0].Version != version {
		t.Errorf("live replicas %d, want the 2 of the last good version", len(live))
	}
}

// TestEvaluateLastGoodAndRollback drives a rolling update that fails: the
// settled version is recorded as last good, and a halted update with
// on_failure "rollback" restores it.
func TestEvaluateLastGoodAndRollback(t *testing.T) {
	update := func(onFailure string) string {
		return fmt.Sprintf(`"update": {"on_failure": %q, "max_failures": 0}`, onFailure)
	}
	tests := []struct {
		name         string
		onFailure    string
		wantRollback bool
	}{
		{name: "rollback restores the last good spec", onFailure: "rollback", wantRollback: true},
		{name: "pause halts where it is", onFailure: "pause"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHarness(t, testNodes(2)...)
			v1 := specDoc("web", 2, update(tc.onFailure))
			h.PutSpec("web", v1)
			h.converge()
			s1 := mustParse(t, v1)
			if st := h.Status("web"); st.LastGoodVersion != s1.Version() || string(h.lastGood["web"]) != string(v1) {
				t.Fatalf("after converging: last good %q (doc %q), want %s", st.LastGoodVersion, h.lastGood["web"], s1.Version())
			}
			v2 := specDoc("web", 2, `"image": "nginx:1.28"`, update(tc.onFailure))
			s2 := mustParse(t, v2)
			h.PutSpec("web", v2)
			h.Evaluate() // replaces one replica
			h.SetClientStatus("web", s2.Version(), ClientFailed)
			ev := h.Evaluate()
			st := h.Status("web")
			if !st.Update.Halted {
				t.Fatalf("update not halted: %+v", st.Update)
			}
			rolledBack := len(ev.Submitted) == 1 && ev.Submitted[0].Rollback != nil
			if rolledBack != tc.wantRollback {
				t.Fatalf("rolled back: %v, want %v (plans %+v)", rolledBack, tc.wantRollback, ev.Submitted)
			}
			if !tc.wantRollback {
				if string(h.specs["web"]) != string(v2) || st.RolledBackFrom != "" {
					t.Errorf("paused update changed the spec or recorded a rollback from %q", st.RolledBackFrom)
				}
				return
			}
			if string(h.specs["web"]) != string(v1) || st.RolledBackFrom != s2.Version() {
				t.Errorf("spec %s, rolled back from %q; want v1 restored, from %s", h.specs["web"], st.RolledBackFrom, s2.Version())
			}
			h.converge()
			h.CheckConverged(s1)
		})
	}
}

// TestEvaluateRollbackNeedsLastGood checks that a failed update of a
// service that never settled (no last good spec) is left halted.
func TestEvaluateRollbackNeedsLastGood(t *testing.T) {
	h := NewHarness(t, testNodes(2)...)
	doc := specDoc("web", 2, `"update": {"on_failure": "rollback"}`)
	h.PutSpec("web", doc)
	h.Evaluate()
	h.SetClientStatus("web", mustParse(t, doc).Version(), ClientFailed)
	h.Evaluate()
	if string(h.specs["web"]) != string(doc) || h.Status("web").RolledBackFrom != "" {
		t.Errorf("rolled back without a last good spec")
	}
}

// TestEvaluateRemoval checks what happens to a service whose spec is
// deleted: replicas stop, then finished ones are deleted, then the status.
func TestEvaluateRemoval(t *testing.T) {
	tests := []struct {
		name string
		// after the stop: the agents' report, or a node going down
		after       func(h *Harness)
		wantDeleted bool
	}{
		{name: "replicas that finished are deleted", after: func(h *Harness) {
			for id, a := range h.allocs {
				if a.Service != "web" {
					continue
				}
				c := a.Copy()
				c.ClientStatus = ClientComplete
				h.allocs[id] = c
			}
		}, wantDeleted: true},
		{name: "replicas on a down node are deleted", after: func(h *Harness) {
			h.KillNode("n00")
			h.KillNode("n01")
		}, wantDeleted: true},
		{name: "running replicas stay until they finish", after: func(*Harness) {}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHarness(t, testNodes(3)...)
			h.PutSpec("web", specDoc("web", 3, `"constraints": ["node.name != n02"]`))
			h.PutSpec("api", specDoc("api", 1, `"constraints": ["node.name == n02"]`))
			h.converge()
			h.DeleteSpec("web")
			ev := h.Evaluate()
			if len(ev.Submitted) != 1 || len(ev.Submitted[0].Stop) != 3 || ev.Submitted[0].Stop[0].Reason != string(StopServiceRemoved) {
				t.Fatalf("first evaluation after the delete: %+v, want 3 stops (service removed)", ev.Submitted)
			}
			if len(h.Live("web")) != 0 || h.Status("web") == nil {
				t.Fatal("replicas still live, or status gone before the replicas")
			}
			tc.after(h)
			h.Evaluate()
			stored := 0
			for _, a := range h.allocs {
				if a.Service == "web" {
					stored++
				}
			}
			if gone := stored == 0 && h.Status("web") == nil; gone != tc.wantDeleted {
				t.Errorf("allocations left %d, status %v; want deleted: %v", stored, h.Status("web"), tc.wantDeleted)
			}
			if len(h.Live("api")) != 1 {
				t.Error("another service was disturbed")
			}
			if ev := h.Evaluate(); len(ev.Submitted) != 0 {
				t.Errorf("removal did not settle: %+v", ev.Submitted)
			}
		})
	}
}

// TestEvaluateDependencyCycle checks that services whose depends_on closes
// a cycle are rejected with an error naming it, and only they.
func TestEvaluateDependencyCycle(t *testing.T) {
	tests := []struct {
		name     string
		deps     map[string][]string
		wantErrs map[string]string
	}{
		{name: "two services", deps: map[string][]string{"a": {"b"}, "b": {"a"}, "c": {"a"}},
			wantErrs: map[string]string{"a": "depends_on cycle: a -> b -> a", "b": "depends_on cycle: b -> a -> b"}},
		{name: "three services", deps: map[string][]string{"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": nil},
			wantErrs: map[string]string{"a": "a -> b -> c -> a", "b": "b -> c -> a -> b", "c": "c -> a -> b -> c"}},
		{name: "a chain is fine", deps: map[string][]string{"a": {"b"}, "b": {"c"}, "c": nil}},
		{name: "a dependency without a spec is no edge", deps: map[string][]string{"a": {"ghost"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHarness(t, testNodes(2)...)
			for name, deps := range tc.deps {
				extra := []string{}
				if len(deps) > 0 {
					extra = append(extra, fmt.Sprintf(`"depends_on": ["%s"]`, strings.Join(deps, `", "`)))
				}
				h.PutSpec(name, specDoc(name, 1, extra...))
			}
			h.Evaluate()
			for name := range tc.deps {
				st := h.Status(name)
				want, inCycle := tc.wantErrs[name]
				if !inCycle {
					if st.Error != "" || len(h.Live(name)) != 1 {
						t.Errorf("%s: error %q, %d replicas; want placed", name, st.Error, len(h.Live(name)))
					}
					continue
				}
				if !strings.Contains(st.Error, want) || len(h.Live(name)) != 0 {
					t.Errorf("%s: error %q, %d replicas; want none and %q", name, st.Error, len(h.Live(name)), want)
				}
			}
		})
	}
	t.Run("error matches ErrDependencyCycle", func(t *testing.T) {
		specs := map[string]*Spec{"a": testSpec(1, func(s *Spec) { s.Name, s.DependsOn = "a", []string{"b"} }),
			"b": testSpec(1, func(s *Spec) { s.Name, s.DependsOn = "b", []string{"a"} })}
		if err := dependencyCycles(specs)["a"]; !errors.Is(err, ErrDependencyCycle) {
			t.Errorf("err %v does not match ErrDependencyCycle", err)
		}
	})
}

// TestLimits checks the bounds of Limits and that Check's error matches
// both ErrLimit and ErrInvalidSpec.
func TestLimits(t *testing.T) {
	tests := []struct {
		name     string
		limits   Limits
		replicas int
		global   bool
		wantErr  bool
	}{
		{name: "default allows its maximum", replicas: DefaultMaxReplicas},
		{name: "default rejects one more", replicas: DefaultMaxReplicas + 1, wantErr: true},
		{name: "raised", limits: Limits{MaxReplicas: MaxReplicas}, replicas: MaxReplicas},
		{name: "global ignores replicas", replicas: 0, global: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testSpec(tc.replicas)
			if tc.global {
				s = testSpec(0, func(s *Spec) { s.Mode, s.Replicas = ModeGlobal, nil })
			}
			err := tc.limits.Check(s)
			if (err != nil) != tc.wantErr || err != nil && (!errors.Is(err, ErrLimit) || !errors.Is(err, ErrInvalidSpec)) {
				t.Errorf("Check: %v, want error %v matching ErrLimit and ErrInvalidSpec", err, tc.wantErr)
			}
		})
	}
	for _, bad := range []int{-1, MaxReplicas + 1} {
		if err := (Limits{MaxReplicas: bad}).Validate(); err == nil {
			t.Errorf("Validate accepted MaxReplicas %d", bad)
		}
	}
}

// TestEvaluateBoundedBesideHugeSpec checks that a spec asking for the
// absolute maximum of replicas no node can take (allowed by raised limits)
// records a status whose size does not grow with the replicas, and that
// the other services are still planned in the same evaluation.
func TestEvaluateBoundedBesideHugeSpec(t *testing.T) {
	h := NewHarness(t, testNodes(3)...)
	h.Limits = Limits{MaxReplicas: MaxReplicas}
	h.PutSpec("huge", specDoc("huge", MaxReplicas, `"constraints": ["node.meta.gpu == yes"]`))
	h.PutSpec("web", specDoc("web", 2))
	h.Evaluate()
	st := h.Status("huge")
	want := fmt.Sprintf(`%d replicas: constraint "node.meta.gpu == yes" filtered 3 nodes`, MaxReplicas)
	if len(st.Unplaced) != 1 || st.Unplaced[0] != want {
		t.Errorf("Unplaced = %q, want [%q]", st.Unplaced, want)
	}
	if len(h.Live("web")) != 2 {
		t.Errorf("web has %d replicas, want 2", len(h.Live("web")))
	}
}

// TestEvaluateUpdateDelay checks that a batch of a rolling update asks the
// leader to hold the service back for update.delay, and that a service
// that is not due is left alone.
func TestEvaluateUpdateDelay(t *testing.T) {
	h := NewHarness(t, testNodes(2)...)
	h.PutSpec("web", specDoc("web", 2, `"update": {"delay": "30s"}`))
	h.converge()
	h.PutSpec("web", specDoc("web", 2, `"image": "nginx:1.28"`, `"update": {"delay": "30s"}`))
	h.seed++
	ev, err := Evaluate(h, h, EvalConfig{Seed: h.seed, Due: func(string) bool { return false }})
	if err != nil || len(ev.Submitted) != 0 {
		t.Fatalf("a service that is not due was planned: %v %+v", err, ev)
	}
	ev = h.Evaluate()
	if len(ev.Submitted) != 1 || len(ev.Submitted[0].Stop) != 1 || ev.Delays["web"] != 30*time.Second {
		t.Errorf("plans %+v, delays %v; want one replacement and a 30s delay", ev.Submitted, ev.Delays)
	}
}
