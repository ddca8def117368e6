package command

import (
	"net/http"
	"testing"

	"github.com/hashicorp/consul/api"
)

// membersJSON is a /v1/agent/members response: two servers and a client,
// deliberately out of name order, one of them failed.
const membersJSON = `[
  {"Name":"s2","Addr":"10.0.0.2","Port":8301,"Tags":{"role":"server","dc":"dc1","build":"0.1.0"},"Status":1,
   "ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4},
  {"Name":"c1","Addr":"10.0.0.9","Port":8301,"Tags":{"role":"node","dc":"dc1"},"Status":4,
   "ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4},
  {"Name":"s1","Addr":"10.0.0.1","Port":8301,"Tags":{"role":"server","dc":"dc1"},"Status":1,
   "ProtocolMin":1,"ProtocolMax":5,"ProtocolCur":2,"DelegateMin":2,"DelegateMax":5,"DelegateCur":4}
]`

func TestMembers(t *testing.T) {
	membersReq := []request{{Method: "GET", Path: "/v1/agent/members"}}
	tests := []struct {
		name     string
		args     []string
		route    route
		wantCode int
		wantOut  string
		wantErr  []string
		wantReqs []request
	}{
		{
			name:  "table sorted by name",
			route: route{body: membersJSON},
			wantOut: "Node  Address        Status  Type    DC\n" +
				"c1    10.0.0.9:8301  failed  client  dc1\n" +
				"s1    10.0.0.1:8301  alive   server  dc1\n" +
				"s2    10.0.0.2:8301  alive   server  dc1\n",
			wantReqs: membersReq,
		},
		{
			name:  "detailed prints tags",
			args:  []string{"-detailed"},
			route: route{body: membersJSON},
			wantOut: "Node  Address        Status  Tags\n" +
				"c1    10.0.0.9:8301  failed  dc=dc1,role=node\n" +
				"s1    10.0.0.1:8301  alive   dc=dc1,role=server\n" +
				"s2    10.0.0.2:8301  alive   build=0.1.0,dc=dc1,role=server\n",
			wantReqs: membersReq,
		},
		{
			name:  "status filter",
			args:  []string{"-status", "fail"},
			route: route{body: membersJSON},
			wantOut: "Node  Address        Status  Type    DC\n" +
				"c1    10.0.0.9:8301  failed  client  dc1\n",
			wantReqs: membersReq,
		},
		{
			name:     "no member matches status exits 2",
			args:     []string{"-status", "^left$"},
			route:    route{body: membersJSON},
			wantCode: 2,
			wantReqs: membersReq,
		},
		{
			name:  "wan is accepted and ignored",
			args:  []string{"-wan"},
			route: route{body: `[{"Name":"s1","Addr":"10.0.0.1","Port":8301,"Tags":{"role":"server"},"Status":2}]`},
			wantOut: "Node  Address        Status   Type    DC\n" +
				"s1    10.0.0.1:8301  leaving  server\n",
			wantReqs: membersReq,
		},
		{
			name:     "agent error",
			route:    route{status: http.StatusInternalServerError, body: "serf not\nready"},
			wantCode: 1,
			wantErr:  []string{"Error retrieving members: Unexpected response code: 500 (serf not ready)\n"},
			wantReqs: membersReq,
		},
		{
			name:     "bad regexp is a usage error",
			args:     []string{"-status", "("},
			wantCode: 1,
			wantErr:  []string{`Invalid -status regexp "("`, "Usage: shoal members [options]"},
		},
		{
			name:     "unknown flag is a usage error",
			args:     []string{"-bogus"},
			wantCode: 1,
			wantErr:  []string{"flag provided but not defined: -bogus", "Usage: shoal members [options]"},
		},
		{
			name:     "positional argument is a usage error",
			args:     []string{"extra"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments (expected 0, got 1)", "Usage: shoal members [options]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"GET /v1/agent/members": tt.route})
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, newMembers, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}

func TestMemberStatus(t *testing.T) {
	tests := []struct {
		status int
		want   string
	}{
		{0, "none"}, {1, "alive"}, {2, "leaving"}, {3, "left"}, {4, "failed"}, {5, "unknown"}, {-1, "unknown"},
	}
	for _, tt := range tests {
		if got := memberStatus(tt.status); got != tt.want {
			t.Errorf("memberStatus(%d) = %q, want %q", tt.status, got, tt.want)
		}
	}
}

func TestMemberAddressAndType(t *testing.T) {
	tests := []struct {
		name     string
		member   api.AgentMember
		wantAddr string
		wantType string
	}{
		{
			name:     "ipv4 server",
			member:   api.AgentMember{Addr: "10.0.0.1", Port: 8301, Tags: map[string]string{"role": "server"}},
			wantAddr: "10.0.0.1:8301",
			wantType: "server",
		},
		{
			name:     "consul-tagged server",
			member:   api.AgentMember{Addr: "10.0.0.2", Port: 8301, Tags: map[string]string{"role": "consul"}},
			wantAddr: "10.0.0.2:8301",
			wantType: "server",
		},
		{
			name:     "ipv6 client",
			member:   api.AgentMember{Addr: "fe80::1", Port: 8301, Tags: map[string]string{"role": "node"}},
			wantAddr: "[fe80::1]:8301",
			wantType: "client",
		},
		{
			name:     "no tags",
			member:   api.AgentMember{Addr: "10.0.0.3", Port: 1},
			wantAddr: "10.0.0.3:1",
			wantType: "client",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := memberAddress(&tt.member); got != tt.wantAddr {
				t.Errorf("memberAddress = %q, want %q", got, tt.wantAddr)
			}
			if got := memberType(&tt.member); got != tt.wantType {
				t.Errorf("memberType = %q, want %q", got, tt.wantType)
			}
		})
	}
}

func TestFormatTags(t *testing.T) {
	tests := []struct {
		tags map[string]string
		want string
	}{
		{nil, ""},
		{map[string]string{"role": "server"}, "role=server"},
		{map[string]string{"vsn": "2", "dc": "dc1", "role": "server"}, "dc=dc1,role=server,vsn=2"},
	}
	for _, tt := range tests {
		if got := formatTags(tt.tags); got != tt.want {
			t.Errorf("formatTags(%v) = %q, want %q", tt.tags, got, tt.want)
		}
	}
}
