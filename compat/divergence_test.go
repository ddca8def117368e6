package compat

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// statusOf returns the HTTP status carried by a consul/api error, 0 if none.
func statusOf(err error) int {
	var se api.StatusError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// TestJSONBodyHasNoTrailingNewline: Consul writes compact JSON with no
// newline after it (with one under ?pretty); scripts compare bodies.
func TestJSONBodyHasNoTrailingNewline(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		cases := []struct {
			name, method, path, body, want string
		}{
			{"kv put", http.MethodPut, "/v1/kv/nl-" + n.Name, "v", "true"},
			{"kv keys", http.MethodGet, "/v1/kv/nl-" + n.Name + "?keys", "", `["nl-` + n.Name + `"]`},
			{"pretty ends in a newline", http.MethodGet, "/v1/kv/nl-" + n.Name + "?keys&pretty", "", "[\n    \"nl-" + n.Name + "\"\n]\n"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := rawHTTP(t, n, tc.method, tc.path, tc.body)
				if resp.StatusCode != 200 || body != tc.want {
					t.Fatalf("%s %s: %d %q, want 200 %q", tc.method, tc.path, resp.StatusCode, body, tc.want)
				}
			})
		}
	})
}

// TestOptionsAnswersAllow: OPTIONS on an API route is 200 with the
// route's methods in Allow, as Consul answers.
func TestOptionsAnswersAllow(t *testing.T) {
	n := entries[0].node
	cases := []struct{ path, allow string }{
		{"/v1/kv/x", "OPTIONS,GET,PUT,DELETE"},
		{"/v1/status/leader", "OPTIONS,GET"},
		{"/v1/session/create", "OPTIONS,PUT"},
	}
	for _, tc := range cases {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := rawHTTP(t, n, http.MethodOptions, tc.path, "")
			if resp.StatusCode != 200 || resp.Header.Get("Allow") != tc.allow || body != "" {
				t.Fatalf("OPTIONS %s: %d Allow=%q body %q, want 200 Allow=%q", tc.path, resp.StatusCode, resp.Header.Get("Allow"), body, tc.allow)
			}
		})
	}
}

// TestKVRefusesBadRequests: requests Consul answers with 4xx are answered
// so here, and write nothing.
func TestKVRefusesBadRequests(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		probe := "kvbad-" + n.Name
		if _, err := c.KV().Put(&api.KVPair{Key: probe, Value: []byte("keep")}, nil); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name, method, path string
			code               int
			msg                string
		}{
			{"get without key", http.MethodGet, "/v1/kv/", 400, "Missing key name"},
			{"delete without key", http.MethodDelete, "/v1/kv/", 400, "Missing key name"},
			{"put cas and acquire", http.MethodPut, "/v1/kv/" + probe + "?cas=0&acquire=abc", 400, "Conflicting flags"},
			{"put acquire and release", http.MethodPut, "/v1/kv/" + probe + "?acquire=a&release=a", 400, "Conflicting flags"},
			{"delete cas and recurse", http.MethodDelete, "/v1/kv/" + probe + "?cas=0&recurse", 400, "Conflicting flags"},
			{"leading space", http.MethodPut, "/v1/kv/%20" + probe, 400, "leading/trailing spaces"},
			{"trailing space", http.MethodPut, "/v1/kv/" + probe + "%20", 400, "leading/trailing spaces"},
			{"dot-dot escapes the root", http.MethodPut, "/v1/kv/app/%2E%2E/%2E%2E/etc", 400, "path traversal"},
			{"dot-dot on get", http.MethodGet, "/v1/kv/%2E%2E/x", 400, "path traversal"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := rawHTTP(t, n, tc.method, tc.path, "new")
				if resp.StatusCode != tc.code || !strings.Contains(body, tc.msg) {
					t.Fatalf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.msg)
				}
			})
		}
		p, _, err := c.KV().Get(probe, nil)
		if err != nil || p == nil || string(p.Value) != "keep" {
			t.Fatalf("after refused requests %s = %v, %v; want it untouched", probe, p, err)
		}
		for _, k := range []string{"app/../../etc", "../etc", "etc"} {
			if p, _, _ := c.KV().Get(k, nil); p != nil {
				t.Fatalf("key %q was written", k)
			}
		}
		// A ".." that stays inside the tree is cleaned, as Consul does.
		resp, _ := rawHTTP(t, n, http.MethodPut, "/v1/kv/kvclean-"+n.Name+"/x/%2E%2E/y", "v")
		if resp.StatusCode != 200 {
			t.Fatalf("put with inner ..: %d", resp.StatusCode)
		}
		if p, _, err := c.KV().Get("kvclean-"+n.Name+"/y", nil); err != nil || p == nil {
			t.Fatalf("cleaned key not stored: %v %v", p, err)
		}
	})
}

// TestServiceMetaValidated: the agent refuses service meta beyond
// Consul's limits with 400.
func TestServiceMetaValidated(t *testing.T) {
	ag := catalogClient().API(t).Agent()
	many := map[string]string{}
	for i := 0; i < 65; i++ {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	cases := []struct {
		name string
		meta map[string]string
		code int
	}{
		{"key too long", map[string]string{strings.Repeat("k", 129): "v"}, 400},
		{"value too long", map[string]string{"k": strings.Repeat("v", 513)}, 400},
		{"too many pairs", many, 400},
		{"reserved prefix", map[string]string{"consul-version": "1"}, 400},
		{"invalid characters", map[string]string{"a.b": "1"}, 400},
		{"at the limits", map[string]string{strings.Repeat("k", 128): strings.Repeat("v", 512)}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "meta-" + strings.ReplaceAll(tc.name, " ", "-")
			err := ag.ServiceRegister(&api.AgentServiceRegistration{ID: id, Name: "meta-svc", Meta: tc.meta})
			t.Cleanup(func() { _ = ag.ServiceDeregister(id) })
			if got := statusOf(err); got != tc.code || (tc.code == 0 && err != nil) {
				t.Fatalf("register: %v (status %d), want status %d", err, got, tc.code)
			}
			svcs, err := ag.Services()
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := svcs[id]; ok != (tc.code == 0) {
				t.Fatalf("service registered = %v, want %v", ok, tc.code == 0)
			}
		})
	}
}

// TestHealthStateUnknownIsEmpty: Consul answers an unknown state with 200 [].
func TestHealthStateUnknownIsEmpty(t *testing.T) {
	n := entries[0].node
	resp, body := rawHTTP(t, n, http.MethodGet, "/v1/health/state/nosuchstate", "")
	if resp.StatusCode != 200 || body != "[]" || resp.Header.Get("X-Consul-Index") == "" {
		t.Fatalf("%d %q index %q, want 200 [] with an index", resp.StatusCode, body, resp.Header.Get("X-Consul-Index"))
	}
}

// TestUnknownDatacenter: ?dc naming another datacenter is refused with
// 500 "No path to datacenter" on reads and writes, and nothing is written.
func TestUnknownDatacenter(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		key := "dc-" + n.Name
		t.Cleanup(func() { _, _ = c.KV().Delete(key, nil) })
		wo := &api.WriteOptions{Datacenter: "nosuchdc"}
		qo := &api.QueryOptions{Datacenter: "nosuchdc"}
		cases := []struct {
			name string
			call func() error
		}{
			{"kv put", func() error { _, err := c.KV().Put(&api.KVPair{Key: key, Value: []byte("x")}, wo); return err }},
			{"kv get", func() error { _, _, err := c.KV().Get(key, qo); return err }},
			{"kv delete", func() error { _, err := c.KV().Delete(key, wo); return err }},
			{"catalog nodes", func() error { _, _, err := c.Catalog().Nodes(qo); return err }},
			{"health state", func() error { _, _, err := c.Health().State("any", qo); return err }},
			{"session create", func() error { _, _, err := c.Session().Create(nil, wo); return err }},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				if statusOf(err) != 500 || !strings.Contains(err.Error(), "No path to datacenter") {
					t.Fatalf("got %v, want 500 No path to datacenter", err)
				}
			})
		}
		if p, _, err := c.KV().Get(key, nil); err != nil || p != nil {
			t.Fatalf("key written in the local datacenter: %v %v", p, err)
		}
		// The local datacenter by name works.
		if _, err := c.KV().Put(&api.KVPair{Key: key, Value: []byte("x")}, &api.WriteOptions{Datacenter: "dc1"}); err != nil {
			t.Fatalf("put with ?dc=dc1: %v", err)
		}
	})
}

// TestFilterRefusesUnknownSelectors: a typo in ?filter is a 400, never a
// silent empty answer; huge or deeply nested expressions are refused.
func TestFilterRefusesUnknownSelectors(t *testing.T) {
	c := entries[0].node.API(t)
	cases := []struct {
		name, filter string
		code         int
	}{
		{"known field", `Node != ""`, 0},
		{"nested map key", `Meta.anything == "x"`, 0},
		{"unknown field", `Nodee == "x"`, 400},
		{"unknown nested field", `TaggedAddresses.lan.nope == "x"`, 400},
		{"too deep", strings.Repeat("(", 100) + `Node == "x"` + strings.Repeat(")", 100), 400},
		{"too long", strings.Repeat(`Node == "x" or `, 2000) + `Node == "y"`, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			nodes, _, err := c.Catalog().Nodes(&api.QueryOptions{Filter: tc.filter})
			if got := statusOf(err); got != tc.code || (tc.code == 0 && err != nil) {
				t.Fatalf("filter %.60q: %v (status %d), want status %d", tc.filter, err, got, tc.code)
			}
			if tc.code == 400 && !strings.Contains(err.Error(), "Failed to create boolean expression evaluator") {
				t.Fatalf("error %v", err)
			}
			if tc.name == "known field" && len(nodes) < 4 {
				t.Fatalf("%d nodes, want the 4 agents at least", len(nodes))
			}
		})
	}
	// Every endpoint with ?filter checks against its own result type.
	svcCases := []struct {
		path string
		code int
	}{
		{"/v1/health/state/any?filter=" + url.QueryEscape(`ServiceName == "x"`), 200},
		{"/v1/health/state/any?filter=" + url.QueryEscape(`Nodes == "x"`), 400},
		{"/v1/agent/services?filter=" + url.QueryEscape(`Service == "x"`), 200},
		{"/v1/agent/services?filter=" + url.QueryEscape(`ServiceName == "x"`), 400},
		{"/v1/health/service/consul?filter=" + url.QueryEscape(`Service.Service == "x"`), 200},
		{"/v1/health/service/consul?filter=" + url.QueryEscape(`Service.Nope == "x"`), 400},
	}
	for _, tc := range svcCases {
		resp, body := rawHTTP(t, entries[0].node, http.MethodGet, tc.path, "")
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d %q, want %d", tc.path, resp.StatusCode, body, tc.code)
		}
	}
}

// TestOversizedBodyIs413: a body beyond the limit is a 413 naming the limit.
func TestOversizedBodyIs413(t *testing.T) {
	n := catalogClient()
	big := `{"Name":"big","Meta":{"k":"` + strings.Repeat("x", 9<<20) + `"}}`
	cases := []struct{ name, method, path, body, msg string }{
		{"agent service register", http.MethodPut, "/v1/agent/service/register", big, "max size: 8388608 bytes"},
		{"catalog register", http.MethodPut, "/v1/catalog/register", big, "max size: 8388608 bytes"},
		{"kv value", http.MethodPut, "/v1/kv/big", strings.Repeat("x", 600<<10), "max size: 524288 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawHTTP(t, n, tc.method, tc.path, tc.body)
			if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(body, tc.msg) {
				t.Fatalf("%d %.200q, want 413 %q", resp.StatusCode, body, tc.msg)
			}
		})
	}
}

// TestSessionNodeChecksEmptyList: "Checks": [] gives "NodeChecks": [],
// not null, as Consul.
func TestSessionNodeChecksEmptyList(t *testing.T) {
	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		resp, body := rawHTTP(t, n, http.MethodPut, "/v1/session/create", `{"Checks": [], "TTL": "30s"}`)
		if resp.StatusCode != 200 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		id := strings.Split(body, `"`)[3]
		t.Cleanup(func() { _, _ = c.Session().Destroy(id, nil) })
		resp, body = rawHTTP(t, n, http.MethodGet, "/v1/session/info/"+id, "")
		if resp.StatusCode != 200 || !strings.Contains(body, `"NodeChecks":[]`) {
			t.Fatalf("info: %d %s, want NodeChecks []", resp.StatusCode, body)
		}
	})
}

// TestCatalogServicesFilter: ?filter on /v1/catalog/services applies to
// each instance, as Consul's; the service keeps its matching instances' tags.
func TestCatalogServicesFilter(t *testing.T) {
	ag := catalogClient().API(t).Agent()
	for _, reg := range []*api.AgentServiceRegistration{
		{ID: "fs-1", Name: "fs-web", Tags: []string{"blue"}, Meta: map[string]string{"env": "prod"}},
		{ID: "fs-2", Name: "fs-web", Tags: []string{"green"}, Meta: map[string]string{"env": "dev"}},
		{ID: "fs-3", Name: "fs-db", Tags: []string{"primary"}, Meta: map[string]string{"env": "dev"}},
	} {
		if err := ag.ServiceRegister(reg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ag.ServiceDeregister(reg.ID) })
	}
	waitHealth(t, entries[0].node, "fs-web", false, 2, 20*time.Second)
	waitHealth(t, entries[0].node, "fs-db", false, 1, 20*time.Second)
	cases := []struct {
		filter string
		want   map[string][]string
		code   int
	}{
		{`ServiceMeta.env == "prod"`, map[string][]string{"fs-web": {"blue"}}, 0},
		{`ServiceMeta.env == "dev"`, map[string][]string{"fs-web": {"green"}, "fs-db": {"primary"}}, 0},
		{`ServiceName == "fs-web"`, map[string][]string{"fs-web": {"blue", "green"}}, 0},
		{`ServiceMeta.env == "none"`, map[string][]string{}, 0},
		{`Service == "fs-web"`, nil, 400},
	}
	for _, tc := range cases {
		t.Run(tc.filter, func(t *testing.T) {
			got, _, err := entries[1].node.API(t).Catalog().Services(&api.QueryOptions{Filter: tc.filter})
			if statusOf(err) != tc.code || (tc.code == 0 && err != nil) {
				t.Fatalf("%v, want status %d", err, tc.code)
			}
			if tc.code != 0 {
				return
			}
			for name, tags := range got {
				slices.Sort(tags)
				got[name] = tags
			}
			if !maps.EqualFunc(got, tc.want, slices.Equal) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
