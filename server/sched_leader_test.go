package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/allocs"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
)

// newSchedServer starts a single in-memory server that can run exec
// replicas itself, with cfg changed by mod.
func newSchedServer(t *testing.T, mod func(*Config)) *Server {
	t.Helper()
	cfg := Config{
		NodeName: "s1", NodeID: "11111111-2222-3333-4444-555555555555", Bootstrap: true,
		BindAddr: "127.0.0.1", SerfPort: freePort(t), RPCPort: freePort(t),
		RaftTimeoutOverride: 50 * time.Millisecond, RPCHoldTimeout: time.Second,
		Tags:   map[string]string{TagCPU: "100000", TagMemory: "100000", TagDrivers: "exec"},
		Logger: hclog.New(&hclog.LoggerOptions{Level: hclog.Warn}),
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Shutdown() })
	waitReady(t, s)
	return s
}

func putSpec(t *testing.T, s *Server, name, doc string) {
	t.Helper()
	var ok bool
	put := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: sched.SpecPrefix + name, Value: []byte(doc)}}}
	if err := s.RPC(context.Background(), "KVS.Apply", &put, &ok); err != nil || !ok {
		t.Fatalf("put %s: %v %v", name, ok, err)
	}
}

// waitStatus waits up to d for service's status to satisfy cond and
// returns it, or nil on timeout.
func waitStatus(s *Server, name string, d time.Duration, cond func(*sched.ServiceStatus) bool) *sched.ServiceStatus {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		tx := s.State().ReadTxn()
		st, _ := allocs.Status(tx, name)
		tx.Abort()
		if st != nil && cond(st) {
			return st
		}
	}
	return nil
}

// liveAllocs counts the live allocations of service.
func liveAllocs(s *Server, service string) int {
	tx := s.State().ReadTxn()
	defer tx.Abort()
	_, as, _ := allocs.ByService(tx, nil, service)
	n := 0
	for _, a := range as {
		if a.Live() {
			n++
		}
	}
	return n
}

// TestHugeSpecDoesNotSlowOthers reproduces issue 17: a 150-byte spec
// asking for 100,000 replicas that no node can take made every other
// deploy wait 25-52 s (a duplicate check quadratic in the replicas, and a
// status of one line per replica). With the default limit the spec is
// rejected; with the limit raised it is evaluated in linear time and its
// status stays small. Either way a normal service is placed at once.
func TestHugeSpecDoesNotSlowOthers(t *testing.T) {
	huge := `{"name": "huge", "driver": "exec", "command": "/bin/true", "replicas": 100000,
		"constraints": ["node.meta.gpu == yes"]}`
	tests := []struct {
		name        string
		maxReplicas int
		want        func(*sched.ServiceStatus) bool
	}{
		{name: "rejected by the default max replicas", want: func(st *sched.ServiceStatus) bool {
			return strings.Contains(st.Error, "replicas: must be <= 1000 (the scheduler's max_replicas), got 100000")
		}},
		{name: "evaluated linearly under a raised max replicas", maxReplicas: sched.MaxReplicas, want: func(st *sched.ServiceStatus) bool {
			return st.Error == "" && len(st.Unplaced) == 1 &&
				st.Unplaced[0] == `100000 replicas: constraint "node.meta.gpu == yes" filtered 1 node`
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSchedServer(t, func(c *Config) { c.MaxReplicas = tc.maxReplicas })
			putSpec(t, s, "huge", huge)
			if st := waitStatus(s, "huge", 60*time.Second, tc.want); st == nil {
				t.Fatal("the huge spec's status never showed what it should")
			}
			start := time.Now()
			putSpec(t, s, "web", `{"name": "web", "driver": "exec", "command": "/bin/sleep", "args": ["60"], "replicas": 2}`)
			for liveAllocs(s, "web") < 2 {
				if time.Since(start) > 5*time.Second {
					t.Fatalf("web not placed within 5s of its deploy beside the huge spec")
				}
				time.Sleep(10 * time.Millisecond)
			}
			t.Logf("web placed %v after its deploy", time.Since(start))
		})
	}
}

// TestDependencyCycleRecorded checks that services whose depends_on closes
// a cycle get an error in their status, which `shoal svc` shows, instead of
// replicas that wait for each other forever. As with any rejected spec, a
// replica placed before the cycle closed (a's, whose dependency did not
// exist yet) stays; the spec that closes the cycle gets none.
func TestDependencyCycleRecorded(t *testing.T) {
	s := newSchedServer(t, nil)
	spec := `{"name": %q, "driver": "exec", "command": "/bin/sleep", "args": ["60"], "depends_on": [%q]}`
	putSpec(t, s, "a", fmt.Sprintf(spec, "a", "b"))
	putSpec(t, s, "b", fmt.Sprintf(spec, "b", "a"))
	for _, name := range []string{"a", "b"} {
		st := waitStatus(s, name, 10*time.Second, func(st *sched.ServiceStatus) bool { return st.Error != "" })
		if st == nil || !strings.Contains(st.Error, "depends_on cycle") {
			t.Fatalf("%s: status %+v, want a depends_on cycle error", name, st)
		}
	}
	if n := liveAllocs(s, "b"); n != 0 {
		t.Errorf("b: %d replicas placed, want none", n)
	}
}

// TestOneEvaluationIsOneRaftEntry checks that the plans of one evaluation
// (here four services deployed in one transaction) are committed in one
// Raft entry: every new allocation carries the same CreateIndex, where one
// entry per service gave four.
func TestOneEvaluationIsOneRaftEntry(t *testing.T) {
	s := newSchedServer(t, nil)
	var ops []kv.TxnOp
	names := []string{"a", "b", "c", "d"}
	for _, n := range names {
		doc := fmt.Sprintf(`{"name": %q, "driver": "exec", "command": "/bin/sleep", "args": ["60"], "replicas": 2}`, n)
		ops = append(ops, kv.TxnOp{Verb: kv.OpSet, Entry: kv.Entry{Key: sched.SpecPrefix + n, Value: []byte(doc)}})
	}
	var out rpcapi.TxnResponse
	if err := s.RPC(context.Background(), "Txn.Apply", &rpcapi.TxnRequest{Ops: ops}, &out); err != nil || len(out.Errors) > 0 {
		t.Fatalf("deploy: %v %v", err, out.Errors)
	}
	created := map[uint64][]string{}
	deadline := time.Now().Add(10 * time.Second)
	for {
		clear(created)
		n := 0
		tx := s.State().ReadTxn()
		_, all, _ := allocs.All(tx, nil)
		tx.Abort()
		for _, a := range all {
			created[a.CreateIndex] = append(created[a.CreateIndex], a.Service)
			n++
		}
		if n == 2*len(names) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d allocations placed within 10s", n, 2*len(names))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(created) != 1 {
		t.Fatalf("the four services' allocations were created by %d Raft entries, want 1: %v", len(created), created)
	}
}

// TestMembersSpeak checks when the leader may send entries of a newer
// cluster protocol: only when every server that has not left speaks it.
func TestMembersSpeak(t *testing.T) {
	member := func(role, vsn string, st serf.MemberStatus) serf.Member {
		tags := map[string]string{"role": role}
		if vsn != "" {
			tags["shoal_vsn"] = vsn
		}
		return serf.Member{Tags: tags, Status: st}
	}
	tests := []struct {
		name    string
		members []serf.Member
		want    bool
	}{
		{"all servers speak 2", []serf.Member{member(RoleTagServer, "2", serf.StatusAlive), member(RoleTagServer, "3", serf.StatusAlive)}, true},
		{"one server speaks 1", []serf.Member{member(RoleTagServer, "2", serf.StatusAlive), member(RoleTagServer, "1", serf.StatusAlive)}, false},
		{"a failed server speaking 1 may return", []serf.Member{member(RoleTagServer, "2", serf.StatusAlive), member(RoleTagServer, "1", serf.StatusFailed)}, false},
		{"a server that left is not asked", []serf.Member{member(RoleTagServer, "2", serf.StatusAlive), member(RoleTagServer, "1", serf.StatusLeft)}, true},
		{"a server without the tag", []serf.Member{member(RoleTagServer, "2", serf.StatusAlive), member(RoleTagServer, "", serf.StatusAlive)}, false},
		{"clients do not apply entries", []serf.Member{member(RoleTagServer, "2", serf.StatusAlive), member(RoleTagClient, "1", serf.StatusAlive)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := membersSpeak(tc.members, planBatchProtocol); got != tc.want {
				t.Fatalf("membersSpeak = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestKVWritesElsewhereDoNotWakeTheScheduler checks that the leader's
// scheduler evaluates again only when what it reads changes: writes to
// keys outside sched.SpecPrefix, with no spec stored (a KV-only cluster)
// and with one, cost no evaluation, while a spec written or deleted
// still gets one. The watch of the spec prefix with no key under it, and
// of the allocation tables' index rows before any allocation, is the
// nearest radix node above them, which KV writes close too: a busy
// KV-only cluster ran a full evaluation per committed batch (57 for these
// 100 writes).
func TestKVWritesElsewhereDoNotWakeTheScheduler(t *testing.T) {
	s := newSchedServer(t, nil)
	put := func(key, value string) {
		t.Helper()
		var ok bool
		req := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpSet, Entry: kv.Entry{Key: key, Value: []byte(value)}}}
		if err := s.RPC(context.Background(), "KVS.Apply", &req, &ok); err != nil || !ok {
			t.Fatalf("put %s: %v %v", key, ok, err)
		}
	}
	// settled waits until no evaluation has run for 300 ms and returns
	// the count.
	settled := func() uint64 {
		t.Helper()
		n := s.schedPasses.Load()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			time.Sleep(300 * time.Millisecond)
			m := s.schedPasses.Load()
			if m == n {
				return n
			}
			n = m
		}
		t.Fatal("the scheduler kept evaluating for 10 s with nothing to do")
		return 0
	}
	writeElsewhere := func(what string) {
		t.Helper()
		before := settled()
		for i := range 50 {
			put(fmt.Sprintf("app/config/%d", i), "v")
			put("shoal/other", fmt.Sprint(i))
		}
		if after := settled(); after != before {
			t.Errorf("%s: 100 KV writes outside %s ran %d scheduler evaluations, want 0", what, sched.SpecPrefix, after-before)
		}
	}
	writeElsewhere("no spec stored")

	before := settled()
	putSpec(t, s, "web", `{"name": "web", "driver": "exec", "command": "/bin/sleep", "args": ["60"], "replicas": 1}`)
	waitLive := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); liveAllocs(s, "web") != want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("web has %d live replicas after 10 s, want %d", liveAllocs(s, "web"), want)
			}
		}
	}
	waitLive(1)
	if settled() == before {
		t.Fatal("a new spec ran no evaluation")
	}
	writeElsewhere("one spec stored")

	before = settled()
	var ok bool
	del := rpcapi.KVSRequest{Request: kv.Request{Op: kv.OpDelete, Entry: kv.Entry{Key: sched.SpecPrefix + "web"}}}
	if err := s.RPC(context.Background(), "KVS.Apply", &del, &ok); err != nil || !ok {
		t.Fatalf("delete web: %v %v", ok, err)
	}
	waitLive(0)
	if settled() == before {
		t.Fatal("a deleted spec ran no evaluation")
	}
	writeElsewhere("after the spec was deleted")
}
