package command

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/sched"
)

func newSvcCreate(ui cli.Ui) cli.Command { return newSpecEditCommand(ui, true) }
func newSvcUpdate(ui cli.Ui) cli.Command { return newSpecEditCommand(ui, false) }

// mustSpec parses a spec as svc deploy would.
func mustSpec(t *testing.T, js string) *sched.Spec {
	t.Helper()
	s, err := sched.ParseSpec([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSvcCreateWritesDeploySpec checks that Docker's flags write the spec
// "svc deploy" would store for the equivalent JSON.
func TestSvcCreateWritesDeploySpec(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // the equivalent spec for svc deploy
	}{
		{"the demo", []string{"-name", "web", "-replicas", "3", "-p", "5001:80", "nginx:1"},
			`{"name": "web", "image": "nginx:1", "replicas": 3, "ports": [{"name": "p80", "container": 80, "published": 5001, "mode": "ingress"}]}`},
		{"every flag", []string{"--name", "api", "--mode", "global", "-e", "A=1", "--env", "B=x=y", "--label", "team=core",
			"--constraint", "node.meta.zone==a", "--update-parallelism", "2", "--update-delay", "10s", "--update-failure-action", "rollback",
			"--limit-cpu", "0.5", "--limit-memory", "256M", "--mount", "type=bind,source=/srv,target=/data,readonly",
			"--mount", "type=volume,src=cache,dst=/cache", "--publish", "mode=host,published=8080,target=8080",
			"-p", "53/udp", "--restart-condition", "on-failure", "--restart-delay", "2s", "--restart-max-attempts", "4",
			"--network", "bridge", "--health-http", "/health", "--health-interval", "2s", "--pull", "always", "--registry-auth", "private", "--entrypoint", "/bin/api",
			"reg:5000/api:2", "-v", "--port", "9"},
			`{"name": "api", "image": "reg:5000/api:2", "command": "/bin/api", "args": ["-v", "--port", "9"], "mode": "global",
			  "env": {"A": "1", "B": "x=y"}, "labels": {"team": "core"}, "constraints": ["node.meta.zone==a"],
			  "update": {"parallelism": 2, "delay": "10s", "on_failure": "rollback"},
			  "resources": {"cpu": 500, "memory": 256},
			  "volumes": [{"source": "/srv", "target": "/data", "type": "host", "read_only": true}, {"source": "cache", "target": "/cache", "type": "volume"}],
			  "ports": [{"name": "p8080", "container": 8080, "published": 8080, "host": 8080, "mode": "host"}, {"name": "p53-udp", "container": 53, "protocol": "udp"}],
			  "restart": {"policy": "on-failure", "delay": "2s", "max_attempts": 4},
			  "check": {"http": "/health", "interval": "2s"},
			  "network": "bridge", "pull": "always", "registry_auth": "private"}`},
		{"memory in bytes and gigabytes", []string{"-name", "m", "-limit-memory", "1G", "img"},
			`{"name": "m", "image": "img", "resources": {"memory": 1024}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runCommand(t, newSvcCreate, append([]string{"-dry-run"}, tc.args...)...)
			if got.code != 0 {
				t.Fatalf("exit %d: %s", got.code, got.stderr)
			}
			have, want := mustSpec(t, got.stdout), mustSpec(t, tc.want)
			if !reflect.DeepEqual(have, want) {
				t.Errorf("spec\n%+v\nwant\n%+v\n(printed %s)", have, want, got.stdout)
			}
		})
	}
}

func TestSvcCreateErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no image", []string{"-name", "web"}, "takes an IMAGE"},
		{"no name", []string{"img"}, "-name is required"},
		{"bad publish", []string{"-name", "web", "-p", "80:http", "img"}, `-publish: publish "80:http": port "http"`},
		{"bad memory", []string{"-name", "web", "-limit-memory", "lots", "img"}, `-limit-memory: want a size`},
		{"invalid spec", []string{"-name", "web", "-mode", "batch", "img"}, `mode: unknown mode "batch"`},
		{"unknown mount key", []string{"-name", "web", "-mount", "kind=bind,source=/a,target=/b", "img"}, `unknown key "kind"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := runCommand(t, newSvcCreate, append([]string{"-dry-run"}, tc.args...)...)
			if got.code != 1 || !strings.Contains(got.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", got.code, got.stderr, tc.want)
			}
		})
	}
}

// kvAgent serves one KV key over the Consul KV API with check-and-set, as
// an agent does, and records the writes.
type kvAgent struct {
	mu     sync.Mutex
	value  []byte
	index  uint64
	writes []string // query strings of PUTs
}

func (a *kvAgent) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.URL.Path != "/v1/kv/"+sched.SpecPrefix+"web" {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodGet:
		if a.value == nil {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode([]map[string]any{{"Key": sched.SpecPrefix + "web", "Value": base64.StdEncoding.EncodeToString(a.value),
			"ModifyIndex": a.index, "CreateIndex": 1}})
	case http.MethodPut:
		body, _ := io.ReadAll(r.Body)
		a.writes = append(a.writes, r.URL.RawQuery)
		cas := r.URL.Query().Get("cas")
		if cas != "" && cas != map[bool]string{true: "0", false: jsonNum(a.index)}[a.value == nil] {
			_, _ = w.Write([]byte("false"))
			return
		}
		a.value, a.index = body, a.index+1
		_, _ = w.Write([]byte("true"))
	}
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// TestSvcUpdate checks that svc update edits the stored spec with the
// flags given, keeps the rest, writes it with a check-and-set, and that
// svc create refuses to overwrite a service.
func TestSvcUpdate(t *testing.T) {
	agent := &kvAgent{index: 7, value: []byte(`{"name": "web", "image": "nginx:1", "replicas": 3, "env": {"A": "1", "B": "2"},
		"ports": [{"name": "p80", "container": 80, "published": 5001}], "constraints": ["node.meta.zone==a"]}`)}
	srv := httptest.NewServer(agent)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	got := runCommand(t, newSvcUpdate, "-detach", "-image", "nginx:2", "-env-rm", "A", "-env", "C=3", "-replicas", "5",
		"-publish-rm", "80", "-p", "5002:8080", "-constraint-rm", "node.meta.zone==a", "-http-addr", addr, "web")
	if got.code != 0 {
		t.Fatalf("exit %d: %s", got.code, got.stderr)
	}
	want := mustSpec(t, `{"name": "web", "image": "nginx:2", "replicas": 5, "env": {"B": "2", "C": "3"},
		"ports": [{"name": "p8080", "container": 8080, "published": 5002}]}`)
	if have := mustSpec(t, string(agent.value)); !reflect.DeepEqual(have, want) {
		t.Errorf("stored\n%+v\nwant\n%+v", have, want)
	}
	if len(agent.writes) != 1 || agent.writes[0] != "cas=7" {
		t.Errorf("writes %q, want one with cas=7", agent.writes)
	}
	if !strings.Contains(got.stdout, "==> Updated web version "+want.Version()) {
		t.Errorf("stdout %q", got.stdout)
	}

	got = runCommand(t, newSvcCreate, "-detach", "-name", "web", "-http-addr", addr, "nginx:1")
	if got.code != 1 || !strings.Contains(got.stderr, "Service web exists") {
		t.Errorf("create over an existing service: exit %d, stderr %q", got.code, got.stderr)
	}
	if have := mustSpec(t, string(agent.value)); have.Image != "nginx:2" {
		t.Errorf("create overwrote the spec: %+v", have)
	}
	got = runCommand(t, newSvcUpdate, "-detach", "-replicas", "1", "-http-addr", addr, "nope")
	if got.code != 1 || !strings.Contains(got.stderr, "No such service: nope") {
		t.Errorf("update of a missing service: exit %d, stderr %q", got.code, got.stderr)
	}
}
