package allocs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/state"
)

func newStore(t *testing.T) *state.Store {
	t.Helper()
	s, err := state.NewStore(Tables()...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func alloc(id, node string, idx int) *sched.Alloc {
	return &sched.Alloc{Allocation: sched.Allocation{ID: id, Service: "web", NodeID: node, Index: idx,
		DesiredStatus: sched.DesiredRun, ClientStatus: sched.ClientPending}}
}

func write(t *testing.T, s *state.Store, fn func(tx *memdb.Txn) error) {
	t.Helper()
	tx := s.WriteTxn()
	if err := fn(tx); err != nil {
		tx.Abort()
		t.Fatal(err)
	}
	tx.Commit()
}

func TestPlanAndUpdate(t *testing.T) {
	s := newStore(t)
	write(t, s, func(tx *memdb.Txn) error {
		return ApplyPlan(tx, 10, &sched.PlanRequest{Service: "web",
			Place:  []*sched.Alloc{alloc("a1", "n1", 0), alloc("a2", "n2", 1)},
			Status: &sched.ServiceStatus{Version: "v1"}})
	})

	// A watcher on node n2's allocations.
	ws := memdb.NewWatchSet()
	tx := s.ReadTxn()
	_, n2, _ := ByNode(tx, ws, "n2")
	tx.Abort()
	if len(n2) != 1 || n2[0].ID != "a2" || n2[0].CreateIndex != 10 {
		t.Fatalf("n2 allocs %+v", n2)
	}

	steps := []struct {
		name    string
		req     *sched.UpdateRequest
		wantMod uint64 // a2's ModifyIndex afterwards
	}{
		{"report running", &sched.UpdateRequest{NodeID: "n2", Updates: []sched.ClientUpdate{{ID: "a2", ClientStatus: sched.ClientRunning, Healthy: true, IP: "10.0.0.2"}}}, 11},
		{"same report writes nothing", &sched.UpdateRequest{NodeID: "n2", Updates: []sched.ClientUpdate{{ID: "a2", ClientStatus: sched.ClientRunning, Healthy: true, IP: "10.0.0.2"}}}, 11},
		{"another node cannot report on it", &sched.UpdateRequest{NodeID: "n1", Updates: []sched.ClientUpdate{{ID: "a2", ClientStatus: sched.ClientFailed}}}, 11},
		{"unknown allocation ignored", &sched.UpdateRequest{NodeID: "n2", Updates: []sched.ClientUpdate{{ID: "zz", ClientStatus: sched.ClientFailed}}}, 11},
	}
	for i, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			write(t, s, func(tx *memdb.Txn) error { return ApplyUpdate(tx, uint64(11+i), st.req) })
			tx := s.ReadTxn()
			defer tx.Abort()
			_, as, _ := ByService(tx, nil, "web")
			for _, a := range as {
				if a.ID == "a2" && a.ModifyIndex != st.wantMod {
					t.Fatalf("a2 ModifyIndex %d, want %d (%+v)", a.ModifyIndex, st.wantMod, a)
				}
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if ws.WatchCtx(ctx) != nil {
		t.Fatal("a report on n2's allocation did not wake n2's watcher")
	}

	write(t, s, func(tx *memdb.Txn) error {
		return ApplyPlan(tx, 20, &sched.PlanRequest{Service: "web", Stop: []sched.StopRequest{{ID: "a1", Reason: "scale-down"}}})
	})
	tx = s.ReadTxn()
	_, n1, _ := ByNode(tx, nil, "n1")
	tx.Abort()
	if n1[0].DesiredStatus != sched.DesiredStop || n1[0].DesiredDescription != "scale-down" || n1[0].ModifyIndex != 20 {
		t.Fatalf("stopped alloc %+v", n1[0])
	}
	write(t, s, func(tx *memdb.Txn) error {
		return ApplyPlan(tx, 21, &sched.PlanRequest{Service: "web", Delete: []string{"a1"}, DeleteStatus: true})
	})
	tx = s.ReadTxn()
	defer tx.Abort()
	_, all, _ := All(tx, nil)
	st, _ := Status(tx, "web")
	if len(all) != 1 || st != nil {
		t.Fatalf("after delete: %d allocs, status %+v", len(all), st)
	}
	if err := func() error {
		tx := s.WriteTxn()
		defer tx.Abort()
		return ApplyPlan(tx, 22, &sched.PlanRequest{Service: "web", Place: []*sched.Alloc{alloc("a2", "n3", 5)}})
	}(); err == nil {
		t.Fatal("placing an existing allocation ID must fail (and abort the whole plan)")
	}
}

// TestNodeWatchWakesOnlyForItsNode checks what wakes a blocking query on
// one node's allocations (every agent's realiser holds one): a change of
// that node's allocations, and not a write to another table or to another
// node's allocations. A watch on the table's index row woke every node's
// query on any allocation change, and, before the first allocation (the
// row then missing, its watch the index table's root), on every write to
// any table: every KV write woke every agent's realiser.
func TestNodeWatchWakesOnlyForItsNode(t *testing.T) {
	place := func(id, node string) func(*memdb.Txn, uint64) error {
		return func(tx *memdb.Txn, idx uint64) error {
			return ApplyPlan(tx, idx, &sched.PlanRequest{Service: "web", Place: []*sched.Alloc{alloc(id, node, 0)}})
		}
	}
	report := func(id, node string) func(*memdb.Txn, uint64) error {
		return func(tx *memdb.Txn, idx uint64) error {
			return ApplyUpdate(tx, idx, &sched.UpdateRequest{NodeID: node,
				Updates: []sched.ClientUpdate{{ID: id, ClientStatus: sched.ClientRunning}}})
		}
	}
	otherTable := func(tx *memdb.Txn, idx uint64) error { return state.UpdateIndex(tx, "kvs", idx) }
	cases := []struct {
		name   string
		before []func(*memdb.Txn, uint64) error
		change func(*memdb.Txn, uint64) error
		wake   bool
	}{
		{"another table, no allocation yet", nil, otherTable, false},
		{"another table", []func(*memdb.Txn, uint64) error{place("a1", "n1")}, otherTable, false},
		{"another node's report", []func(*memdb.Txn, uint64) error{place("a1", "n1"), place("a2", "n2")}, report("a2", "n2"), false},
		{"another node's placement", []func(*memdb.Txn, uint64) error{place("a1", "n1"), place("a2", "n2")}, place("a3", "n2"), false},
		{"its own placement", nil, place("a1", "n1"), true},
		{"its own report", []func(*memdb.Txn, uint64) error{place("a1", "n1")}, report("a1", "n1"), true},
		{"its allocation deleted", []func(*memdb.Txn, uint64) error{place("a1", "n1"), place("a2", "n2")}, func(tx *memdb.Txn, idx uint64) error {
			return ApplyPlan(tx, idx, &sched.PlanRequest{Service: "web", Delete: []string{"a1"}})
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			idx := uint64(10)
			for _, fn := range tc.before {
				idx++
				write(t, s, func(tx *memdb.Txn) error { return fn(tx, idx) })
			}
			ws := memdb.NewWatchSet()
			tx := s.ReadTxn()
			if _, _, err := ByNode(tx, ws, "n1"); err != nil {
				t.Fatal(err)
			}
			tx.Abort()
			write(t, s, func(tx *memdb.Txn) error { return tc.change(tx, idx+1) })
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			if woke := ws.WatchCtx(ctx) == nil; woke != tc.wake {
				t.Fatalf("n1's watch woke: %v, want %v", woke, tc.wake)
			}
		})
	}
}

// TestOneReportWakesOneNodeQuery counts, with 100 nodes each running one
// allocation and each node's realiser query parked, how many queries one
// node's status report wakes: its own only (all 100 before list watched
// only its part of the index).
func TestOneReportWakesOneNodeQuery(t *testing.T) {
	const nodes = 100
	s := newStore(t)
	var place []*sched.Alloc
	for i := range nodes {
		place = append(place, alloc(fmt.Sprintf("a%d", i), fmt.Sprintf("n%d", i), i))
	}
	write(t, s, func(tx *memdb.Txn) error {
		return ApplyPlan(tx, 10, &sched.PlanRequest{Service: "web", Place: place})
	})
	watches := make([]memdb.WatchSet, nodes)
	tx := s.ReadTxn()
	for i := range watches {
		watches[i] = memdb.NewWatchSet()
		if _, as, err := ByNode(tx, watches[i], fmt.Sprintf("n%d", i)); err != nil || len(as) != 1 {
			t.Fatalf("n%d: %d allocations, %v", i, len(as), err)
		}
	}
	tx.Abort()
	write(t, s, func(tx *memdb.Txn) error {
		return ApplyUpdate(tx, 11, &sched.UpdateRequest{NodeID: "n7",
			Updates: []sched.ClientUpdate{{ID: "a7", ClientStatus: sched.ClientRunning}}})
	})
	var woke []int
	for i, ws := range watches {
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		if ws.WatchCtx(ctx) == nil {
			woke = append(woke, i)
		}
		cancel()
	}
	if len(woke) != 1 || woke[0] != 7 {
		t.Fatalf("n7's report woke %d of %d node queries (%v), want only n7's", len(woke), nodes, woke)
	}
}
