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
// what earlier ones wrote. "{{session}}" in Path is replaced by the ID the
// session/create step returned.
type exampleStep struct {
	Method, Path, Body string
	// SaveID names a variable set from the response's "ID" field.
	SaveID string
	// WaitFor, if set, repeats the request until its response contains it:
	// for what the agent does in the background (anti-entropy, the
	// scheduler) after an earlier step.
	WaitFor string
}

// exampleSteps are the requests of the API reference, run against a fresh
// single-server agent. They touch no host state: the service spec has zero
// replicas, so nothing is started.
var exampleSteps = []exampleStep{
	{Method: "GET", Path: "/v1/status/leader"},
	{Method: "GET", Path: "/v1/status/peers"},
	{Method: "GET", Path: "/v1/agent/members"},
	{Method: "GET", Path: "/v1/agent/self"},
	{Method: "GET", Path: "/v1/agent/metrics", WaitFor: `"Gauges":[{`},
	{Method: "PUT", Path: "/v1/agent/force-leave/ghost"},
	{Method: "GET", Path: "/v1/operator/raft/configuration"},
	{Method: "DELETE", Path: "/v1/operator/raft/peer"},

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
	{Method: "PUT", Path: "/v1/catalog/deregister", Body: `{"Node": "db-host"}`},
	{Method: "PUT", Path: "/v1/agent/check/deregister/disk"},
	{Method: "PUT", Path: "/v1/agent/service/deregister/web1"},
	{Method: "PUT", Path: "/v1/agent/reload"},

	{Method: "POST", Path: "/v1/shoal/validate", Body: `{"name": "Web", "image": "", "replicas": -1}`},
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
	{Method: "GET", Path: "/v1/snapshot"},
}
