package compat

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// catalogClient is the shared cluster's client agent, where catalog tests
// register their services.
func catalogClient() *testcluster.Node { return entries[len(entries)-1].node }

// waitHealth waits until the service's instances, as seen through n with
// ?passing when passingOnly, number want.
func waitHealth(t *testing.T, n *testcluster.Node, service string, passingOnly bool, want int, timeout time.Duration) {
	t.Helper()
	testcluster.Eventually(t, timeout, func() error {
		got, _, err := n.API(t).Health().Service(service, "", passingOnly, nil)
		if err != nil {
			return err
		}
		if len(got) != want {
			return fmt.Errorf("%s: %d instances of %s (passing=%v), want %d", n.Name, len(got), service, passingOnly, want)
		}
		return nil
	})
}

func TestCatalogAgentServiceVisibleFromEveryNode(t *testing.T) {
	client := catalogClient()
	ag := client.API(t).Agent()
	reg := &api.AgentServiceRegistration{
		ID: "cat-web-1", Name: "cat-web", Tags: []string{"v1", "primary"}, Port: 8080,
		Address: "10.0.0.7", Meta: map[string]string{"version": "1.2"},
		Check: &api.AgentServiceCheck{TTL: "30s", Status: api.HealthPassing},
	}
	if err := ag.ServiceRegister(reg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ag.ServiceDeregister("cat-web-1") })

	// The agent's own view.
	svcs, err := ag.Services()
	if err != nil {
		t.Fatal(err)
	}
	if s := svcs["cat-web-1"]; s == nil || s.Service != "cat-web" || s.Port != 8080 || !slices.Equal(s.Tags, reg.Tags) ||
		s.Meta["version"] != "1.2" || s.Weights.Passing != 1 {
		t.Fatalf("agent services: %+v", svcs["cat-web-1"])
	}
	checks, err := ag.Checks()
	if err != nil {
		t.Fatal(err)
	}
	if c := checks["service:cat-web-1"]; c == nil || c.Status != api.HealthPassing || c.ServiceName != "cat-web" || c.Node != client.Name {
		t.Fatalf("agent checks: %+v", checks["service:cat-web-1"])
	}

	forEach(t, func(t *testing.T, n *testcluster.Node, c *api.Client) {
		waitHealth(t, n, "cat-web", true, 1, 10*time.Second)
		cs, meta, err := c.Catalog().Service("cat-web", "v1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) != 1 || cs[0].Node != client.Name || cs[0].ServiceID != "cat-web-1" || cs[0].ServiceAddress != "10.0.0.7" ||
			cs[0].ServicePort != 8080 || cs[0].ServiceMeta["version"] != "1.2" || cs[0].Address == "" || meta.LastIndex == 0 {
			t.Fatalf("catalog service: %+v (index %d)", cs, meta.LastIndex)
		}
		if cs, _, _ := c.Catalog().Service("cat-web", "nope", nil); len(cs) != 0 {
			t.Fatalf("tag filter kept %d instances", len(cs))
		}
		services, _, err := c.Catalog().Services(nil)
		if err != nil || !slices.Contains(services["cat-web"], "primary") {
			t.Fatalf("catalog services: %v %v", services, err)
		}
		node, _, err := c.Catalog().Node(client.Name, nil)
		if err != nil || node == nil || node.Services["cat-web-1"] == nil {
			t.Fatalf("catalog node: %+v %v", node, err)
		}
		list, _, err := c.Catalog().NodeServiceList(client.Name, nil)
		if err != nil || list == nil || !slices.ContainsFunc(list.Services, func(s *api.AgentService) bool { return s.ID == "cat-web-1" }) {
			t.Fatalf("catalog node-services: %+v %v", list, err)
		}
		entries, _, err := c.Health().Service("cat-web", "", true, &api.QueryOptions{Filter: `Service.Meta.version == "1.2"`})
		if err != nil || len(entries) != 1 || len(entries[0].Checks) != 2 {
			t.Fatalf("health service with filter: %+v %v", entries, err)
		}
		hc, _, err := c.Health().Checks("cat-web", nil)
		if err != nil || len(hc) != 1 || hc[0].CheckID != "service:cat-web-1" {
			t.Fatalf("health checks: %+v %v", hc, err)
		}
		nodeChecks, _, err := c.Health().Node(client.Name, nil)
		if err != nil || len(nodeChecks) < 2 {
			t.Fatalf("health node: %+v %v", nodeChecks, err)
		}
	})

	// TTL fail → critical everywhere; pass → back.
	if err := ag.UpdateTTL("service:cat-web-1", "boom", api.HealthCritical); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, entries[0].node, "cat-web", true, 0, 5*time.Second)
	crit, _, err := entries[1].node.API(t).Health().State(api.HealthCritical, nil)
	if err != nil || !slices.ContainsFunc(crit, func(c *api.HealthCheck) bool { return c.CheckID == "service:cat-web-1" && c.Output == "boom" }) {
		t.Fatalf("health state critical: %v %v", crit, err)
	}
	if err := ag.PassTTL("service:cat-web-1", "ok"); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, entries[0].node, "cat-web", true, 1, 5*time.Second)

	// Service maintenance drops it from ?passing; the agent endpoint says 503.
	if err := ag.EnableServiceMaintenance("cat-web-1", "deploy"); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, entries[1].node, "cat-web", true, 0, 5*time.Second)
	status, _, err := ag.AgentHealthServiceByName("cat-web")
	if status != api.HealthCritical {
		t.Fatalf("agent health by name: %q %v", status, err)
	}
	if err := ag.DisableServiceMaintenance("cat-web-1"); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, entries[1].node, "cat-web", true, 1, 5*time.Second)

	// Hash-based blocking on the agent's service: wakes on a change.
	svc, qm, err := ag.Service("cat-web-1", nil)
	if err != nil || svc.ContentHash == "" || qm.LastContentHash != svc.ContentHash {
		t.Fatalf("agent service: %+v %+v %v", svc, qm, err)
	}
	go func() {
		time.Sleep(200 * time.Millisecond)
		reg.Tags = []string{"v2"}
		_ = ag.ServiceRegister(reg)
	}()
	start := time.Now()
	svc2, _, err := ag.Service("cat-web-1", &api.QueryOptions{WaitHash: svc.ContentHash, WaitTime: 10 * time.Second})
	if err != nil || !slices.Equal(svc2.Tags, []string{"v2"}) || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("blocking agent service: %+v after %v, %v", svc2, time.Since(start), err)
	}

	if err := ag.ServiceDeregister("cat-web-1"); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, entries[0].node, "cat-web", false, 0, 5*time.Second)
	if err := ag.ServiceDeregister("cat-web-1"); err == nil {
		t.Fatal("deregistering an unknown service succeeded")
	}
}

func TestCatalogRegisterBlockingAndErrors(t *testing.T) {
	leader := entries[0].node
	follower := entries[1].node
	cat := leader.API(t).Catalog()
	reg := &api.CatalogRegistration{
		Node: "cat-ext-1", Address: "192.0.2.10", NodeMeta: map[string]string{"rack": "r1"},
		Service: &api.AgentService{ID: "db1", Service: "cat-db", Port: 5432, Tags: []string{"primary"}},
		Check:   &api.AgentCheck{CheckID: "db-up", Name: "db up", Status: api.HealthPassing, ServiceID: "db1"},
	}
	if _, err := cat.Register(reg, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = cat.Deregister(&api.CatalogDeregistration{Node: "cat-ext-1"}, nil) })

	got, meta, err := follower.API(t).Health().Service("cat-db", "", true, &api.QueryOptions{NodeMeta: map[string]string{"rack": "r1"}})
	if err != nil || len(got) != 1 || got[0].Node.Meta["rack"] != "r1" {
		t.Fatalf("health service with node-meta: %+v %v", got, err)
	}
	if other, _, _ := follower.API(t).Health().Service("cat-db", "", false, &api.QueryOptions{NodeMeta: map[string]string{"rack": "r2"}}); len(other) != 0 {
		t.Fatalf("node-meta filter kept %d", len(other))
	}
	nodes, _, err := follower.API(t).Catalog().Nodes(&api.QueryOptions{NodeMeta: map[string]string{"rack": "r1"}})
	if err != nil || len(nodes) != 1 || nodes[0].Node != "cat-ext-1" {
		t.Fatalf("catalog nodes with node-meta: %+v %v", nodes, err)
	}

	// A blocking query on the follower wakes when the check turns critical.
	type result struct {
		entries []*api.ServiceEntry
		index   uint64
		err     error
	}
	done := make(chan result, 1)
	go func() {
		e, m, err := follower.API(t).Health().Service("cat-db", "", false, &api.QueryOptions{WaitIndex: meta.LastIndex, WaitTime: 20 * time.Second})
		var idx uint64
		if m != nil {
			idx = m.LastIndex
		}
		done <- result{e, idx, err}
	}()
	time.Sleep(200 * time.Millisecond)
	reg.Check.Status = api.HealthCritical
	reg.Check.Output = "down"
	start := time.Now()
	if _, err := cat.Register(reg, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.err != nil || r.index <= meta.LastIndex || len(r.entries) != 1 || r.entries[0].Checks.AggregatedStatus() != api.HealthCritical {
			t.Fatalf("blocking query: %+v index %d (was %d) %v", r.entries, r.index, meta.LastIndex, r.err)
		}
		t.Logf("blocking query woke %v after the write", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("blocking query did not wake")
	}
	// Consistency modes.
	if _, qm, err := follower.API(t).Catalog().Service("cat-db", "", &api.QueryOptions{AllowStale: true}); err != nil || qm.LastIndex == 0 {
		t.Fatalf("stale read: %v", err)
	}
	if _, _, err := follower.API(t).Catalog().Service("cat-db", "", &api.QueryOptions{RequireConsistent: true}); err != nil {
		t.Fatalf("consistent read: %v", err)
	}

	cases := []struct {
		name, method, path, body string
		code                     int
	}{
		{"register without node", "PUT", "/v1/catalog/register", `{"Address":"1.2.3.4"}`, 400},
		{"register bad json", "PUT", "/v1/catalog/register", `{`, 400},
		{"register service without name", "PUT", "/v1/catalog/register", `{"Node":"x","Address":"1.2.3.4","Service":{"Port":1}}`, 400},
		{"register check on unknown service", "PUT", "/v1/catalog/register", `{"Node":"cat-ext-1","Address":"192.0.2.10","Check":{"CheckID":"c","ServiceID":"nope"}}`, 400},
		{"deregister without node", "PUT", "/v1/catalog/deregister", `{}`, 400},
		{"register with GET", "GET", "/v1/catalog/register", ``, 405},
		{"unknown health state matches nothing", "GET", "/v1/health/state/bogus", ``, 200},
		{"stale and consistent", "GET", "/v1/catalog/nodes?stale&consistent", ``, 400},
		{"bad index", "GET", "/v1/catalog/services?index=x", ``, 400},
		{"bad filter", "GET", "/v1/catalog/service/cat-db?filter=" + "ServiceName%20%3D%3D", ``, 400},
		{"agent service without name", "PUT", "/v1/agent/service/register", `{"Port":1}`, 400},
		{"agent check without type", "PUT", "/v1/agent/check/register", `{"Name":"c"}`, 400},
		{"agent script check disabled", "PUT", "/v1/agent/check/register", `{"Name":"c","Args":["true"],"Interval":"10s"}`, 400},
		{"agent unknown service", "GET", "/v1/agent/service/nope", ``, 404},
		{"agent deregister unknown check", "PUT", "/v1/agent/check/deregister/nope", ``, 404},
		{"agent maintenance without enable", "PUT", "/v1/agent/maintenance", ``, 400},
		{"agent check update bad status", "PUT", "/v1/agent/check/update/x", `{"Status":"meh"}`, 400},
		{"unknown node", "GET", "/v1/catalog/node/nope", ``, 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := rawHTTP(t, leader, tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.code {
				t.Fatalf("%s %s: %d %q, want %d", tc.method, tc.path, resp.StatusCode, body, tc.code)
			}
		})
	}
}

func TestCatalogFailingHTTPCheckLeavesPassing(t *testing.T) {
	var fail atomic.Bool
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer app.Close()
	client := catalogClient()
	ag := client.API(t).Agent()
	const interval = time.Second
	if err := ag.ServiceRegister(&api.AgentServiceRegistration{ID: "cat-http-1", Name: "cat-http", Port: 1,
		Check: &api.AgentServiceCheck{HTTP: app.URL, Interval: interval.String(), Timeout: "1s"}}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ag.ServiceDeregister("cat-http-1") })
	reader := entries[1].node
	waitHealth(t, reader, "cat-http", true, 1, 10*time.Second)

	fail.Store(true)
	start := time.Now()
	waitHealth(t, reader, "cat-http", true, 0, 5*time.Second)
	took := time.Since(start)
	t.Logf("instance left ?passing %v after the check started failing (interval %v)", took, interval)
	// One interval, plus the sync and replication (a few ms) and the poll;
	// slack for a loaded 2-core machine.
	if took > interval+time.Second {
		t.Fatalf("instance left ?passing after %v, want within one interval (%v)", took, interval)
	}
	entriesNow, _, err := reader.API(t).Health().Service("cat-http", "", false, nil)
	if err != nil || len(entriesNow) != 1 || entriesNow[0].Checks.AggregatedStatus() != api.HealthCritical {
		t.Fatalf("instance not critical: %+v %v", entriesNow, err)
	}
	fail.Store(false)
	waitHealth(t, reader, "cat-http", true, 1, 5*time.Second)
}

// TestCatalogKilledClientAndDrift runs its own cluster, one server and
// one client, because it kills and restarts the client.
func TestCatalogKilledClientAndDrift(t *testing.T) {
	// The client starts with a service from a JSON file in its -config-dir.
	cfgDir := t.TempDir()
	writeFile(t, filepath.Join(cfgDir, "a.json"), `{"service": {"name": "cfg-a", "port": 1, "check": {"ttl": "10m", "status": "passing"}}}`)
	c := testcluster.New(t, testcluster.Options{Servers: 1, Clients: 1, Configure: func(i int, cfg *config.Config) {
		if i != 1 {
			return
		}
		loaded, err := config.Load([]string{"-config-dir", cfgDir, "-data-dir", cfg.DataDir})
		if err != nil {
			t.Fatal(err)
		}
		cfg.ConfigDirs, cfg.Services = loaded.ConfigDirs, loaded.Services
	}})
	server, client := c.Nodes[0], c.Nodes[1]
	c.WaitForLeader(15 * time.Second)
	waitHealth(t, server, "cfg-a", true, 1, 10*time.Second)

	// Reload (the API's PUT /v1/agent/reload, as SIGHUP and `shoal reload`)
	// applies an HCL file and the removal of the JSON one.
	writeFile(t, filepath.Join(cfgDir, "b.hcl"), `service {
  name = "cfg-b"
  port = 2
  checks = [{ ttl = "10m", status = "passing" }]
}`)
	if err := os.Remove(filepath.Join(cfgDir, "a.json")); err != nil {
		t.Fatal(err)
	}
	if err := client.API(t).Agent().Reload(); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, server, "cfg-b", true, 1, 10*time.Second)
	waitHealth(t, server, "cfg-a", false, 0, 10*time.Second)
	if err := client.API(t).Agent().ServiceRegister(&api.AgentServiceRegistration{ID: "k1", Name: "kweb", Port: 80,
		Check: &api.AgentServiceCheck{TTL: "10m", Status: api.HealthPassing}}); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, server, "kweb", true, 1, 10*time.Second)

	// Drift: delete the agent's service straight from the catalog; the
	// next anti-entropy full sync puts it back.
	if _, err := server.API(t).Catalog().Deregister(&api.CatalogDeregistration{Node: client.Name, ServiceID: "k1"}, nil); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, server, "kweb", false, 0, 5*time.Second)
	client.Agent.LocalState().TriggerSyncFull()
	waitHealth(t, server, "kweb", true, 1, 10*time.Second)
	// And a service registered in the catalog for the agent's node, which
	// the agent does not know, is removed.
	if _, err := server.API(t).Catalog().Register(&api.CatalogRegistration{Node: client.Name, Address: "127.0.0.1",
		SkipNodeUpdate: true, Service: &api.AgentService{ID: "stray", Service: "stray"}}, nil); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, server, "stray", false, 1, 5*time.Second)
	client.Agent.LocalState().TriggerSyncFull()
	waitHealth(t, server, "stray", false, 0, 10*time.Second)

	// Kill the client without leaving: serfHealth goes critical and the
	// service drops from ?passing, but stays registered.
	c.Kill(client)
	start := time.Now()
	waitHealth(t, server, "kweb", true, 0, 30*time.Second)
	t.Logf("killed client's service left ?passing after %v", time.Since(start))
	all, _, err := server.API(t).Health().Service("kweb", "", false, nil)
	if err != nil || len(all) != 1 {
		t.Fatalf("after kill: %+v %v", all, err)
	}
	for _, chk := range all[0].Checks {
		if chk.CheckID == "serfHealth" && chk.Status != api.HealthCritical {
			t.Fatalf("serfHealth %s after kill", chk.Status)
		}
	}

	// Restart: the persisted registration comes back with the node.
	c.Start(client)
	waitHealth(t, server, "kweb", true, 1, 30*time.Second)
	svcs, err := client.API(t).Agent().Services()
	if err != nil || svcs["k1"] == nil {
		t.Fatalf("restarted agent lost its service: %v %v", svcs, err)
	}
}
