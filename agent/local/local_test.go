package local

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/state"
)

// fakeServers answers the agent's RPCs from a real catalog store, as a
// server would, without Raft or networking.
type fakeServers struct {
	t     *testing.T
	mu    sync.Mutex
	store *state.Store
	idx   uint64
	calls map[string]int
	// reject fails registrations of this service name.
	reject string
}

func newFakeServers(t *testing.T) *fakeServers {
	st, err := state.NewStore(catalog.Tables()...)
	if err != nil {
		t.Fatal(err)
	}
	return &fakeServers{t: t, store: st, calls: map[string]int{}}
}

func (f *fakeServers) write(fn func(tx txn, idx uint64) error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.idx++
	tx := f.store.WriteTxn()
	if err := fn(tx, f.idx); err != nil {
		tx.Abort()
		return err
	}
	tx.Commit()
	return nil
}

type txn = *memdbTxn

func (f *fakeServers) RPC(ctx context.Context, method string, args, reply any) error {
	f.mu.Lock()
	f.calls[method]++
	f.mu.Unlock()
	switch method {
	case "Internal.NodeDump":
		a, r := args.(*rpcapi.NodeRequest), reply.(*rpcapi.NodeDump)
		tx := f.store.ReadTxn()
		defer tx.Abort()
		_, n, svcs, err := catalog.NodeServices(tx, nil, a.Node)
		if err != nil {
			return err
		}
		_, chks, err := catalog.NodeChecks(tx, nil, a.Node)
		r.Node, r.Services, r.Checks = n, svcs, chks
		return err
	case "Catalog.Batch":
		a := args.(*rpcapi.BatchRequest)
		for _, r := range a.Register {
			if r.Service != nil && r.Service.Service == f.reject && f.reject != "" {
				return errors.New("rejected")
			}
		}
		return f.write(func(tx txn, idx uint64) error { return catalog.ApplyBatch(tx, idx, &a.BatchRequest) })
	}
	return fmt.Errorf("unexpected RPC %s", method)
}

func (f *fakeServers) services(t *testing.T) map[string]*catalog.Service {
	t.Helper()
	tx := f.store.ReadTxn()
	defer tx.Abort()
	_, _, svcs, err := catalog.NodeServices(tx, nil, "n1")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*catalog.Service{}
	for _, s := range svcs {
		out[s.ID] = s
	}
	return out
}

func (f *fakeServers) checks(t *testing.T) map[string]*catalog.HealthCheck {
	t.Helper()
	tx := f.store.ReadTxn()
	defer tx.Abort()
	_, chks, err := catalog.NodeChecks(tx, nil, "n1")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*catalog.HealthCheck{}
	for _, c := range chks {
		out[c.CheckID] = c
	}
	return out
}

func testState(t *testing.T, f *fakeServers, mod func(*Config)) *State {
	cfg := Config{NodeID: "id-1", NodeName: "n1", Datacenter: "dc1", Address: "10.0.0.1",
		TaggedAddresses: map[string]string{"lan": "10.0.0.1"}, NodeMeta: map[string]string{"rack": "a"}}
	if mod != nil {
		mod(&cfg)
	}
	return NewState(cfg, f, nil, nil)
}

func TestSyncFullPushesAndRepairsDrift(t *testing.T) {
	f := newFakeServers(t)
	l := testState(t, f, nil)
	ctx := context.Background()
	if err := l.AddService(&catalog.Service{Service: "web", Port: 80, Tags: []string{"v1"}}, SourceAPI); err != nil {
		t.Fatal(err)
	}
	if err := l.AddCheck(&catalog.HealthCheck{CheckID: "web-check", Name: "web", ServiceID: "web", Status: catalog.HealthPassing}, SourceAPI); err != nil {
		t.Fatal(err)
	}
	if err := l.AddCheck(&catalog.HealthCheck{CheckID: "orphan", ServiceID: "nope"}, SourceAPI); err == nil {
		t.Fatal("check of an unknown service accepted")
	}
	// The leader's serfHealth check must survive anti-entropy.
	if err := f.write(func(tx txn, idx uint64) error {
		return catalog.EnsureRegistration(tx, idx, &catalog.RegisterRequest{Node: "n1", Address: "10.0.0.1",
			Check: &catalog.HealthCheck{CheckID: catalog.SerfCheckID, Status: catalog.HealthPassing}})
	}); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncFull(ctx); err != nil {
		t.Fatal(err)
	}
	if s := f.services(t)["web"]; s == nil || s.Port != 80 {
		t.Fatalf("service not synced: %+v", f.services(t))
	}
	if c := f.checks(t)["web-check"]; c == nil || c.Status != catalog.HealthPassing || c.ServiceName != "web" {
		t.Fatalf("check not synced: %+v", f.checks(t))
	}
	if !l.InSync() {
		t.Fatal("state not in sync after a full sync")
	}

	cases := []struct {
		name  string
		drift func(tx txn, idx uint64) error
		check func() error
	}{
		{"service deleted from the catalog", func(tx txn, idx uint64) error {
			return catalog.Deregister(tx, idx, &catalog.DeregisterRequest{Node: "n1", ServiceID: "web"})
		}, func() error {
			if f.services(t)["web"] == nil || f.checks(t)["web-check"] == nil {
				return errors.New("service or its check not restored")
			}
			return nil
		}},
		{"service changed in the catalog", func(tx txn, idx uint64) error {
			return catalog.EnsureRegistration(tx, idx, &catalog.RegisterRequest{Node: "n1", Address: "10.0.0.1",
				Service: &catalog.Service{ID: "web", Service: "web", Port: 9999}})
		}, func() error {
			if p := f.services(t)["web"].Port; p != 80 {
				return fmt.Errorf("port %d, want 80", p)
			}
			return nil
		}},
		{"stray service and check", func(tx txn, idx uint64) error {
			return catalog.EnsureRegistration(tx, idx, &catalog.RegisterRequest{Node: "n1", Address: "10.0.0.1",
				Service: &catalog.Service{ID: "stray", Service: "stray"},
				Check:   &catalog.HealthCheck{CheckID: "stray-check"}})
		}, func() error {
			if f.services(t)["stray"] != nil || f.checks(t)["stray-check"] != nil {
				return errors.New("stray entries not removed")
			}
			if f.checks(t)[catalog.SerfCheckID] == nil {
				return errors.New("serfHealth removed")
			}
			return nil
		}},
		{"check status changed in the catalog", func(tx txn, idx uint64) error {
			return catalog.EnsureRegistration(tx, idx, &catalog.RegisterRequest{Node: "n1", Address: "10.0.0.1",
				Check: &catalog.HealthCheck{CheckID: "web-check", Name: "web", ServiceID: "web", Status: catalog.HealthCritical}})
		}, func() error {
			if st := f.checks(t)["web-check"].Status; st != catalog.HealthPassing {
				return fmt.Errorf("status %s", st)
			}
			return nil
		}},
		{"node meta changed in the catalog", func(tx txn, idx uint64) error {
			return catalog.EnsureRegistration(tx, idx, &catalog.RegisterRequest{ID: "id-1", Node: "n1", Address: "10.0.0.9"})
		}, func() error {
			tx := f.store.ReadTxn()
			defer tx.Abort()
			_, n, _ := catalog.GetNode(tx, nil, "n1")
			if n.Address != "10.0.0.1" || n.Meta["rack"] != "a" {
				return fmt.Errorf("node %+v", n)
			}
			return nil
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := f.write(tc.drift); err != nil {
				t.Fatal(err)
			}
			if err := l.SyncFull(ctx); err != nil {
				t.Fatal(err)
			}
			if err := tc.check(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRunRepairsDriftPeriodically(t *testing.T) {
	f := newFakeServers(t)
	l := testState(t, f, func(c *Config) { c.SyncInterval = 50 * time.Millisecond })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	defer func() { cancel(); <-done }()
	if err := l.AddService(&catalog.Service{Service: "db"}, SourceAPI); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return f.services(t)["db"] != nil })
	if err := f.write(func(tx txn, idx uint64) error {
		return catalog.Deregister(tx, idx, &catalog.DeregisterRequest{Node: "n1", ServiceID: "db"})
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return f.services(t)["db"] != nil })
	l.RemoveService("db")
	waitFor(t, func() bool { return f.services(t)["db"] == nil })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestOutputOnlyUpdatesAreDeferred(t *testing.T) {
	f := newFakeServers(t)
	l := testState(t, f, func(c *Config) { c.CheckUpdateInterval = 200 * time.Millisecond })
	ctx := context.Background()
	if err := l.AddCheck(&catalog.HealthCheck{CheckID: "c", Status: catalog.HealthPassing, Output: "v0"}, SourceAPI); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncFull(ctx); err != nil {
		t.Fatal(err)
	}
	l.UpdateCheck("c", catalog.HealthPassing, "v1")
	if err := l.SyncFull(ctx); err != nil {
		t.Fatal(err)
	}
	if out := f.checks(t)["c"].Output; out != "v0" {
		t.Fatalf("output-only change synced at once: %q", out)
	}
	// The deferral timer marks it out of sync within the interval.
	waitFor(t, func() bool {
		_ = l.SyncChanges(ctx)
		return f.checks(t)["c"].Output == "v1"
	})
	// A status change goes at once.
	l.UpdateCheck("c", catalog.HealthCritical, "down")
	if err := l.SyncChanges(ctx); err != nil {
		t.Fatal(err)
	}
	if c := f.checks(t)["c"]; c.Status != catalog.HealthCritical || c.Output != "down" {
		t.Fatalf("status change not synced: %+v", c)
	}
}

func TestSyncBatchesAndIsolatesFailures(t *testing.T) {
	f := newFakeServers(t)
	f.reject = "bad"
	l := testState(t, f, func(c *Config) { c.BatchSize = 10 })
	for i := 0; i < 95; i++ {
		if err := l.AddService(&catalog.Service{Service: fmt.Sprintf("s%d", i)}, SourceAPI); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.AddService(&catalog.Service{Service: "bad"}, SourceAPI); err != nil {
		t.Fatal(err)
	}
	if err := l.SyncFull(context.Background()); err == nil {
		t.Fatal("want the rejected service's error")
	}
	if n := len(f.services(t)); n != 95 {
		t.Fatalf("%d services in the catalog, want 95", n)
	}
	if l.InSync() {
		t.Fatal("rejected service reported in sync")
	}
	if got := f.calls["Catalog.Batch"]; got > 25 {
		t.Fatalf("%d batch RPCs for 96 services in batches of 10", got)
	}
}

func TestScaleFactor(t *testing.T) {
	cases := []struct{ nodes, want int }{{1, 1}, {128, 1}, {129, 2}, {256, 2}, {257, 3}, {1024, 4}, {10000, 8}}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.nodes), func(t *testing.T) {
			if got := scaleFactor(tc.nodes); got != tc.want {
				t.Fatalf("scaleFactor(%d) = %d, want %d", tc.nodes, got, tc.want)
			}
		})
	}
}
