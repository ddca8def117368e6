package compat

import (
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// TestFilterOperators: ?filter evaluated as Consul evaluates it (go-bexpr
// over typed selectors), on nested maps and lists, on every endpoint that
// Consul documents with it, through the official client.
func TestFilterOperators(t *testing.T) {
	n := catalogClient()
	ag := n.API(t).Agent()
	for _, reg := range []*api.AgentServiceRegistration{
		{ID: "flt-1", Name: "flt-web", Tags: []string{"blue", "v2"}, Meta: map[string]string{"env": "prod"},
			Check: &api.AgentServiceCheck{CheckID: "flt-1-ttl", TTL: "10m", Status: api.HealthPassing}},
		{ID: "flt-2", Name: "flt-web", Tags: []string{"green"}, Meta: map[string]string{"env": "dev", "team": "x"},
			Check: &api.AgentServiceCheck{CheckID: "flt-2-ttl", TTL: "10m", Status: api.HealthCritical}},
	} {
		if err := ag.ServiceRegister(reg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ag.ServiceDeregister(reg.ID) })
	}
	waitHealth(t, entries[0].node, "flt-web", false, 2, 20*time.Second)
	c := entries[1].node.API(t)

	healthService := func(f string) ([]string, error) {
		es, _, err := c.Health().Service("flt-web", "", false, &api.QueryOptions{Filter: f})
		var ids []string
		for _, e := range es {
			ids = append(ids, e.Service.ID)
		}
		return ids, err
	}
	catalogService := func(f string) ([]string, error) {
		ss, _, err := c.Catalog().Service("flt-web", "", &api.QueryOptions{Filter: f})
		var ids []string
		for _, s := range ss {
			ids = append(ids, s.ServiceID)
		}
		return ids, err
	}
	healthChecks := func(f string) ([]string, error) {
		cs, _, err := c.Health().Checks("flt-web", &api.QueryOptions{Filter: f})
		var ids []string
		for _, ch := range cs {
			ids = append(ids, ch.ServiceID)
		}
		return ids, err
	}
	healthState := func(f string) ([]string, error) {
		cs, _, err := c.Health().State(api.HealthAny, &api.QueryOptions{Filter: f})
		var ids []string
		for _, ch := range cs {
			ids = append(ids, ch.ServiceID)
		}
		return ids, err
	}
	agentServices := func(f string) ([]string, error) {
		ss, err := ag.ServicesWithFilter(f)
		var ids []string
		for id := range ss {
			ids = append(ids, id)
		}
		return ids, err
	}
	agentChecks := func(f string) ([]string, error) {
		cs, err := ag.ChecksWithFilter(f)
		var ids []string
		for _, ch := range cs {
			ids = append(ids, ch.ServiceID)
		}
		return ids, err
	}
	nodeServices := func(f string) ([]string, error) {
		l, _, err := c.Catalog().NodeServiceList(n.Name, &api.QueryOptions{Filter: f})
		var ids []string
		if l != nil {
			for _, s := range l.Services {
				ids = append(ids, s.ID)
			}
		}
		return ids, err
	}
	only := `Service == "flt-web" and `
	cases := []struct {
		name   string
		read   func(string) ([]string, error)
		filter string
		want   []string
	}{
		{"health service ==", healthService, `Service.Meta.env == "prod"`, []string{"flt-1"}},
		{"health service != on a missing key", healthService, `Service.Meta.team != "x"`, []string{"flt-1"}},
		{"health service in", healthService, `"blue" in Service.Tags`, []string{"flt-1"}},
		{"health service not in", healthService, `"blue" not in Service.Tags`, []string{"flt-2"}},
		{"health service contains", healthService, `Service.Tags contains "green"`, []string{"flt-2"}},
		{"health service not contains", healthService, `Service.Tags not contains "green"`, []string{"flt-1"}},
		{"health service map contains", healthService, `Service.Meta contains "team"`, []string{"flt-2"}},
		{"health service matches", healthService, `Service.ID matches "-1$"`, []string{"flt-1"}},
		{"health service not matches", healthService, `Service.ID not matches "-1$"`, []string{"flt-2"}},
		{"health service is empty", healthService, `Service.Tags is empty`, nil},
		{"health service is not empty", healthService, `Node.Meta is not empty or Service.Meta is not empty`, []string{"flt-1", "flt-2"}},
		{"health service any check", healthService, `Checks.Status == "critical"`, []string{"flt-2"}},
		{"health service and/or/not", healthService, `not (Service.Meta.env == "prod") and (Checks.Status == "critical" or Service.Port == 1)`, []string{"flt-2"}},
		{"catalog service", catalogService, `ServiceMeta.env == "dev" and "green" in ServiceTags`, []string{"flt-2"}},
		{"health checks", healthChecks, `Status == "passing"`, []string{"flt-1"}},
		{"health state", healthState, `ServiceName == "flt-web" and ServiceTags contains "v2"`, []string{"flt-1"}},
		{"agent services", agentServices, only + `Meta.env matches "^d"`, []string{"flt-2"}},
		{"agent checks", agentChecks, `ServiceName == "flt-web" and Status == "critical"`, []string{"flt-2"}},
		{"catalog node-services", nodeServices, only + `"v2" in Tags`, []string{"flt-1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.read(tc.filter)
			if err != nil {
				t.Fatalf("%s: %v", tc.filter, err)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%s: got %v, want %v", tc.filter, got, tc.want)
			}
		})
	}
	// A selector the element type lacks is a 400 on each of them.
	for _, read := range []func(string) ([]string, error){healthService, catalogService, healthChecks, healthState, agentServices, agentChecks, nodeServices} {
		if _, err := read(`Nope == "x"`); statusOf(err) != 400 {
			t.Errorf("unknown selector: %v, want 400", err)
		}
	}
	// Members: Consul's tags carry role=consul on servers.
	ms, err := c.Agent().MembersOpts(api.MembersOpts{Filter: `Tags.role == "consul"`})
	if err != nil || len(ms) != 3 {
		t.Fatalf("members filtered to servers: %d %v, want 3", len(ms), err)
	}
}
