package compat

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// eventsNamed lists the events named name that node n received.
func eventsNamed(t *testing.T, n *testcluster.Node, name string) []*api.UserEvent {
	t.Helper()
	evs, _, err := n.API(t).Event().List(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// TestEventFireAndList: a user event fired on one agent reaches every
// agent whose filters it matches, by gossip, and lists with Consul's shape.
func TestEventFireAndList(t *testing.T) {
	client := catalogClient()
	ag := client.API(t).Agent()
	if err := ag.ServiceRegister(&api.AgentServiceRegistration{ID: "ev-web", Name: "ev-web", Tags: []string{"blue"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ag.ServiceDeregister("ev-web") })
	all := []*testcluster.Node{entries[0].node, entries[1].node, client}
	cases := []struct {
		name    string
		event   api.UserEvent
		reaches map[string]bool // node names that keep it; nil: all
	}{
		{"to all", api.UserEvent{Payload: []byte("hello\x00world")}, nil},
		{"node filter", api.UserEvent{NodeFilter: "^" + client.Name + "$"}, map[string]bool{client.Name: true}},
		{"service filter", api.UserEvent{ServiceFilter: "ev-web"}, map[string]bool{client.Name: true}},
		{"tag filter misses", api.UserEvent{ServiceFilter: "ev-web", TagFilter: "green"}, map[string]bool{}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev := tc.event
			ev.Name = fmt.Sprintf("deploy-%d-%d", i, time.Now().UnixNano()) // unique across -count runs
			from := all[i%len(all)]
			id, _, err := from.API(t).Event().Fire(&ev, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range all {
				want := tc.reaches == nil || tc.reaches[n.Name]
				if !want {
					continue
				}
				testcluster.Eventually(t, 10*time.Second, func() error {
					evs := eventsNamed(t, n, ev.Name)
					if len(evs) != 1 || evs[0].ID != id || string(evs[0].Payload) != string(ev.Payload) ||
						evs[0].NodeFilter != ev.NodeFilter || evs[0].Version != 1 || evs[0].LTime == 0 {
						return fmt.Errorf("%s: events %+v", n.Name, evs)
					}
					return nil
				})
			}
			// Give gossip time to reach everybody, then check the filtered.
			time.Sleep(500 * time.Millisecond)
			for _, n := range all {
				if tc.reaches != nil && !tc.reaches[n.Name] {
					if evs := eventsNamed(t, n, ev.Name); len(evs) != 0 {
						t.Fatalf("%s kept a filtered event: %+v", n.Name, evs)
					}
				}
			}
		})
	}
}

// TestEventListBlocks: a list with ?index = the last event's index waits
// for the next event, as `consul watch -type event` relies on.
func TestEventListBlocks(t *testing.T) {
	c := entries[1].node.API(t)
	name := fmt.Sprintf("blk-%d", time.Now().UnixNano()) // unique across -count runs
	id1, _, err := c.Event().Fire(&api.UserEvent{Name: name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var idx uint64
	testcluster.Eventually(t, 10*time.Second, func() error {
		evs, meta, err := c.Event().List(name, nil)
		if err != nil || len(evs) == 0 || evs[len(evs)-1].ID != id1 {
			return fmt.Errorf("event not there yet: %v", err)
		}
		if got := c.Event().IDToIndex(evs[len(evs)-1].ID); got != meta.LastIndex {
			return fmt.Errorf("index %d, IDToIndex %d", meta.LastIndex, got)
		}
		idx = meta.LastIndex
		return nil
	})
	done := make(chan []*api.UserEvent, 1)
	start := time.Now()
	go func() {
		evs, _, err := c.Event().List(name, &api.QueryOptions{WaitIndex: idx, WaitTime: 20 * time.Second})
		if err != nil {
			t.Error(err)
		}
		done <- evs
	}()
	time.Sleep(300 * time.Millisecond)
	id2, _, err := entries[0].node.API(t).Event().Fire(&api.UserEvent{Name: name}, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case evs := <-done:
		if time.Since(start) < 300*time.Millisecond || len(evs) == 0 || evs[len(evs)-1].ID != id2 {
			t.Fatalf("woke after %v with %+v", time.Since(start), evs)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("blocking list never woke")
	}
	// Without a matching event, a short wait returns with index 1.
	evs, meta, err := c.Event().List("nosuchevent", &api.QueryOptions{WaitIndex: 1, WaitTime: 100 * time.Millisecond})
	if err != nil || len(evs) != 0 || meta.LastIndex != 1 {
		t.Fatalf("%v %v %d", evs, err, meta.LastIndex)
	}
}

// TestEventFireRefusals: bad requests get 4xx.
func TestEventFireRefusals(t *testing.T) {
	c := entries[0].node.API(t)
	cases := []struct {
		name string
		ev   api.UserEvent
		code int
		msg  string
	}{
		{"tag without service", api.UserEvent{Name: "x", TagFilter: "a"}, 400, "Cannot provide tag filter"},
		{"bad regexp", api.UserEvent{Name: "x", NodeFilter: "("}, 400, "Invalid filter"},
		{"too large", api.UserEvent{Name: "x", Payload: []byte(strings.Repeat("p", 1000))}, 413, "too large"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := c.Event().Fire(&tc.ev, nil)
			if statusOf(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %d %q", err, tc.code, tc.msg)
			}
		})
	}
}
