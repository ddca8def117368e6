package agent_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestSharedWatchersOnEveryKindOfAgent: many watchers of one key with the
// official client, on the leader, a follower (forwarded to the leader)
// and a client agent, as plain gets, lists and ?stale reads: one write
// wakes every one of them with the new value and its index.
func TestSharedWatchersOnEveryKindOfAgent(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Clients: 1})
	leader := c.WaitForLeader(15 * time.Second)
	follower := c.Follower(leader)
	client := c.Nodes[3]
	var meta *api.QueryMeta
	testcluster.Eventually(t, 10*time.Second, func() error {
		if _, err := client.API(t).KV().Put(&api.KVPair{Key: "watched/k", Value: []byte("old")}, nil); err != nil {
			return err
		}
		var err error
		_, meta, err = client.API(t).KV().Get("watched/k", nil)
		return err
	})
	index := meta.LastIndex

	type watch struct {
		node  *testcluster.Node
		stale bool
		list  bool
	}
	var watches []watch
	for _, n := range []*testcluster.Node{leader, follower, client} {
		for _, stale := range []bool{false, true} {
			for _, list := range []bool{false, true} {
				for range 10 {
					watches = append(watches, watch{n, stale, list})
				}
			}
		}
	}
	errs := make(chan error, len(watches))
	var wg sync.WaitGroup
	for _, w := range watches {
		wg.Go(func() {
			kv := w.node.API(t).KV()
			q := &api.QueryOptions{WaitIndex: index, WaitTime: time.Minute, AllowStale: w.stale}
			var got []*api.KVPair
			var m *api.QueryMeta
			var err error
			if w.list {
				got, m, err = kv.List("watched/", q)
			} else {
				var p *api.KVPair
				p, m, err = kv.Get("watched/k", q)
				if p != nil {
					got = []*api.KVPair{p}
				}
			}
			switch {
			case err != nil:
			case m.LastIndex <= index:
				err = fmt.Errorf("index %d, want past %d", m.LastIndex, index)
			case len(got) != 1 || string(got[0].Value) != "new" || got[0].ModifyIndex != m.LastIndex:
				err = fmt.Errorf("got %+v at index %d, want watched/k = new", got, m.LastIndex)
			}
			if err != nil {
				errs <- fmt.Errorf("%s stale=%v list=%v: %w", w.node.Name, w.stale, w.list, err)
			}
		})
	}
	time.Sleep(time.Second) // the watchers park: a blocking query gives no sign of it
	put(t, follower, "watched/k", "new")
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
