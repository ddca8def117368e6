package command

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/cli"
)

func TestCatalogCommands(t *testing.T) {
	routes := map[string]route{
		"GET /v1/catalog/datacenters": {body: `["dc1"]`},
		"GET /v1/catalog/services":    {body: `{"consul":[],"web":["v2","v1"]}`},
		"GET /v1/catalog/nodes": {body: `[{"ID":"aaaaaaaa-bbbb","Node":"n2","Address":"10.0.0.2","Datacenter":"dc1"},` +
			`{"ID":"cccccccc-dddd","Node":"n1","Address":"10.0.0.1","Datacenter":"dc1"}]`},
		"GET /v1/catalog/service/web": {body: `[{"ID":"cccccccc-dddd","Node":"n1","Address":"10.0.0.1","Datacenter":"dc1","ServiceID":"web"}]`},
	}
	tests := []struct {
		name     string
		what     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  []string
	}{
		{name: "datacenters", what: "datacenters", wantOut: "dc1\n"},
		{name: "services", what: "services", wantOut: "consul\nweb\n"},
		{name: "services with tags", what: "services", args: []string{"-tags"}, wantOut: "consul\nweb     v1,v2\n"},
		{name: "nodes", what: "nodes", wantOut: "Node  ID        Address   DC\nn1    cccccccc  10.0.0.1  dc1\nn2    aaaaaaaa  10.0.0.2  dc1\n"},
		{name: "nodes of a service", what: "nodes", args: []string{"-service", "web"},
			wantOut: "Node  ID        Address   DC\nn1    cccccccc  10.0.0.1  dc1\n"},
		{name: "bad node-meta", what: "nodes", args: []string{"-node-meta", "x"}, wantCode: 1, wantErr: []string{"Invalid -node-meta"}},
		{name: "extra argument", what: "services", args: []string{"x"}, wantCode: 1, wantErr: []string{"Too many arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, routes)
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, func(ui cli.Ui) cli.Command { return newCatalogListCommand(ui, tt.what) }, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
		})
	}
}

func TestServicesMaintReloadCommands(t *testing.T) {
	dir := t.TempDir()
	hclFile := filepath.Join(dir, "web.hcl")
	if err := os.WriteFile(hclFile, []byte("service {\n  name = \"web\"\n  port = 80\n  check {\n    ttl = \"10s\"\n  }\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	jsonFile := filepath.Join(dir, "db.json")
	if err := os.WriteFile(jsonFile, []byte(`{"services":[{"name":"db","id":"db1"},{"name":"cache"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	routes := map[string]route{
		"PUT /v1/agent/service/register":        {},
		"PUT /v1/agent/service/deregister/db1":  {},
		"PUT /v1/agent/service/deregister/web":  {},
		"PUT /v1/agent/service/deregister/nope": {status: 404, body: `Unknown service ID "nope"`},
		"PUT /v1/agent/maintenance":             {},
		"PUT /v1/agent/service/maintenance/web": {},
		"PUT /v1/agent/reload":                  {},
	}
	tests := []struct {
		name     string
		newCmd   func(cli.Ui) cli.Command
		args     []string
		wantCode int
		wantOut  string
		wantErr  []string
		wantReqs []request
	}{
		{name: "register HCL file", newCmd: newServicesRegister, args: []string{hclFile}, wantOut: "Registered service: web\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/service/register"}}},
		{name: "register JSON services", newCmd: newServicesRegister, args: []string{jsonFile},
			wantOut:  "Registered service: db\nRegistered service: cache\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/service/register"}, {Method: "PUT", Path: "/v1/agent/service/register"}}},
		{name: "register from flags", newCmd: newServicesRegister, args: []string{"-name", "api", "-port", "9", "-tag", "a", "-meta", "k=v"},
			wantOut: "Registered service: api\n", wantReqs: []request{{Method: "PUT", Path: "/v1/agent/service/register"}}},
		{name: "register without anything", newCmd: newServicesRegister, wantCode: 1, wantErr: []string{"Service definition files or flags"}},
		{name: "deregister by id", newCmd: newServicesDeregister, args: []string{"-id", "db1"}, wantOut: "Deregistered service: db1\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/service/deregister/db1"}}},
		{name: "deregister by file", newCmd: newServicesDeregister, args: []string{hclFile}, wantOut: "Deregistered service: web\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/service/deregister/web"}}},
		{name: "deregister unknown", newCmd: newServicesDeregister, args: []string{"-id", "nope"}, wantCode: 1,
			wantErr: []string{"Error deregistering service nope"}, wantReqs: []request{{Method: "PUT", Path: "/v1/agent/service/deregister/nope"}}},
		{name: "node maintenance", newCmd: newMaint, args: []string{"-enable", "-reason", "upgrade"}, wantOut: "Node maintenance is now enabled\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/maintenance", Query: "enable=true&reason=upgrade"}}},
		{name: "service maintenance off", newCmd: newMaint, args: []string{"-disable", "-service", "web"},
			wantOut:  "Service maintenance is now disabled for \"web\"\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/service/maintenance/web", Query: "enable=false"}}},
		{name: "maint enable and disable", newCmd: newMaint, args: []string{"-enable", "-disable"}, wantCode: 1,
			wantErr: []string{"Only one of -enable or -disable"}},
		{name: "reload", newCmd: newReload, wantOut: "Configuration reload triggered\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/reload"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, routes)
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, tt.newCmd, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}

func newServicesRegister(ui cli.Ui) cli.Command   { return newServicesRegisterCommand(ui, false) }
func newServicesDeregister(ui cli.Ui) cli.Command { return newServicesRegisterCommand(ui, true) }
func newMaint(ui cli.Ui) cli.Command              { return newMaintCommand(ui) }
func newReload(ui cli.Ui) cli.Command             { return newReloadCommand(ui) }
