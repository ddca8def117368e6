package compat

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// TestPreparedQueries: create, list, get, update, execute and delete
// prepared queries through the Go client.
func TestPreparedQueries(t *testing.T) {
	client := catalogClient()
	ag := client.API(t).Agent()
	regs := []*api.AgentServiceRegistration{
		{ID: "pq-1", Name: "pq-web", Tags: []string{"v1", "primary"}, Meta: map[string]string{"zone": "a"},
			Check: &api.AgentServiceCheck{TTL: "60s", Status: api.HealthPassing}},
		{ID: "pq-2", Name: "pq-web", Tags: []string{"v1"}, Meta: map[string]string{"zone": "b"},
			Check: &api.AgentServiceCheck{TTL: "60s", Status: api.HealthWarning}},
		{ID: "pq-3", Name: "pq-web", Tags: []string{"v2"},
			Check: &api.AgentServiceCheck{TTL: "60s", Status: api.HealthCritical}},
	}
	for _, reg := range regs {
		if err := ag.ServiceRegister(reg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ag.ServiceDeregister(reg.ID) })
	}
	waitHealth(t, entries[0].node, "pq-web", false, 3, 20*time.Second)

	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		pq := c.PreparedQuery()
		def := &api.PreparedQueryDefinition{Name: "pq-" + n.Name, Service: api.ServiceQuery{Service: "pq-web"}, DNS: api.QueryDNSOptions{TTL: "10s"}}
		id, _, err := pq.Create(def, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = pq.Delete(id, nil) })
		if _, _, err := pq.Create(&api.PreparedQueryDefinition{Name: def.Name, Service: api.ServiceQuery{Service: "x"}}, nil); statusOf(err) != 400 {
			t.Fatalf("duplicate name: %v", err)
		}
		got, _, err := pq.Get(id, nil)
		if err != nil || len(got) != 1 || got[0].Name != def.Name || got[0].DNS.TTL != "10s" {
			t.Fatalf("get: %+v %v", got, err)
		}
		all, _, err := pq.List(nil)
		if err != nil || !slices.ContainsFunc(all, func(q *api.PreparedQueryDefinition) bool { return q.ID == id }) {
			t.Fatalf("list: %v", err)
		}

		ids := func(r *api.PreparedQueryExecuteResponse) []string {
			var out []string
			for _, n := range r.Nodes {
				out = append(out, n.Service.ID)
			}
			slices.Sort(out)
			return out
		}
		cases := []struct {
			name    string
			service api.ServiceQuery
			want    []string
		}{
			{"healthy (not critical)", api.ServiceQuery{Service: "pq-web"}, []string{"pq-1", "pq-2"}},
			{"only passing", api.ServiceQuery{Service: "pq-web", OnlyPassing: true}, []string{"pq-1"}},
			{"tags", api.ServiceQuery{Service: "pq-web", Tags: []string{"v1", "!primary"}}, []string{"pq-2"}},
			{"service meta", api.ServiceQuery{Service: "pq-web", ServiceMeta: map[string]string{"zone": "a"}}, []string{"pq-1"}},
			{"near the agent", api.ServiceQuery{Service: "pq-web", Near: "_agent"}, []string{"pq-1", "pq-2"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				def.Service = tc.service
				def.ID = id
				if _, err := pq.Update(def, nil); err != nil {
					t.Fatal(err)
				}
				for _, key := range []string{id, def.Name} { // by ID and by name
					res, _, err := pq.Execute(key, nil)
					if err != nil {
						t.Fatal(err)
					}
					if got := ids(res); !slices.Equal(got, tc.want) || res.Service != "pq-web" || res.Datacenter != "dc1" || res.DNS.TTL != "10s" {
						t.Fatalf("execute %s: %v (%+v), want %v", key, got, res, tc.want)
					}
				}
			})
		}
		if resp, body := rawHTTP(t, n, "GET", "/v1/query/"+id+"/execute?limit=1", ""); resp.StatusCode != 200 ||
			strings.Count(body, `"Checks"`) != 1 { // one instance
			t.Fatalf("limit: %d %s", resp.StatusCode, body)
		}
		if _, err := pq.Delete(id, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := pq.Get(id, nil); statusOf(err) != 404 {
			t.Fatalf("after delete: %v", err)
		}
		// The name is free again.
		id2, _, err := pq.Create(&api.PreparedQueryDefinition{Name: def.Name, Service: api.ServiceQuery{Service: "pq-web"}}, nil)
		if err != nil {
			t.Fatal(fmt.Errorf("name not released: %w", err))
		}
		_, _ = pq.Delete(id2, nil)
	})

	refusals := []struct {
		name string
		def  api.PreparedQueryDefinition
	}{
		{"no service", api.PreparedQueryDefinition{Name: "x"}},
		{"uuid name", api.PreparedQueryDefinition{Name: "11111111-2222-3333-4444-555555555555", Service: api.ServiceQuery{Service: "a"}}},
		{"template", api.PreparedQueryDefinition{Service: api.ServiceQuery{Service: "a"}, Template: api.QueryTemplate{Type: "name_prefix_match"}}},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := entries[0].node.API(t).PreparedQuery().Create(&tc.def, nil); statusOf(err) != 400 {
				t.Fatalf("got %v, want 400", err)
			}
		})
	}
	if _, _, err := entries[0].node.API(t).PreparedQuery().Execute("nosuchquery", nil); statusOf(err) != 404 {
		t.Fatalf("unknown query: %v", err)
	}
}

// TestPreparedQuerySession: a query bound to a session goes away with the
// session, freeing its name; an unknown session is refused.
func TestPreparedQuerySession(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		pq := c.PreparedQuery()
		name := fmt.Sprintf("pqs-%s-%d", n.Name, time.Now().UnixNano())
		if _, _, err := pq.Create(&api.PreparedQueryDefinition{Name: name, Session: "11111111-2222-3333-4444-555555555555",
			Service: api.ServiceQuery{Service: "x"}}, nil); statusOf(err) != 400 {
			t.Fatalf("unknown session: %v", err)
		}
		sid, _, err := c.Session().Create(&api.SessionEntry{TTL: "60s"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		id, _, err := pq.Create(&api.PreparedQueryDefinition{Name: name, Session: sid, Service: api.ServiceQuery{Service: "x"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got, _, err := pq.Get(id, nil); err != nil || len(got) != 1 || got[0].Session != sid {
			t.Fatalf("get: %v %v", got, err)
		}
		if _, err := c.Session().Destroy(sid, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := pq.Get(id, nil); statusOf(err) != 404 {
			t.Fatalf("after the session ended: %v", err)
		}
		if _, _, err := pq.Execute(name, nil); statusOf(err) != 404 {
			t.Fatalf("execute after the session ended: %v", err)
		}
		id2, _, err := pq.Create(&api.PreparedQueryDefinition{Name: name, Service: api.ServiceQuery{Service: "x"}}, nil)
		if err != nil {
			t.Fatalf("name not freed: %v", err)
		}
		_, _ = pq.Delete(id2, nil)
	})
}
