package agent_test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/agent"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/internal/testcluster"
)

// outcome is what a request of the matrix must get.
type outcome int

const (
	deny       outcome = iota // 403
	allow                     // any status but 403
	filtered                  // 200 (404 for KV) with X-Consul-Results-Filtered-By-ACLs: true
	unfiltered                // 200 without it
	hidden                    // 404: the object cannot be read, so it is not there
)

func (o outcome) String() string {
	return [...]string{"deny", "allow", "filtered", "unfiltered", "hidden"}[o]
}

// matrixCase is one request of the matrix, with the rules of its
// least-privilege token and of its wrong-prefix token, and the outcome
// for no token / the anonymous token, least and wrong.
type matrixCase struct {
	pattern, method, path, body string
	least, wrong                string
	anon, leastWant, wrongWant  outcome
	// stream: the answer is a stream (agent/monitor); only the status is read.
	stream bool
}

const mgmtSecret = "11111111-2222-3333-4444-555555555555"

// matrixCases covers every route and method of the router (checked
// against agent.Routes). Setup (below) creates what they name: catalog
// service web with check web-check on node ext1 (not on the agent's own
// node s1, whose anti-entropy would remove it), local service local-svc and
// dereg-svc, local checks ttl-check and dereg-check, keys app/x,
// other/y, del/x, tree/a, tree/locked, spec svc-a, sessions, tokens,
// policies and roles to update and delete.
func matrixCases(ids map[string]string) []matrixCase {
	r := func(p string) string { return fmt.Sprintf("{ policy = %q }", p) }
	all := func(m, p, path, body string) matrixCase {
		return matrixCase{pattern: p, method: m, path: path, body: body, anon: allow, leastWant: allow, wrongWant: allow}
	}
	chk := func(m, p, path, body, least, wrong string) matrixCase {
		return matrixCase{p, m, path, body, least, wrong, deny, allow, deny, false}
	}
	flt := func(p, path, least, wrong string) matrixCase {
		return matrixCase{p, "GET", path, "", least, wrong, filtered, unfiltered, filtered, false}
	}
	withAnon := func(o outcome, mc matrixCase) matrixCase { mc.anon = o; return mc }
	aclW, aclR := `acl = "write"`, `acl = "read"`
	qKeys := func(p string) string { return `key_prefix "shoal/quer" ` + r(p) }
	specA := `{"name":"svc-b","image":"nginx"}`
	return []matrixCase{
		all("GET", "/v1/status/leader", "/v1/status/leader", ""),
		all("GET", "/v1/status/peers", "/v1/status/peers", ""),
		all("GET", "/v1/catalog/datacenters", "/v1/catalog/datacenters", ""),
		all("POST", "/v1/shoal/validate", "/v1/shoal/validate", specA),
		all("PUT", "/v1/shoal/validate", "/v1/shoal/validate", specA),

		chk("GET", "/v1/agent/self", "/v1/agent/self", "", `agent "s1" `+r("read"), `agent "s2" `+r("read")),
		chk("GET", "/v1/agent/metrics", "/v1/agent/metrics", "", `agent "s1" `+r("read"), `agent_prefix "x" `+r("write")),
		flt("/v1/agent/members", "/v1/agent/members", `node_prefix "" `+r("read"), `node_prefix "zz" `+r("read")),
		chk("PUT", "/v1/agent/join/{addr...}", "/v1/agent/join/127.0.0.1:1", "", `agent "s1" `+r("write"), `agent "s1" `+r("read")),
		chk("PUT", "/v1/agent/force-leave/{node}", "/v1/agent/force-leave/nosuch", "", `operator = "write"`, `operator = "read"`),
		chk("PUT", "/v1/agent/reload", "/v1/agent/reload", "", `agent "s1" `+r("write"), `agent "s2" `+r("write")),
		chk("GET", "/v1/operator/raft/configuration", "/v1/operator/raft/configuration", "", `operator = "read"`, `keyring = "write"`),
		chk("DELETE", "/v1/operator/raft/peer", "/v1/operator/raft/peer?id=nosuch", "", `operator = "write"`, `operator = "read"`),
		chk("POST", "/v1/operator/raft/transfer-leader", "/v1/operator/raft/transfer-leader?id=nosuch", "", `operator = "write"`, `operator = "read"`),
		chk("GET", "/v1/operator/keyring", "/v1/operator/keyring", "", `keyring = "read"`, `operator = "write"`),
		chk("POST", "/v1/operator/keyring", "/v1/operator/keyring", `{"Key":"bm90IGEga2V5"}`, `keyring = "write"`, `keyring = "read"`),
		chk("PUT", "/v1/operator/keyring", "/v1/operator/keyring", `{"Key":"bm90IGEga2V5"}`, `keyring = "write"`, `keyring = "read"`),
		chk("DELETE", "/v1/operator/keyring", "/v1/operator/keyring", `{"Key":"bm90IGEga2V5"}`, `keyring = "write"`, `operator = "write"`),
		chk("GET", "/v1/shoal/overlay", "/v1/shoal/overlay", "", `operator = "read"`, `keyring = "read"`),
		chk("GET", "/v1/snapshot", "/v1/snapshot", "", aclW, `operator = "write"`),
		chk("PUT", "/v1/snapshot", "/v1/snapshot", "not an archive", aclW, `operator = "write"`),

		chk("PUT", "/v1/catalog/register", "/v1/catalog/register", `{"Node":"n9","Address":"10.0.0.9","Service":{"Service":"web2"}}`,
			`node "n9" `+r("write")+"\n"+`service "web2" `+r("write"), `node "n8" `+r("write")+"\n"+`service "web2" `+r("write")),
		chk("PUT", "/v1/catalog/deregister", "/v1/catalog/deregister", `{"Node":"n9"}`, `node "n9" `+r("write"), `node "n8" `+r("write")),
		flt("/v1/catalog/nodes", "/v1/catalog/nodes", `node_prefix "" `+r("read"), `node_prefix "zz" `+r("read")),
		flt("/v1/catalog/services", "/v1/catalog/services", `service_prefix "" `+r("read"), `service_prefix "zz" `+r("read")),
		flt("/v1/catalog/service/{name...}", "/v1/catalog/service/web", `service "web" `+r("read")+"\n"+`node_prefix "" `+r("read"),
			`service "other" `+r("read")+"\n"+`node_prefix "" `+r("read")),
		chk("GET", "/v1/catalog/node/{node...}", "/v1/catalog/node/s1", "", `node "s1" `+r("read")+"\n"+`service_prefix "" `+r("read"), `node "s2" `+r("read")),
		chk("GET", "/v1/catalog/node-services/{node...}", "/v1/catalog/node-services/s1", "", `node "s1" `+r("read")+"\n"+`service_prefix "" `+r("read"), `node "s2" `+r("read")),
		flt("/v1/health/node/{node...}", "/v1/health/node/s1", `node "s1" `+r("read")+"\n"+`service_prefix "" `+r("read"), `node "s2" `+r("read")),
		flt("/v1/health/checks/{service...}", "/v1/health/checks/web", `node_prefix "" `+r("read")+"\n"+`service "web" `+r("read"),
			`service "zz" `+r("read")+"\n"+`node_prefix "" `+r("read")),
		flt("/v1/health/state/{state...}", "/v1/health/state/any", `node_prefix "" `+r("read")+"\n"+`service_prefix "" `+r("read"), `node_prefix "zz" `+r("read")),
		flt("/v1/health/service/{service...}", "/v1/health/service/web", `service "web" `+r("read")+"\n"+`node_prefix "" `+r("read"),
			`service "zz" `+r("read")+"\n"+`node_prefix "" `+r("read")),

		flt("/v1/agent/services", "/v1/agent/services", `service_prefix "" `+r("read"), `service "zz" `+r("read")),
		chk("GET", "/v1/agent/service/{id...}", "/v1/agent/service/local-svc", "", `service "local-svc" `+r("read"), `service "zz" `+r("read")),
		chk("PUT", "/v1/agent/service/register", "/v1/agent/service/register", `{"Name":"reg-svc"}`, `service "reg-svc" `+r("write"), `service "reg-svc" `+r("read")),
		chk("PUT", "/v1/agent/service/deregister/{id...}", "/v1/agent/service/deregister/dereg-svc", "", `service "dereg-svc" `+r("write"), `service "dereg-svc" `+r("read")),
		chk("PUT", "/v1/agent/service/maintenance/{id...}", "/v1/agent/service/maintenance/local-svc?enable=false", "", `service "local-svc" `+r("write"), `service "local-svc" `+r("read")),
		flt("/v1/agent/checks", "/v1/agent/checks", `node "s1" `+r("read")+"\n"+`service_prefix "" `+r("read"), `node "zz" `+r("read")),
		chk("PUT", "/v1/agent/check/register", "/v1/agent/check/register", `{"Name":"c2","TTL":"10s"}`, `node "s1" `+r("write"), `node "s1" `+r("read")),
		chk("PUT", "/v1/agent/check/deregister/{id...}", "/v1/agent/check/deregister/dereg-check", "", `node "s1" `+r("write"), `node "s1" `+r("read")),
		chk("PUT", "/v1/agent/check/pass/{id...}", "/v1/agent/check/pass/ttl-check", "", `node "s1" `+r("write"), `node "s1" `+r("read")),
		chk("PUT", "/v1/agent/check/warn/{id...}", "/v1/agent/check/warn/ttl-check", "", `node "s1" `+r("write"), `node "s2" `+r("write")),
		chk("PUT", "/v1/agent/check/fail/{id...}", "/v1/agent/check/fail/ttl-check", "", `node "s1" `+r("write"), `node "s1" `+r("read")),
		chk("PUT", "/v1/agent/check/update/{id...}", "/v1/agent/check/update/ttl-check", `{"Status":"passing"}`, `node "s1" `+r("write"), `node "s1" `+r("read")),
		chk("PUT", "/v1/agent/maintenance", "/v1/agent/maintenance?enable=false", "", `node "s1" `+r("write"), `node "s1" `+r("read")),
		chk("GET", "/v1/agent/health/service/name/{name...}", "/v1/agent/health/service/name/local-svc", "", `service "local-svc" `+r("read"), `service "zz" `+r("read")),
		chk("GET", "/v1/agent/health/service/id/{id...}", "/v1/agent/health/service/id/local-svc", "", `service "local-svc" `+r("read"), `service "zz" `+r("read")),

		chk("GET", "/v1/kv/{key...}", "/v1/kv/app/x", "", `key "app/x" `+r("read"), `key_prefix "other/" `+r("read")),
		chk("PUT", "/v1/kv/{key...}", "/v1/kv/app/x", "v2", `key "app/x" `+r("write"), `key_prefix "other/" `+r("write")),
		chk("DELETE", "/v1/kv/{key...}", "/v1/kv/del/x", "", `key "del/x" `+r("write"), `key_prefix "app/" `+r("write")),
		flt("/v1/kv/{key...}", "/v1/kv/app/?recurse", `key_prefix "app/" `+r("read"), `key_prefix "other/" `+r("read")),
		flt("/v1/kv/{key...}", "/v1/kv/?keys", `key_prefix "" `+r("read"), `key_prefix "other/" `+r("read")),
		// CVE-2019-12291: write on tree/ is not enough to delete the tree
		// when a key below it is read-only.
		chk("DELETE", "/v1/kv/{key...}", "/v1/kv/tree/?recurse", "", `key_prefix "tree/" `+r("write"),
			`key_prefix "tree/" `+r("write")+"\n"+`key "tree/locked" `+r("read")),
		// Scheduling: key write on the spec is not enough without deploy.
		chk("PUT", "/v1/kv/{key...}", "/v1/kv/shoal/services/svc-b", specA,
			`key_prefix "shoal/services/" `+r("write")+"\n"+`deploy "svc-b" `+r("write"), `key_prefix "shoal/services/" `+r("write")),
		// A spec reaching the host also needs operator:write.
		chk("PUT", "/v1/kv/{key...}", "/v1/kv/shoal/services/svc-priv", `{"name":"svc-priv","image":"nginx","privileged":true,"replicas":0}`,
			`key_prefix "shoal/services/" `+r("write")+"\n"+`deploy_prefix "" `+r("write")+"\n"+`operator = "write"`,
			`key_prefix "shoal/services/" `+r("write")+"\n"+`deploy_prefix "" `+r("write")),
		// CVE-2021-38698: every operation of a transaction is checked.
		chk("PUT", "/v1/txn", "/v1/txn", `[{"KV":{"Verb":"set","Key":"app/t","Value":"eA=="}},{"KV":{"Verb":"get","Key":"other/y"}}]`,
			`key "app/t" `+r("write")+"\n"+`key "other/y" `+r("read"), `key "app/t" `+r("write")),

		chk("PUT", "/v1/session/create", "/v1/session/create", `{"Node":"s1"}`, `session "s1" `+r("write"), `session "s2" `+r("write")),
		chk("PUT", "/v1/session/renew/{id}", "/v1/session/renew/"+ids["session"], "", `session "s1" `+r("write"), `session "s1" `+r("read")),
		flt("/v1/session/info/{id}", "/v1/session/info/"+ids["session"], `session "s1" `+r("read"), `session "s2" `+r("read")),
		flt("/v1/session/node/{node}", "/v1/session/node/s1", `session "s1" `+r("read"), `session "s2" `+r("read")),
		flt("/v1/session/list", "/v1/session/list", `session_prefix "" `+r("read"), `session "s2" `+r("read")),
		chk("PUT", "/v1/session/destroy/{id}", "/v1/session/destroy/"+ids["session"], "", `session "s1" `+r("write"), `session "s1" `+r("read")),

		flt("/v1/shoal/services", "/v1/shoal/services", `deploy_prefix "" `+r("read"), `deploy "zz" `+r("read")),
		chk("GET", "/v1/shoal/services/{name}", "/v1/shoal/services/svc-a", "", `deploy "svc-a" `+r("read"), `deploy "svc-b" `+r("read")),
		chk("PUT", "/v1/shoal/services/{name}/rebalance", "/v1/shoal/services/svc-a/rebalance", "", `deploy "svc-a" `+r("write"), `deploy "svc-a" `+r("read")),
		// The versions and the current spec are KV keys: key read too.
		chk("GET", "/v1/shoal/services/{name}/versions", "/v1/shoal/services/svc-a/versions", "",
			`key_prefix "shoal/" `+r("read")+"\n"+`deploy "svc-a" `+r("read"), `deploy "svc-b" `+r("read")),
		chk("PUT", "/v1/shoal/services/{name}/rollback", "/v1/shoal/services/svc-a/rollback?version=1", "",
			`key_prefix "shoal/" `+r("write")+"\n"+`deploy "svc-a" `+r("write"), `deploy "svc-a" `+r("read")),
		// No allocation exists without a driver, so nothing to filter:
		// every token gets 200 and no header.
		{pattern: "/v1/shoal/allocs", method: "GET", path: "/v1/shoal/allocs", least: `deploy_prefix "" ` + r("read"),
			wrong: `deploy "zz" ` + r("read"), anon: unfiltered, leastWant: unfiltered, wrongWant: unfiltered},
		chk("GET", "/v1/shoal/allocs/{id}/logs", "/v1/shoal/allocs/nosuch/logs", "", `operator = "read"`, `deploy_prefix "" `+r("read")),

		{pattern: "/v1/acl/bootstrap", method: "PUT", path: "/v1/acl/bootstrap", least: aclW, wrong: aclR, anon: deny, leastWant: deny, wrongWant: deny},
		chk("PUT", "/v1/acl/token", "/v1/acl/token", `{"Description":"matrix"}`, aclW, aclR),
		{pattern: "/v1/acl/token/self", method: "GET", path: "/v1/acl/token/self", least: "", wrong: `operator = "read"`, anon: allow, leastWant: allow, wrongWant: allow},
		chk("GET", "/v1/acl/token/{id}", "/v1/acl/token/00000000-0000-0000-0000-000000000002", "", aclR, `operator = "write"`),
		chk("PUT", "/v1/acl/token/{id}", "/v1/acl/token/"+ids["token"], `{"Description":"updated"}`, aclW, aclR),
		chk("GET", "/v1/acl/tokens", "/v1/acl/tokens", "", aclR, `operator = "read"`),
		chk("DELETE", "/v1/acl/token/{id}", "/v1/acl/token/"+ids["token"], "", aclW, aclR),
		chk("PUT", "/v1/acl/policy", "/v1/acl/policy", `{"Name":"matrix-p"}`, aclW, aclR),
		chk("GET", "/v1/acl/policy/{id}", "/v1/acl/policy/00000000-0000-0000-0000-000000000001", "", aclR, `operator = "write"`),
		chk("PUT", "/v1/acl/policy/{id}", "/v1/acl/policy/"+ids["policy"], `{"Name":"victim-p","Description":"x"}`, aclW, aclR),
		chk("GET", "/v1/acl/policy/name/{name}", "/v1/acl/policy/name/global-management", "", aclR, `operator = "write"`),
		chk("GET", "/v1/acl/policies", "/v1/acl/policies", "", aclR, `keyring = "write"`),
		chk("DELETE", "/v1/acl/policy/{id}", "/v1/acl/policy/"+ids["policy"], "", aclW, aclR),
		chk("PUT", "/v1/acl/role", "/v1/acl/role", `{"Name":"matrix-r"}`, aclW, aclR),
		chk("PUT", "/v1/acl/role/{id}", "/v1/acl/role/"+ids["role"], `{"Name":"victim-r","Description":"x"}`, aclW, aclR),
		chk("GET", "/v1/acl/role/{id}", "/v1/acl/role/"+ids["role"], "", aclR, `operator = "write"`),
		chk("GET", "/v1/acl/role/name/{name}", "/v1/acl/role/name/victim-r", "", aclR, `operator = "write"`),
		chk("GET", "/v1/acl/roles", "/v1/acl/roles", "", aclR, `operator = "write"`),
		chk("DELETE", "/v1/acl/role/{id}", "/v1/acl/role/"+ids["role"], "", aclW, aclR),

		chk("PUT", "/v1/agent/token/{kind}", "/v1/agent/token/agent", `{"Token":"x"}`, aclW, aclR),

		all("GET", "/v1/agent/version", "/v1/agent/version", ""),
		all("GET", "/v1/coordinate/datacenters", "/v1/coordinate/datacenters", ""),
		all("POST", "/v1/internal/acl/authorize", "/v1/internal/acl/authorize", `[{"Resource":"key","Segment":"app/x","Access":"write"}]`),
		chk("GET", "/v1/agent/host", "/v1/agent/host", "", `operator = "read"`, `keyring = "read"`),
		{pattern: "/v1/agent/monitor", method: "GET", path: "/v1/agent/monitor", least: `agent "s1" ` + r("read"),
			wrong: `agent "s2" ` + r("read"), anon: deny, leastWant: allow, wrongWant: deny, stream: true},
		chk("GET", "/v1/operator/autopilot/configuration", "/v1/operator/autopilot/configuration", "", `operator = "read"`, `keyring = "read"`),
		chk("PUT", "/v1/operator/autopilot/configuration", "/v1/operator/autopilot/configuration", `{"CleanupDeadServers": true}`, `operator = "write"`, `operator = "read"`),
		chk("GET", "/v1/operator/autopilot/health", "/v1/operator/autopilot/health", "", `operator = "read"`, `keyring = "read"`),
		chk("GET", "/v1/operator/autopilot/state", "/v1/operator/autopilot/state", "", `operator = "read"`, `keyring = "read"`),
		chk("PUT", "/v1/event/fire/{name...}", "/v1/event/fire/deploy", "", `event "deploy" `+r("write"), `event "deploy" `+r("read")),
		flt("/v1/event/list", "/v1/event/list", `event_prefix "" `+r("read"), `event "zz" `+r("read")),
		flt("/v1/coordinate/nodes", "/v1/coordinate/nodes", `node_prefix "" `+r("read"), `node "zz" `+r("read")),
		chk("GET", "/v1/coordinate/node/{node...}", "/v1/coordinate/node/s1", "", `node "s1" `+r("read"), `node "s2" `+r("read")),
		// Prepared queries live in KV: query rules and key rules on shoal/quer*.
		flt("/v1/query", "/v1/query", `query_prefix "" `+r("read")+"\n"+qKeys("read"), `query "zz" `+r("read")+"\n"+qKeys("read")),
		chk("POST", "/v1/query", "/v1/query", `{"Name":"q2","Service":{"Service":"web"}}`, `query "q2" `+r("write")+"\n"+qKeys("write"), `query "q2" `+r("read")+"\n"+qKeys("write")),
		// The anonymous token cannot read the query's key: the query is
		// not found (Consul answers 403 there).
		withAnon(hidden, flt("/v1/query/{id}", "/v1/query/"+ids["query"], `query "q1" `+r("read")+"\n"+qKeys("read"), `query "zz" `+r("read")+"\n"+qKeys("read"))),
		chk("PUT", "/v1/query/{id}", "/v1/query/"+ids["query"], `{"Name":"q1","Service":{"Service":"web"}}`, `query "q1" `+r("write")+"\n"+qKeys("write"), `query "q1" `+r("read")+"\n"+qKeys("write")),
		withAnon(hidden, flt("/v1/query/{id}/execute", "/v1/query/"+ids["query"]+"/execute", qKeys("read")+"\n"+`service "web" `+r("read")+"\n"+`node_prefix "" `+r("read"),
			qKeys("read")+"\n"+`service "web" `+r("read")+"\n"+`node "zz" `+r("read"))),
		chk("DELETE", "/v1/query/{id}", "/v1/query/"+ids["query"], "", `query_prefix "" `+r("write")+"\n"+qKeys("write"), `query "q1" `+r("write")+"\n"+qKeys("write")),

		// Last: a least-privilege leave makes the agent leave.
		chk("PUT", "/v1/agent/leave", "/v1/agent/leave", "", `agent "s1" `+r("write"), `agent "s1" `+r("read")),
	}
}

// TestACLRouteTokenMatrix sends every route of the router (agent.Routes)
// with no token, the anonymous token, a wrong-prefix token and a
// least-privilege token, to a server agent with ACLs on and
// default_policy deny, and checks each answer: 403, allowed, or 200
// filtered or not. A route without a case fails the test.
func TestACLRouteTokenMatrix(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 1, Configure: func(i int, c *config.Config) {
		c.ACL.Enabled = true
		c.ACL.Tokens.InitialManagement = mgmtSecret
	}})
	node := c.WaitForLeader(20 * time.Second)
	base := "http://" + node.HTTPAddr()
	cfg := api.DefaultNonPooledConfig()
	cfg.Address, cfg.Token = node.HTTPAddr(), mgmtSecret
	mgmt, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ids := matrixSetup(t, mgmt)
	cases := matrixCases(ids)

	// Every route and method of the router has a case.
	covered := map[string]bool{}
	for _, mc := range cases {
		covered[mc.method+" "+mc.pattern] = true
	}
	for _, rt := range agent.Routes() {
		for _, m := range rt.Methods {
			if !covered[m+" "+rt.Pattern] {
				t.Errorf("route %s %s has no case in the ACL matrix", m, rt.Pattern)
			}
		}
	}

	tokens := map[string]string{}
	tokenFor := func(rules string) string {
		if rules == "" {
			return "anonymous"
		}
		if s, ok := tokens[rules]; ok {
			return s
		}
		p, _, err := mgmt.ACL().PolicyCreate(&api.ACLPolicy{Name: fmt.Sprintf("m%d", len(tokens)), Rules: rules}, nil)
		if err != nil {
			t.Fatalf("policy %q: %v", rules, err)
		}
		tok, _, err := mgmt.ACL().TokenCreate(&api.ACLToken{Policies: []*api.ACLTokenPolicyLink{{ID: p.ID}}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		tokens[rules] = tok.SecretID
		return tok.SecretID
	}
	for _, mc := range cases {
		tokenFor(mc.least)
		tokenFor(mc.wrong)
	}

	results := map[outcome]int{}
	n := 0
	// Token-major, so that the least-privilege requests (which change
	// state: deletes, the final leave) run after every refusal was checked.
	for _, kind := range []string{"none", "anonymous", "wrong", "least"} {
		for i, mc := range cases {
			secret, want := "", mc.anon
			switch kind {
			case "anonymous":
				secret = "anonymous"
			case "wrong":
				secret, want = tokenFor(mc.wrong), mc.wrongWant
			case "least":
				secret, want = tokenFor(mc.least), mc.leastWant
			}
			code, hdr, body := matrixRequest(t, base, mc, secret, i%3)
			got := unfiltered
			switch {
			case code == http.StatusForbidden:
				got = deny
			case hdr.Get("X-Consul-Results-Filtered-By-ACLs") == "true" && (code == http.StatusOK || code == http.StatusNotFound):
				got = filtered // a KV listing filtered to nothing is a 404, as in Consul
			case code == http.StatusNotFound && want == hidden:
				got = hidden
			case code != http.StatusOK:
				got = allow
			}
			ok := got == want || (want == allow && got != deny)
			if !ok {
				t.Errorf("%s %s with %s token: got %s (%d %q), want %s", mc.method, mc.path, kind, got, code, trim(body), want)
			}
			results[got]++
			n++
		}
	}
	t.Logf("ACL matrix: %d routes x methods, %d cases x 4 tokens = %d requests: %d denied, %d filtered, %d allowed unfiltered, %d other allowed, %d hidden (404)",
		len(covered), len(cases), n, results[deny], results[filtered], results[unfiltered], results[allow], results[hidden])
}

func trim(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}

// matrixRequest sends one request, carrying secret in the header, as a
// bearer token or as ?token= (carrier 0, 1, 2); "" sends none.
func matrixRequest(t *testing.T, base string, mc matrixCase, secret string, carrier int) (int, http.Header, string) {
	t.Helper()
	u := base + mc.path
	if secret != "" && carrier == 2 {
		sep := "?"
		if strings.Contains(u, "?") {
			sep = "&"
		}
		u += sep + "token=" + url.QueryEscape(secret)
	}
	req, err := http.NewRequest(mc.method, u, strings.NewReader(mc.body))
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		switch carrier {
		case 0:
			req.Header.Set("X-Consul-Token", secret)
		case 1:
			req.Header.Set("Authorization", "Bearer "+secret)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", mc.method, mc.path, err)
	}
	defer resp.Body.Close()
	if mc.stream && resp.StatusCode == http.StatusOK {
		return resp.StatusCode, resp.Header, ""
	}
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// matrixSetup creates what the cases name and returns the IDs of the
// session, token, policy and role the cases update and delete.
func matrixSetup(t *testing.T, c *api.Client) map[string]string {
	t.Helper()
	ids := map[string]string{}
	// The leader creates the initial management token just after it is
	// elected: wait for it.
	testcluster.Eventually(t, 10*time.Second, func() error {
		_, _, err := c.ACL().TokenReadSelf(nil)
		return err
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := c.Catalog().Register(&api.CatalogRegistration{Node: "ext1", Address: "10.0.0.50",
		Service: &api.AgentService{ID: "web", Service: "web", Port: 80},
		Check:   &api.AgentCheck{CheckID: "web-check", Name: "web", ServiceID: "web", Status: api.HealthPassing}}, nil)
	must(err)
	must(c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "local-svc"}))
	must(c.Agent().ServiceRegister(&api.AgentServiceRegistration{Name: "dereg-svc"}))
	must(c.Agent().CheckRegister(&api.AgentCheckRegistration{ID: "ttl-check", Name: "ttl", AgentServiceCheck: api.AgentServiceCheck{TTL: "1h"}}))
	must(c.Agent().CheckRegister(&api.AgentCheckRegistration{ID: "dereg-check", Name: "dereg", AgentServiceCheck: api.AgentServiceCheck{TTL: "1h"}}))
	for _, k := range []string{"app/x", "other/y", "del/x", "tree/a", "tree/locked"} {
		_, err := c.KV().Put(&api.KVPair{Key: k, Value: []byte("v")}, nil)
		must(err)
	}
	_, err = c.KV().Put(&api.KVPair{Key: "shoal/services/svc-a", Value: []byte(`{"name":"svc-a","image":"nginx","replicas":0}`)}, nil)
	must(err)
	testcluster.Eventually(t, 10*time.Second, func() error {
		var id string
		id, _, err = c.Session().Create(&api.SessionEntry{Node: "s1"}, nil)
		ids["session"] = id
		return err
	})
	testcluster.Eventually(t, 10*time.Second, func() error {
		var sts []map[string]any
		if _, err := c.Raw().Query("/v1/shoal/services", &sts, nil); err != nil {
			return err
		}
		if len(sts) == 0 {
			return fmt.Errorf("scheduler has not seen svc-a yet")
		}
		return nil
	})
	p, _, err := c.ACL().PolicyCreate(&api.ACLPolicy{Name: "victim-p"}, nil)
	must(err)
	ids["policy"] = p.ID
	role, _, err := c.ACL().RoleCreate(&api.ACLRole{Name: "victim-r"}, nil)
	must(err)
	ids["role"] = role.ID
	tok, _, err := c.ACL().TokenCreate(&api.ACLToken{Description: "victim"}, nil)
	must(err)
	ids["token"] = tok.AccessorID
	qid, _, err := c.PreparedQuery().Create(&api.PreparedQueryDefinition{Name: "q1", Service: api.ServiceQuery{Service: "web"}}, nil)
	must(err)
	ids["query"] = qid
	_, _, err = c.Event().Fire(&api.UserEvent{Name: "setup-ev"}, nil)
	must(err)
	testcluster.Eventually(t, 10*time.Second, func() error {
		evs, _, err := c.Event().List("", nil)
		if err == nil && len(evs) == 0 {
			err = fmt.Errorf("no event yet")
		}
		return err
	})
	return ids
}
