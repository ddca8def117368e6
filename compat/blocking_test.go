package compat

import (
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

type blockResult struct {
	index uint64
	n     int
	err   error
	after time.Duration
}

// block runs a blocking read in the background.
func block(read func() (int, *api.QueryMeta, error)) <-chan blockResult {
	ch := make(chan blockResult, 1)
	start := time.Now()
	go func() {
		n, meta, err := read()
		r := blockResult{n: n, err: err, after: time.Since(start)}
		if meta != nil {
			r.index = meta.LastIndex
		}
		ch <- r
	}()
	return ch
}

func wantBlocked(t *testing.T, ch <-chan blockResult, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("blocked query returned early (after %v): %+v", r.after, r)
	case <-time.After(d):
	}
}

func wantWoken(t *testing.T, ch <-chan blockResult, after uint64) blockResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil || r.index <= after {
			t.Fatalf("woken query: %+v (index must pass %d)", r, after)
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("blocked query not woken by a change")
	}
	return blockResult{}
}

func TestBlockingQueries(t *testing.T) {
	t.Parallel()
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		kv := c.KV()
		p := "block/" + n.Name + "/"
		put := func(k, v string) {
			t.Helper()
			if _, err := kv.Put(&api.KVPair{Key: k, Value: []byte(v)}, nil); err != nil {
				t.Fatal(err)
			}
		}
		put(p+"key", "1")
		put(p+"dir/a", "1")
		_, meta, err := kv.Get(p+"key", nil)
		if err != nil {
			t.Fatal(err)
		}
		// A key query is not woken by writes elsewhere, even nearby.
		keyCh := block(func() (int, *api.QueryMeta, error) {
			p, m, err := kv.Get(p+"key", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 20 * time.Second})
			if p == nil {
				return 0, m, err
			}
			return 1, m, err
		})
		time.Sleep(100 * time.Millisecond)
		put(p+"other", "x")
		put(p+"key2", "x")
		put("unrelated/"+n.Name, "x")
		wantBlocked(t, keyCh, 400*time.Millisecond)
		put(p+"key", "2")
		wantWoken(t, keyCh, meta.LastIndex)

		// A prefix query wakes when its subtree is deleted, and the index
		// moves forward though nothing is left.
		pairs, lmeta, err := kv.List(p+"dir/", nil)
		if err != nil || len(pairs) != 1 {
			t.Fatalf("list: %v %v", pairs, err)
		}
		listCh := block(func() (int, *api.QueryMeta, error) {
			pairs, m, err := kv.List(p+"dir/", &api.QueryOptions{WaitIndex: lmeta.LastIndex, WaitTime: 20 * time.Second})
			return len(pairs), m, err
		})
		time.Sleep(100 * time.Millisecond)
		put(p+"dirx", "outside the prefix")
		wantBlocked(t, listCh, 300*time.Millisecond)
		if _, err := kv.DeleteTree(p+"dir/", nil); err != nil {
			t.Fatal(err)
		}
		if r := wantWoken(t, listCh, lmeta.LastIndex); r.n != 0 {
			t.Fatalf("after delete-tree: %d pairs", r.n)
		}

		// A wait with no change returns after about the wait time.
		_, meta, _ = kv.Get(p+"key", nil)
		start := time.Now()
		_, m2, err := kv.Get(p+"key", &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 300 * time.Millisecond})
		if d := time.Since(start); err != nil || d < 250*time.Millisecond || d > 3*time.Second || m2.LastIndex != meta.LastIndex {
			t.Fatalf("timed-out wait: %v after %v, index %d→%d", err, d, meta.LastIndex, m2.LastIndex)
		}
	})
}

// Session reads block too: a node's session list wakes when a session is
// created on it. Not parallel: while a node has no session, its list is
// watched through the nearest part of the sessions index (go-memdb watches
// the closest existing radix node), so another test's session writes could
// wake it early with an unchanged, empty list — as in Consul.
func TestBlockingSessionQueries(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		node := "blk-" + n.Name
		if _, err := c.Catalog().Register(&api.CatalogRegistration{Node: node, Address: "10.0.0.2"}, nil); err != nil {
			t.Fatal(err)
		}
		_, meta, err := c.Session().Node(node, nil)
		if err != nil {
			t.Fatal(err)
		}
		ch := block(func() (int, *api.QueryMeta, error) {
			list, m, err := c.Session().Node(node, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 20 * time.Second})
			return len(list), m, err
		})
		time.Sleep(100 * time.Millisecond)
		wantBlocked(t, ch, 200*time.Millisecond)
		id, _, err := c.Session().CreateNoChecks(&api.SessionEntry{Node: node}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Session().Destroy(id, nil)
		if r := wantWoken(t, ch, meta.LastIndex); r.n != 1 {
			t.Fatalf("woken with %d sessions, want 1", r.n)
		}
	})
}
