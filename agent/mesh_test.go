package agent

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/catalog"
	"github.com/shoalproject/shoal/kv"
	"github.com/shoalproject/shoal/mesh"
	"github.com/shoalproject/shoal/overlay/keys"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
)

// meshCluster fakes the servers for the mesh: a KV store with CAS and
// blocking lists, and the passing instances of services, all at one index
// that every change bumps (waking blocked queries).
type meshCluster struct {
	mu      sync.Mutex
	index   uint64
	kv      map[string]*kv.Entry
	passing map[string][]string // service → instance addresses
	changed chan struct{}
}

func newMeshCluster() *meshCluster {
	return &meshCluster{index: 1, kv: map[string]*kv.Entry{}, passing: map[string][]string{}, changed: make(chan struct{})}
}

func (c *meshCluster) bumpLocked() {
	c.index++
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *meshCluster) put(key, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bumpLocked()
	c.kv[key] = &kv.Entry{Key: key, Value: []byte(value), ModifyIndex: c.index}
}

func (c *meshCluster) del(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bumpLocked()
	delete(c.kv, key)
}

func (c *meshCluster) setPassing(service string, addrs ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.bumpLocked()
	c.passing[service] = addrs
}

func (c *meshCluster) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.kv[key]
	if !ok {
		return "", false
	}
	return string(e.Value), true
}

// wait blocks a query at min until the index passes it.
func (c *meshCluster) wait(ctx context.Context, min uint64) error {
	for {
		c.mu.Lock()
		idx, ch := c.index, c.changed
		c.mu.Unlock()
		if min == 0 || idx > min {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

func (c *meshCluster) rpc(ctx context.Context, method string, args, reply any) error {
	switch method {
	case "KVS.List":
		a, r := args.(*rpcapi.KeyRequest), reply.(*rpcapi.IndexedEntries)
		if err := c.wait(ctx, a.MinQueryIndex); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		r.Index = c.index
		for k, e := range c.kv {
			if strings.HasPrefix(k, a.Key) {
				cp := *e
				r.Entries = append(r.Entries, &cp)
			}
		}
	case "KVS.Apply":
		a, r := args.(*rpcapi.KVSRequest), reply.(*bool)
		c.mu.Lock()
		defer c.mu.Unlock()
		e, exists := c.kv[a.Entry.Key]
		switch a.Op {
		case kv.OpCAS:
			if (a.Entry.ModifyIndex == 0 && exists) || (a.Entry.ModifyIndex != 0 && (!exists || e.ModifyIndex != a.Entry.ModifyIndex)) {
				*r = false
				return nil
			}
			c.bumpLocked()
			c.kv[a.Entry.Key] = &kv.Entry{Key: a.Entry.Key, Value: a.Entry.Value, ModifyIndex: c.index}
		case kv.OpDelete:
			c.bumpLocked()
			delete(c.kv, a.Entry.Key)
		default:
			return fmt.Errorf("fake: op %s", a.Op)
		}
		*r = true
	case "Health.ServiceNodes":
		a, r := args.(*rpcapi.ServiceSpecificRequest), reply.(*rpcapi.IndexedCheckServiceNodes)
		if !a.PassingOnly {
			return fmt.Errorf("fake: the mesh must ask for passing instances only")
		}
		if err := c.wait(ctx, a.MinQueryIndex); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		r.Index = c.index
		for _, addr := range c.passing[a.ServiceName] {
			r.Nodes = append(r.Nodes, catalog.Instance{Node: &catalog.Node{Node: "n", Address: "192.0.2.1"},
				Service: &catalog.Service{Service: a.ServiceName, Address: addr}})
		}
	default:
		return fmt.Errorf("fake: unexpected RPC %s", method)
	}
	return nil
}

// fakeMeshDP records the rules applied.
type fakeMeshDP struct {
	mu    sync.Mutex
	rules []mesh.Rule
	torn  bool
}

func (d *fakeMeshDP) Apply(rules []mesh.Rule) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules = rules
	return nil
}

func (d *fakeMeshDP) Teardown() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.rules, d.torn = nil, true
	return nil
}

// backends returns the applied backends of each frontend key.
func (d *fakeMeshDP) backends() map[string][]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string][]string{}
	for _, r := range d.rules {
		out[r.Key()] = []string{}
		for _, b := range r.Backends {
			out[r.Key()] = append(out[r.Key()], b.String())
		}
	}
	return out
}

// meshEventually waits up to 5 s for fn to succeed, else fails with its
// last error.
func meshEventually(t *testing.T, fn func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if err = fn(); err == nil {
			return
		}
	}
	t.Fatal(err)
}

// TestMeshRunner drives the mesh's loop against fake servers: a service
// with a published port gets a VIP (claimed with create-only CAS) and
// rules over its passing instances; instances turning critical or
// recovering change the rules; a second service gets a different VIP; a
// removed service loses its rules and its VIP.
func TestMeshRunner(t *testing.T) {
	c := newMeshCluster()
	dp := &fakeMeshDP{}
	m := newMeshRunner(hclog.NewNullLogger(), c.rpc, dp, netip.MustParsePrefix("10.42.0.0/24"))
	ctx, cancel := context.WithCancel(context.Background())
	done := m.start(ctx)
	defer func() { cancel(); <-done }()

	c.put(sched.SpecPrefix+"web", `{"name": "web", "image": "hello", "ports": [{"name": "http", "container": 8080, "published": 5001}]}`)
	c.setPassing("web", "10.42.1.2", "10.42.2.2")
	var vip string
	meshEventually(t, func() error {
		v, ok := c.get(keys.VIP("web"))
		if !ok {
			return fmt.Errorf("no VIP key")
		}
		if owner, _ := c.get(keys.VIPClaim(netip.MustParseAddr(v))); owner != "web" {
			return fmt.Errorf("VIP %s claimed by %q", v, owner)
		}
		vip = v
		want := map[string][]string{
			"ingress 5001/tcp":       {"10.42.1.2:8080", "10.42.2.2:8080"},
			"vip " + v + ":8080/tcp": {"10.42.1.2:8080", "10.42.2.2:8080"},
		}
		if got := dp.backends(); !reflect.DeepEqual(got, want) {
			return fmt.Errorf("rules %v, want %v", got, want)
		}
		return nil
	})
	if a, ok := m.VIP("WEB"); !ok || a.String() != vip {
		t.Errorf("VIP(WEB) = %v %v, want %s (DNS asks in any case)", a, ok, vip)
	}

	// One instance turns critical: it leaves; it recovers: it returns.
	c.setPassing("web", "10.42.2.2")
	meshEventually(t, func() error {
		if got := dp.backends()["ingress 5001/tcp"]; !reflect.DeepEqual(got, []string{"10.42.2.2:8080"}) {
			return fmt.Errorf("backends %v", got)
		}
		return nil
	})
	c.setPassing("web", "10.42.2.2", "10.42.3.2")
	meshEventually(t, func() error {
		if got := dp.backends()["ingress 5001/tcp"]; !reflect.DeepEqual(got, []string{"10.42.2.2:8080", "10.42.3.2:8080"}) {
			return fmt.Errorf("backends %v", got)
		}
		return nil
	})

	// A second service gets another VIP.
	c.put(sched.SpecPrefix+"api", `{"name": "api", "image": "hello", "ports": [{"name": "http", "container": 9000}]}`)
	meshEventually(t, func() error {
		v, ok := c.get(keys.VIP("api"))
		if !ok || v == vip {
			return fmt.Errorf("api VIP %q (web has %s)", v, vip)
		}
		return nil
	})

	// web is removed: its rules and its VIP go.
	c.del(sched.SpecPrefix + "web")
	meshEventually(t, func() error {
		for k := range dp.backends() {
			if strings.Contains(k, "5001") || strings.Contains(k, vip+":") {
				return fmt.Errorf("rule %s left", k)
			}
		}
		if _, ok := c.get(keys.VIP("web")); ok {
			return fmt.Errorf("web's VIP key left")
		}
		if _, ok := c.get(keys.VIPClaim(netip.MustParseAddr(vip))); ok {
			return fmt.Errorf("web's VIP claim left")
		}
		return nil
	})
}
