package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
)

// newJoinedClient starts a client agent's Serf member, joined to s.
func newJoinedClient(t *testing.T, s *Server, n int) *Client {
	t.Helper()
	name := fmt.Sprintf("c%d", n)
	c, err := NewClient(Config{
		NodeName: name, NodeID: fmt.Sprintf("00000000-0000-4000-8000-%012d", n),
		BindAddr: "127.0.0.1", SerfPort: freePort(t),
		Logger: hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Warn}),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Shutdown() })
	if _, err := c.JoinLAN([]string{fmt.Sprintf("127.0.0.1:%d", s.cfg.SerfPort)}); err != nil {
		t.Fatal(err)
	}
	return c
}

// serfHealth returns node's catalog entry and the status of its serfHealth
// check ("" when it has none).
func serfHealth(t *testing.T, s *Server, node string) (*catalog.Node, string) {
	t.Helper()
	tx := s.State().ReadTxn()
	defer tx.Abort()
	_, n, err := catalog.GetNode(tx, nil, node)
	if err != nil {
		t.Fatal(err)
	}
	_, checks, err := catalog.NodeChecks(tx, nil, node)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range checks {
		if c.CheckID == catalog.SerfCheckID {
			return n, c.Status
		}
	}
	return n, ""
}

// TestLeaderReconcilesSerfMembers checks the leader's reconcile of Serf
// membership into the catalog, with real Serf members on loopback: a
// member that joins is registered with a passing serfHealth check; one
// that stops answering (killed, no leave) stays registered with serfHealth
// critical; one that leaves gracefully is deregistered.
func TestLeaderReconcilesSerfMembers(t *testing.T) {
	s := newDevServer(t, time.Second)
	cases := []struct {
		name       string
		stop       func(c *Client) error
		wantNode   bool
		wantStatus string
	}{
		{"failed member turns critical", (*Client).Shutdown, true, catalog.HealthCritical},
		{"left member is deregistered", (*Client).Leave, false, ""},
	}
	clients := make([]*Client, len(cases))
	for i, tc := range cases {
		clients[i] = newJoinedClient(t, s, i+1)
		name := clients[i].cfg.NodeName
		eventually(t, 10*time.Second, func() error {
			if n, status := serfHealth(t, s, name); n == nil || status != catalog.HealthPassing {
				return fmt.Errorf("%s (%s) after joining: node %v, serfHealth %q; want registered and passing", name, tc.name, n, status)
			}
			return nil
		})
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := clients[i].cfg.NodeName
			if err := tc.stop(clients[i]); err != nil {
				t.Fatal(err)
			}
			eventually(t, 15*time.Second, func() error {
				n, status := serfHealth(t, s, name)
				if (n != nil) != tc.wantNode || status != tc.wantStatus {
					return fmt.Errorf("%s: node registered %v, serfHealth %q; want registered %v, serfHealth %q",
						name, n != nil, status, tc.wantNode, tc.wantStatus)
				}
				return nil
			})
		})
	}
}

// TestReconcileAllRemovesNodesSerfForgot checks the full reconcile's
// sweep: a catalog node with a serfHealth check that Serf no longer knows
// (reaped while no leader ran) is deregistered, while a node registered
// through the catalog API, without serfHealth, is left alone.
func TestReconcileAllRemovesNodesSerfForgot(t *testing.T) {
	s := newDevServer(t, time.Second)
	regs := []*catalog.RegisterRequest{
		{Node: "reaped", Address: "10.0.0.9", Check: &catalog.HealthCheck{
			CheckID: catalog.SerfCheckID, Name: catalog.SerfCheckName, Status: catalog.HealthCritical}},
		{Node: "external", Address: "10.0.0.10", Service: &catalog.Service{ID: "db", Service: "db", Port: 5432}},
	}
	for _, r := range regs {
		if _, err := s.raftApply(fsm.RegisterRequestType, r); err != nil {
			t.Fatal(err)
		}
	}
	s.reconcileAll()
	cases := []struct {
		node     string
		wantNode bool
	}{
		{"reaped", false},
		{"external", true},
		{s.cfg.NodeName, true}, // the server itself, alive in Serf
	}
	for _, tc := range cases {
		t.Run(tc.node, func(t *testing.T) {
			if n, _ := serfHealth(t, s, tc.node); (n != nil) != tc.wantNode {
				t.Fatalf("node %s registered = %v after reconcile, want %v", tc.node, n != nil, tc.wantNode)
			}
		})
	}
}

// registerSelf registers the dev server's own node, s1, with a passing
// serfHealth check, for sessions to be created on. The node is the
// server's own: the leader's reconcile removes catalog nodes Serf does
// not know, so a made-up node could vanish before its sessions are created.
func registerSelf(t *testing.T, s *Server) {
	t.Helper()
	reg := catalog.RegisterRequest{Node: "s1", Address: "127.0.0.1", Check: &catalog.HealthCheck{
		CheckID: catalog.SerfCheckID, Name: catalog.SerfCheckName, Status: catalog.HealthPassing}}
	if _, err := s.raftApply(fsm.RegisterRequestType, &reg); err != nil {
		t.Fatal(err)
	}
}

// TestSessionTTLExpiry checks the leader's session timers: a session whose
// TTL passes twice without renewal is destroyed through Raft, and the
// locks it held follow its behavior (released, or the keys deleted); a
// session without TTL stays. The sessions are written with TTLs far below
// the endpoint's 10 s minimum, straight through the FSM, and armed the way
// a new leader (or a restore) arms them: from the state.
func TestSessionTTLExpiry(t *testing.T) {
	s := newDevServer(t, time.Second)
	ctx := context.Background()
	registerSelf(t, s)
	cases := []struct {
		name        string
		ttl         string
		behavior    kv.SessionBehavior
		wantSession bool
		wantKey     bool // the locked key still exists
	}{
		{"expired release session frees its lock", "150ms", kv.BehaviorRelease, false, true},
		{"expired delete session deletes its key", "150ms", kv.BehaviorDelete, false, false},
		{"session without TTL stays", "", kv.BehaviorRelease, true, true},
	}
	for i, tc := range cases {
		id := fmt.Sprintf("5e55a1d0-0000-4000-8000-%012d", i+1)
		create := kv.SessionRequest{Op: kv.SessionCreate, Now: time.Now().UnixNano(), Session: kv.Session{
			ID: id, Node: "s1", TTL: tc.ttl, Behavior: tc.behavior, NodeChecks: []string{catalog.SerfCheckID}}}
		if _, err := s.raftApply(fsm.SessionRequestType, &create); err != nil {
			t.Fatal(err)
		}
		var ok bool
		lock := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpLock, Entry: kv.Entry{Key: fmt.Sprintf("locks/%d", i), Session: id}}}
		if err := s.RPC(ctx, "KVS.Apply", &lock, &ok); err != nil || !ok {
			t.Fatalf("%s: lock: %v %v", tc.name, ok, err)
		}
	}
	s.rearmSessionTimers()

	// The cases run in order: the session without TTL is checked only once
	// the others, armed at the same moment, have expired.
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("5e55a1d0-0000-4000-8000-%012d", i+1)
			key := fmt.Sprintf("locks/%d", i)
			eventually(t, 5*time.Second, func() error {
				var sessions rpcapi.IndexedSessions
				if err := s.RPC(ctx, "Session.Get", &rpcapi.SessionSpecificRequest{SessionID: id}, &sessions); err != nil {
					return err
				}
				if got := len(sessions.Sessions) == 1; got != tc.wantSession {
					return fmt.Errorf("session exists %v, want %v", got, tc.wantSession)
				}
				var entries rpcapi.IndexedEntries
				if err := s.RPC(ctx, "KVS.Get", &rpcapi.KeyRequest{Key: key}, &entries); err != nil {
					return err
				}
				if got := len(entries.Entries) == 1; got != tc.wantKey {
					return fmt.Errorf("key %s exists %v, want %v", key, got, tc.wantKey)
				}
				if tc.wantKey {
					holder := entries.Entries[0].Session
					if want := map[bool]string{true: id, false: ""}[tc.wantSession]; holder != want {
						return fmt.Errorf("lock holder of %s %q, want %q", key, holder, want)
					}
				}
				return nil
			})
		})
	}
}

// TestSessionTimerFiringAtOnce: a session's TTL timer that fires before
// the call arming it has returned still destroys the session. (Before
// d8586d7 its callback read the *time.Timer that time.AfterFunc was still
// returning: a data race that `go test -race`, as CI runs this package,
// reports here.)
func TestSessionTimerFiringAtOnce(t *testing.T) {
	s := newDevServer(t, time.Second)
	ctx := context.Background()
	registerSelf(t, s)
	const n = 20
	id := func(i int) string { return fmt.Sprintf("5e55a1d0-0000-4000-8000-%012d", 100+i) }
	for i := range n {
		create := kv.SessionRequest{Op: kv.SessionCreate, Now: time.Now().UnixNano(), Session: kv.Session{
			ID: id(i), Node: "s1", TTL: "10s", Behavior: kv.BehaviorRelease, NodeChecks: []string{catalog.SerfCheckID}}}
		if _, err := s.raftApply(fsm.SessionRequestType, &create); err != nil {
			t.Fatal(err)
		}
	}
	timers := s.sessionTimers()
	if timers == nil {
		t.Fatal("the leader has no session timers")
	}
	for i := range n {
		timers.reset(id(i), "1ns") // fires at once, maybe before reset returns
	}
	eventually(t, 5*time.Second, func() error {
		var all rpcapi.IndexedSessions
		if err := s.RPC(ctx, "Session.List", &rpcapi.DCRequest{}, &all); err != nil {
			return err
		}
		if len(all.Sessions) != 0 {
			return fmt.Errorf("%d sessions left after their timers fired", len(all.Sessions))
		}
		return nil
	})
}
