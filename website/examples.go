package website

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
)

// examplesPath is the captured API examples file, relative to the module root.
const examplesPath = "website/examples/api.json"

// Example is one API request of the reference and the response a real
// agent gave it when the examples were last captured.
type Example struct {
	// Route is the route pattern the request matched, e.g. "/v1/kv/{key...}".
	Route string
	// Method and Path (with query) of the request; Body is sent as is.
	Method string
	Path   string
	Body   string `json:",omitempty"`
	// BodyFile, if set, names the file sent as the body instead (the
	// snapshot a GET /v1/snapshot example saved).
	BodyFile string `json:",omitempty"`
	// Status is the response status; Response its body, pretty-printed when
	// JSON and trimmed to responseLines lines.
	Status   int
	Response string
	// Shape is the JSON shape of the whole response (see jsonShape); empty
	// for a body that is not JSON.
	Shape string `json:",omitempty"`
}

// RouteFacts are what probing a real agent found out about one route.
type RouteFacts struct {
	// Blocking reports whether a GET with ?index= and ?wait= parks until the
	// data changes (a blocking query).
	Blocking bool
	// Consistency reports whether the route reads the ?stale and
	// ?consistent modes (it rejects the two together).
	Consistency bool
}

// Examples is the content of examples/api.json.
type Examples struct {
	Examples []Example
	// Routes holds the probed facts of every GET route, by pattern.
	Routes map[string]RouteFacts
}

// LoadExamples reads the captured examples; a missing file is no examples.
func LoadExamples(path string) (Examples, error) {
	var ex Examples
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return ex, nil
	}
	if err != nil {
		return ex, fmt.Errorf("website: %w", err)
	}
	if err := json.Unmarshal(b, &ex); err != nil {
		return ex, fmt.Errorf("website: %s: %w", path, err)
	}
	return ex, nil
}

// exampleStep is one request the capture sends, in order: later steps read
// what earlier ones wrote. "{{name}}" in Path or Body is replaced by the
// value an earlier step saved as name (SaveID).
type exampleStep struct {
	Method, Path, Body string
	// SaveID names a variable set from the response's Field ("ID" when
	// empty; a dotted path reads nested objects). The variable "token" is
	// sent as X-Consul-Token with every later request, and by the probe.
	SaveID, Field string
	// SaveBody keeps the raw response under a file name; BodyFile sends
	// a kept response as the body.
	SaveBody, BodyFile string
	// WaitFor, if set, repeats the request until its response contains it:
	// for what the agent does in the background (anti-entropy, the
	// scheduler) after an earlier step.
	WaitFor string
}

// Gossip keys of the capture agent (encrypt): published examples, not
// secrets of any cluster.
const (
	captureKey = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
	newGossip  = "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s="
)

// exampleSteps are the requests of the API reference, run against a fresh
// single-server agent with ACLs enabled (default deny) and gossip
// encryption on. The first step bootstraps the ACL system; every later
// request carries the management token it returned (the curl commands
// leave it out). They touch no host state: the service spec has zero
// replicas, so nothing is started.
var exampleSteps = []exampleStep{
	{Method: "PUT", Path: "/v1/acl/bootstrap", SaveID: "token", Field: "SecretID"},
	{Method: "PUT", Path: "/v1/agent/token/agent", Body: `{"Token": "{{token}}"}`},
	{Method: "GET", Path: "/v1/status/leader"},
	{Method: "GET", Path: "/v1/status/peers"},
	{Method: "GET", Path: "/v1/agent/members"},
	{Method: "GET", Path: "/v1/agent/self", SaveID: "serfport", Field: "Member.Port"},
	{Method: "GET", Path: "/v1/agent/version"},
	{Method: "GET", Path: "/v1/agent/host"},
	{Method: "GET", Path: "/v1/agent/metrics", WaitFor: `"Gauges":[{`},
	{Method: "PUT", Path: "/v1/agent/join/127.0.0.1:{{serfport}}"},
	{Method: "PUT", Path: "/v1/agent/force-leave/ghost"},
	{Method: "GET", Path: "/v1/operator/raft/configuration"},
	{Method: "DELETE", Path: "/v1/operator/raft/peer"},
	{Method: "POST", Path: "/v1/operator/raft/transfer-leader"},
	{Method: "PUT", Path: "/v1/operator/autopilot/configuration?cas=0", Body: `{"CleanupDeadServers": false, "LastContactThreshold": "200ms", "MaxTrailingLogs": 250, "MinQuorum": 3, "ServerStabilizationTime": "10s"}`},
	{Method: "GET", Path: "/v1/operator/autopilot/configuration"},
	{Method: "GET", Path: "/v1/operator/autopilot/health", WaitFor: `"Healthy":true`},
	{Method: "GET", Path: "/v1/operator/autopilot/state"},
	{Method: "GET", Path: "/v1/operator/keyring"},
	{Method: "POST", Path: "/v1/operator/keyring", Body: `{"Key": "` + newGossip + `"}`},
	{Method: "PUT", Path: "/v1/operator/keyring", Body: `{"Key": "` + newGossip + `"}`},
	{Method: "DELETE", Path: "/v1/operator/keyring", Body: `{"Key": "` + captureKey + `"}`},
	{Method: "GET", Path: "/v1/coordinate/datacenters"},
	{Method: "GET", Path: "/v1/coordinate/nodes", WaitFor: `"docs"`},
	{Method: "GET", Path: "/v1/coordinate/node/docs"},

	{Method: "PUT", Path: "/v1/acl/policy", Body: `{"Name": "app-kv-read", "Rules": "key_prefix \"app/\" { policy = \"read\" }"}`, SaveID: "policy"},
	{Method: "GET", Path: "/v1/acl/policy/{{policy}}"},
	{Method: "PUT", Path: "/v1/acl/policy/{{policy}}", Body: `{"Name": "app-kv-read", "Description": "read app/ keys", "Rules": "key_prefix \"app/\" { policy = \"read\" }"}`},
	{Method: "GET", Path: "/v1/acl/policy/name/app-kv-read"},
	{Method: "GET", Path: "/v1/acl/policies"},
	{Method: "PUT", Path: "/v1/acl/role", Body: `{"Name": "app-reader", "Policies": [{"Name": "app-kv-read"}]}`, SaveID: "role"},
	{Method: "GET", Path: "/v1/acl/role/{{role}}"},
	{Method: "PUT", Path: "/v1/acl/role/{{role}}", Body: `{"Name": "app-reader", "Description": "the app's read access", "Policies": [{"Name": "app-kv-read"}]}`},
	{Method: "GET", Path: "/v1/acl/role/name/app-reader"},
	{Method: "GET", Path: "/v1/acl/roles"},
	{Method: "PUT", Path: "/v1/acl/token", Body: `{"Description": "app", "Roles": [{"Name": "app-reader"}]}`, SaveID: "apptoken", Field: "AccessorID"},
	{Method: "GET", Path: "/v1/acl/token/self"},
	{Method: "GET", Path: "/v1/acl/token/{{apptoken}}"},
	{Method: "PUT", Path: "/v1/acl/token/{{apptoken}}", Body: `{"Description": "app, read-only", "Roles": [{"Name": "app-reader"}]}`},
	{Method: "GET", Path: "/v1/acl/tokens"},
	{Method: "DELETE", Path: "/v1/acl/token/{{apptoken}}"},
	{Method: "DELETE", Path: "/v1/acl/role/{{role}}"},
	{Method: "DELETE", Path: "/v1/acl/policy/{{policy}}"},

	{Method: "PUT", Path: "/v1/kv/app/config", Body: `{"port": 8080}`},
	{Method: "PUT", Path: "/v1/kv/app/flags?cas=0", Body: "on"},
	{Method: "GET", Path: "/v1/kv/app/config"},
	{Method: "GET", Path: "/v1/kv/app/config?raw"},
	{Method: "GET", Path: "/v1/kv/app?recurse"},
	{Method: "GET", Path: "/v1/kv/app?keys"},
	{Method: "DELETE", Path: "/v1/kv/app/flags"},
	{Method: "PUT", Path: "/v1/txn", Body: `[{"KV": {"Verb": "set", "Key": "app/mode", "Value": "Ymx1ZQ=="}}, {"KV": {"Verb": "get", "Key": "app/config"}}]`},
	{Method: "PUT", Path: "/v1/session/create", Body: `{"Name": "leader-lock", "TTL": "30s"}`, SaveID: "session"},
	{Method: "PUT", Path: "/v1/kv/app/leader?acquire={{session}}", Body: "s1"},
	{Method: "GET", Path: "/v1/session/info/{{session}}"},
	{Method: "GET", Path: "/v1/session/node/docs"},
	{Method: "GET", Path: "/v1/session/list"},
	{Method: "PUT", Path: "/v1/session/renew/{{session}}"},
	{Method: "PUT", Path: "/v1/session/destroy/{{session}}"},
	{Method: "PUT", Path: "/v1/event/fire/deploy", Body: "v2"},
	{Method: "GET", Path: "/v1/event/list?name=deploy", WaitFor: `"deploy"`},

	{Method: "PUT", Path: "/v1/agent/service/register", Body: `{"ID": "web1", "Name": "web", "Port": 8080, "Tags": ["v1"], "Check": {"TTL": "30s"}}`},
	{Method: "PUT", Path: "/v1/agent/check/register", Body: `{"ID": "disk", "Name": "disk space", "TTL": "1m"}`},
	{Method: "PUT", Path: "/v1/agent/check/pass/service:web1?note=ready"},
	{Method: "PUT", Path: "/v1/agent/check/warn/disk?note=80%25+full"},
	{Method: "PUT", Path: "/v1/agent/check/fail/disk?note=95%25+full"},
	{Method: "PUT", Path: "/v1/agent/check/update/disk", Body: `{"Status": "passing", "Output": "40% full"}`},
	{Method: "GET", Path: "/v1/agent/services"},
	{Method: "GET", Path: "/v1/agent/service/web1"},
	{Method: "GET", Path: "/v1/agent/checks"},
	{Method: "GET", Path: "/v1/agent/health/service/name/web"},
	{Method: "GET", Path: "/v1/agent/health/service/id/web1"},
	{Method: "PUT", Path: "/v1/agent/service/maintenance/web1?enable=true&reason=deploy"},
	{Method: "PUT", Path: "/v1/agent/service/maintenance/web1?enable=false"},
	{Method: "PUT", Path: "/v1/agent/maintenance?enable=false"},
	{Method: "PUT", Path: "/v1/catalog/register", Body: `{"Node": "db-host", "Address": "10.0.0.5", "Service": {"Service": "postgres", "Port": 5432}}`},
	{Method: "GET", Path: "/v1/catalog/datacenters"},
	{Method: "GET", Path: "/v1/catalog/nodes"},
	{Method: "GET", Path: "/v1/catalog/services", WaitFor: `"web"`},
	{Method: "GET", Path: "/v1/catalog/service/postgres"},
	{Method: "GET", Path: "/v1/catalog/node/db-host"},
	{Method: "GET", Path: "/v1/catalog/node-services/db-host"},
	{Method: "GET", Path: "/v1/health/service/web?passing", WaitFor: `"web1"`},
	{Method: "GET", Path: "/v1/health/checks/web", WaitFor: `"service:web1"`},
	{Method: "GET", Path: "/v1/health/node/docs"},
	{Method: "GET", Path: "/v1/health/state/passing", WaitFor: `"service:web1"`},
	{Method: "POST", Path: "/v1/query", Body: `{"Name": "web-nearby", "Service": {"Service": "web", "OnlyPassing": true}}`, SaveID: "query"},
	{Method: "GET", Path: "/v1/query"},
	{Method: "GET", Path: "/v1/query/{{query}}"},
	{Method: "PUT", Path: "/v1/query/{{query}}", Body: `{"Name": "web-nearby", "Service": {"Service": "web", "OnlyPassing": true, "Tags": ["v1"]}}`},
	{Method: "GET", Path: "/v1/query/{{query}}/execute", WaitFor: `"web1"`},
	{Method: "DELETE", Path: "/v1/query/{{query}}"},
	{Method: "PUT", Path: "/v1/catalog/deregister", Body: `{"Node": "db-host"}`},
	{Method: "PUT", Path: "/v1/agent/check/deregister/disk"},
	{Method: "PUT", Path: "/v1/agent/service/deregister/web1"},
	{Method: "PUT", Path: "/v1/agent/reload"},

	{Method: "POST", Path: "/v1/shoal/validate", Body: `{"name": "Web", "image": "", "replicas": -1}`},
	{Method: "PUT", Path: "/v1/shoal/validate", Body: `{"name": "web", "driver": "exec", "command": "/bin/sleep", "args": ["600"], "replicas": 2}`},
	{Method: "POST", Path: "/v1/internal/acl/authorize", Body: `[{"Resource": "key", "Segment": "app/config", "Access": "write"}, {"Resource": "operator", "Access": "read"}]`},
	{Method: "PUT", Path: "/v1/kv/shoal/services/sleeper", Body: `{"name": "sleeper", "driver": "exec", "command": "/bin/sleep", "args": ["600"], "replicas": 0}`},
	{Method: "GET", Path: "/v1/shoal/services", WaitFor: `"sleeper"`},
	{Method: "GET", Path: "/v1/shoal/services/sleeper", WaitFor: `"sleeper"`},
	{Method: "PUT", Path: "/v1/shoal/services/sleeper/rebalance"},
	{Method: "PUT", Path: "/v1/kv/shoal/services/sleeper", Body: `{"name": "sleeper", "driver": "exec", "command": "/bin/sleep", "args": ["900"], "replicas": 0}`},
	{Method: "GET", Path: "/v1/shoal/services/sleeper/versions", WaitFor: `"ID":2`},
	{Method: "PUT", Path: "/v1/shoal/services/sleeper/rollback?version=1"},
	{Method: "GET", Path: "/v1/shoal/allocs?service=sleeper"},
	{Method: "GET", Path: "/v1/shoal/allocs/none/logs"},
	{Method: "GET", Path: "/v1/shoal/overlay"},
	{Method: "GET", Path: "/v1/snapshot", SaveBody: "backup.snap"},
	{Method: "PUT", Path: "/v1/snapshot", BodyFile: "backup.snap"},
}

// finalSteps run after the routes were probed: they end the agent.
var finalSteps = []exampleStep{
	{Method: "PUT", Path: "/v1/agent/leave"},
}

// noExample are the routes the reference has no captured example of,
// and why. Every other route and method must have one
// (TestReferenceCoversTables).
var noExample = map[string]string{
	// A stream of the agent's log lines that lasts until the client goes
	// away: a captured response would be an arbitrary cut of it.
	"GET /v1/agent/monitor": "it streams the agent's log until the client disconnects: try `curl -N 'http://localhost:8500/v1/agent/monitor?loglevel=debug'`",
}
