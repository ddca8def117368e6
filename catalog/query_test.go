package catalog

import (
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/state"
)

func testStore(t *testing.T) *state.Store {
	t.Helper()
	st, err := state.NewStore(Tables()...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// watchFired reports whether a write woke ws.
func watchFired(ws memdb.WatchSet) bool {
	return !ws.Watch(time.After(100 * time.Millisecond))
}

func mustApply(t *testing.T, st *state.Store, idx uint64, fn func(tx *memdb.Txn) error) {
	t.Helper()
	tx := st.WriteTxn()
	if err := fn(tx); err != nil {
		tx.Abort()
		t.Fatal(err)
	}
	tx.Commit()
}

func register(t *testing.T, st *state.Store, idx uint64, req *RegisterRequest) {
	t.Helper()
	mustApply(t, st, idx, func(tx *memdb.Txn) error { return EnsureRegistration(tx, idx, req) })
}

func seed(t *testing.T) *state.Store {
	st := testStore(t)
	register(t, st, 1, &RegisterRequest{Node: "n1", Address: "10.0.0.1", NodeMeta: map[string]string{"rack": "a"},
		Service: &Service{ID: "web1", Service: "web", Tags: []string{"v1", "Primary"}, Port: 80},
		Checks: []*HealthCheck{
			{CheckID: "serfHealth", Status: HealthPassing},
			{CheckID: "web1-http", ServiceID: "web1", Status: HealthPassing},
		}})
	register(t, st, 2, &RegisterRequest{Node: "n2", Address: "10.0.0.2", NodeMeta: map[string]string{"rack": "b"},
		Service: &Service{ID: "web2", Service: "web", Tags: []string{"v2"}, Port: 81},
		Checks: []*HealthCheck{
			{CheckID: "serfHealth", Status: HealthCritical},
			{CheckID: "web2-http", ServiceID: "web2", Status: HealthPassing},
		}})
	register(t, st, 3, &RegisterRequest{Node: "n2", Address: "10.0.0.2", NodeMeta: map[string]string{"rack": "b"},
		Service: &Service{ID: "db1", Service: "db"}})
	return st
}

func TestServiceQueries(t *testing.T) {
	st := seed(t)
	tx := st.ReadTxn()
	defer tx.Abort()
	cases := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"all", Filter{}, []string{"web1", "web2"}},
		{"tag, case-insensitive", Filter{Tags: []string{"primary"}}, []string{"web1"}},
		{"two tags", Filter{Tags: []string{"v1", "v2"}}, nil},
		{"node meta", Filter{NodeMeta: map[string]string{"rack": "b"}}, []string{"web2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			idx, sns, err := ServiceNodes(tx, memdb.NewWatchSet(), "web", tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, sn := range sns {
				got = append(got, sn.ServiceID)
			}
			if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			// db's registration at 3 does not concern web.
			if idx != 2 {
				t.Fatalf("index %d, want 2", idx)
			}
		})
	}
	_, svcs, _ := Services(tx, nil, nil)
	if len(svcs) != 2 || len(svcs["web"]) != 3 || len(svcs["db"]) != 0 {
		t.Fatalf("services %v", svcs)
	}
	_, insts, _ := CheckServiceNodes(tx, nil, "web", Filter{})
	if len(insts) != 2 || len(insts[0].Checks) != 2 || !Passing(insts[0].Checks) || Passing(insts[1].Checks) {
		t.Fatalf("instances %+v", insts)
	}
	if AggregateStatus(insts[1].Checks) != HealthCritical {
		t.Fatal("aggregate of a critical node check")
	}
	_, crit, _ := ChecksInState(tx, nil, HealthCritical, nil)
	if len(crit) != 1 || crit[0].Node != "n2" {
		t.Fatalf("critical checks %+v", crit)
	}
	_, any, _ := ChecksInState(tx, nil, HealthAny, map[string]string{"rack": "a"})
	if len(any) != 2 {
		t.Fatalf("checks on rack a: %+v", any)
	}
	_, node, nsvcs, _ := NodeServices(tx, nil, "n2")
	if node == nil || len(nsvcs) != 2 {
		t.Fatalf("node services %+v %+v", node, nsvcs)
	}
	if _, n, _, _ := NodeServices(tx, nil, "nope"); n != nil {
		t.Fatal("unknown node found")
	}
}

func TestWritesWakeWatchers(t *testing.T) {
	st := seed(t)
	cases := []struct {
		name  string
		query func(tx *memdb.Txn, ws memdb.WatchSet)
		write func(tx *memdb.Txn) error
	}{
		{"health of a service on a check change",
			func(tx *memdb.Txn, ws memdb.WatchSet) { CheckServiceNodes(tx, ws, "web", Filter{}) },
			func(tx *memdb.Txn) error {
				return EnsureRegistration(tx, 10, &RegisterRequest{Node: "n1", Address: "10.0.0.1",
					NodeMeta: map[string]string{"rack": "a"}, Check: &HealthCheck{CheckID: "web1-http", ServiceID: "web1", Status: HealthCritical}})
			}},
		{"services on a new service",
			func(tx *memdb.Txn, ws memdb.WatchSet) { Services(tx, ws, nil) },
			func(tx *memdb.Txn) error {
				return EnsureRegistration(tx, 11, &RegisterRequest{Node: "n1", Address: "10.0.0.1",
					NodeMeta: map[string]string{"rack": "a"}, Service: &Service{ID: "cache", Service: "cache"}})
			}},
		{"node services on a deregistration",
			func(tx *memdb.Txn, ws memdb.WatchSet) { NodeServices(tx, ws, "n2") },
			func(tx *memdb.Txn) error { return Deregister(tx, 12, &DeregisterRequest{Node: "n2", ServiceID: "db1"}) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws := memdb.NewWatchSet()
			tx := st.ReadTxn()
			tc.query(tx, ws)
			tx.Abort()
			mustApply(t, st, 0, tc.write)
			if !watchFired(ws) {
				t.Fatal("write did not wake the watcher")
			}
		})
	}
}

func TestServiceWatchIgnoresOtherServices(t *testing.T) {
	st := seed(t)
	cases := []struct {
		name  string
		write func(tx *memdb.Txn) error
		wake  bool
	}{
		{"another service's check", func(tx *memdb.Txn) error {
			return EnsureRegistration(tx, 40, &RegisterRequest{Node: "n2", Address: "10.0.0.2", NodeMeta: map[string]string{"rack": "b"},
				SkipNodeUpdate: true, Check: &HealthCheck{CheckID: "db-check", ServiceID: "db1", Status: HealthPassing}})
		}, false},
		{"a node without web", func(tx *memdb.Txn) error {
			return EnsureRegistration(tx, 41, &RegisterRequest{Node: "n9", Address: "10.0.0.9"})
		}, false},
		{"a node check of a web node", func(tx *memdb.Txn) error {
			return EnsureRegistration(tx, 42, &RegisterRequest{Node: "n2", SkipNodeUpdate: true,
				Check: &HealthCheck{CheckID: "serfHealth", Status: HealthPassing}})
		}, true},
		{"a web node's meta", func(tx *memdb.Txn) error {
			return EnsureRegistration(tx, 43, &RegisterRequest{Node: "n1", Address: "10.0.0.1", NodeMeta: map[string]string{"rack": "z"}})
		}, true},
		{"deregistering a web node", func(tx *memdb.Txn) error {
			return Deregister(tx, 44, &DeregisterRequest{Node: "n2"})
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ws := memdb.NewWatchSet()
			tx := st.ReadTxn()
			before, _, _ := CheckServiceNodes(tx, ws, "web", Filter{})
			tx.Abort()
			mustApply(t, st, 0, tc.write)
			if got := watchFired(ws); got != tc.wake {
				t.Fatalf("woke = %v, want %v", got, tc.wake)
			}
			tx = st.ReadTxn()
			after, _, _ := CheckServiceNodes(tx, nil, "web", Filter{})
			tx.Abort()
			if (after > before) != tc.wake {
				t.Fatalf("index %d -> %d", before, after)
			}
		})
	}
}

func TestServiceUpdateRefreshesCheckTags(t *testing.T) {
	st := seed(t)
	register(t, st, 20, &RegisterRequest{Node: "n1", Address: "10.0.0.1", NodeMeta: map[string]string{"rack": "a"},
		Service: &Service{ID: "web1", Service: "web", Tags: []string{"v3"}, Port: 80}})
	tx := st.ReadTxn()
	defer tx.Abort()
	_, checks, _ := ServiceChecks(tx, nil, "web", nil)
	for _, c := range checks {
		if c.ServiceID == "web1" && (len(c.ServiceTags) != 1 || c.ServiceTags[0] != "v3" || c.ModifyIndex != 20) {
			t.Fatalf("check not refreshed: %+v", c)
		}
	}
}

func TestBatchIsAtomic(t *testing.T) {
	st := seed(t)
	tx := st.WriteTxn()
	err := ApplyBatch(tx, 30, &BatchRequest{Register: []*RegisterRequest{
		{Node: "n3", Address: "10.0.0.3", Service: &Service{Service: "ok"}},
		{Node: "n3", Address: "10.0.0.3", Check: &HealthCheck{CheckID: "c", ServiceID: "missing"}},
	}})
	tx.Abort()
	if err == nil {
		t.Fatal("batch with a bad entry applied")
	}
	rtx := st.ReadTxn()
	defer rtx.Abort()
	if _, n, _ := GetNode(rtx, nil, "n3"); n != nil {
		t.Fatal("aborted batch left a node")
	}
}
