package agent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shoalproject/shoal/agent/local"
	"github.com/shoalproject/shoal/agent/realiser"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
)

// TestRealiserFirstReadIsTheLeaders: the realiser's first read of its
// node's allocations is not stale (a restarted server still replaying its
// log would hand out allocations deleted long ago: ghost replicas); the
// blocking reads after it may be.
func TestRealiserFirstReadIsTheLeaders(t *testing.T) {
	cases := []struct {
		minIndex  uint64
		wantStale bool
	}{
		{0, false},
		{1, true},
		{42, true},
	}
	for _, tc := range cases {
		var got rpcapi.NodeAllocsRequest
		srv := rpcSchedServer{rpc: func(ctx context.Context, method string, args, reply any) error {
			if method != "Sched.NodeAllocs" {
				t.Fatalf("method %s", method)
			}
			got = *args.(*rpcapi.NodeAllocsRequest)
			return nil
		}}
		if _, _, err := srv.NodeAllocs(context.Background(), "n1", tc.minIndex); err != nil {
			t.Fatal(err)
		}
		if got.AllowStale != tc.wantStale || got.MinQueryIndex != tc.minIndex || got.NodeID != "n1" {
			t.Errorf("minIndex %d: request %+v, want AllowStale=%v", tc.minIndex, got, tc.wantStale)
		}
	}
}

// TestRegistryCheckStartsCriticalAtANewTarget: a replica re-registered at
// the same address keeps its check's status, but one re-registered at a
// new address (a replacement container) starts critical, so that the
// routing mesh (which balances over passing instances) sends it nothing
// until its check has passed there.
func TestRegistryCheckStartsCriticalAtANewTarget(t *testing.T) {
	// The old replica answers its probes after a while, so that one is
	// in flight when the replacement registers: its late answer must not
	// count for the new address.
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond)
	}))
	defer healthy.Close()
	// A replica that accepts connections but has not answered yet: its
	// first probe stays in flight for the whole test.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	state := local.NewState(local.Config{NodeName: "n1"}, nil, nil, nil)
	mgr := local.NewManager(local.ManagerConfig{}, state, nil)
	defer mgr.Stop()
	defer func() { // before mgr.Stop, which waits for the probes
		silent.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	reg := &localRegistry{mgr: mgr, state: state}
	check := &sched.Check{HTTP: "/health", Interval: sched.Duration(time.Minute), Timeout: sched.Duration(time.Minute)}
	instance := func(target string, tags ...string) realiser.Instance {
		host, port, _ := net.SplitHostPort(target)
		p, _ := strconv.Atoi(port)
		return realiser.Instance{ID: "web-0-aaaaaaaa", Name: "web", Address: host, Port: p, Tags: tags,
			Check: check, CheckTarget: target}
	}
	old := strings.TrimPrefix(healthy.URL, "http://")
	if err := reg.Register(instance(old, "shoal")); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if ok, _ := reg.Health("web-0-aaaaaaaa"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the check never passed")
		}
	}
	cases := []struct {
		name        string
		inst        realiser.Instance
		wantHealthy bool
	}{
		{"same target, new tags", instance(old, "shoal", "v2"), true},
		{"new address", instance(silent.Addr().String(), "shoal", "v2"), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := reg.Register(tc.inst); err != nil {
				t.Fatal(err)
			}
			healthy, known := reg.Health(tc.inst.ID)
			if !known || healthy != tc.wantHealthy {
				t.Errorf("right after Register: healthy %v (known %v), want %v", healthy, known, tc.wantHealthy)
			}
		})
	}
}
