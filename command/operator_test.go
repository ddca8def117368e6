package command

import (
	"net/http"
	"testing"

	"github.com/hashicorp/cli"
)

// raftConfigJSON is a /v1/operator/raft/configuration response.
const raftConfigJSON = `{
  "Servers": [
    {"ID":"6d8a4b48-0b5e-4f6b-a3c1-1f1f1f1f1f11","Node":"s1","Address":"10.0.0.1:8300","Leader":true,"Voter":true,"ProtocolVersion":"3"},
    {"ID":"6d8a4b48-0b5e-4f6b-a3c1-1f1f1f1f1f22","Node":"s2","Address":"10.0.0.2:8300","Leader":false,"Voter":true,"ProtocolVersion":"3"},
    {"ID":"6d8a4b48-0b5e-4f6b-a3c1-1f1f1f1f1f33","Node":"s3","Address":"10.0.0.3:8300","Leader":false,"Voter":false,"ProtocolVersion":"3"}
  ],
  "Index": 12
}`

func TestRaftListPeers(t *testing.T) {
	const path = "/v1/operator/raft/configuration"
	table := "Node  ID                                    Address        State     Voter\n" +
		"s1    6d8a4b48-0b5e-4f6b-a3c1-1f1f1f1f1f11  10.0.0.1:8300  leader    true\n" +
		"s2    6d8a4b48-0b5e-4f6b-a3c1-1f1f1f1f1f22  10.0.0.2:8300  follower  true\n" +
		"s3    6d8a4b48-0b5e-4f6b-a3c1-1f1f1f1f1f33  10.0.0.3:8300  follower  false\n"
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
			name:     "peers in reported order",
			route:    route{body: raftConfigJSON},
			wantOut:  table,
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "stale and datacenter",
			args:     []string{"-stale", "-datacenter", "dc2"},
			route:    route{body: raftConfigJSON},
			wantOut:  table,
			wantReqs: []request{{Method: "GET", Path: path, Query: "dc=dc2&stale="}},
		},
		{
			name:     "token is sent",
			args:     []string{"-token", "secret"},
			route:    route{body: raftConfigJSON},
			wantOut:  table,
			wantReqs: []request{{Method: "GET", Path: path, Token: "secret"}},
		},
		{
			name:     "no leader",
			route:    route{status: http.StatusInternalServerError, body: "No cluster leader"},
			wantCode: 1,
			wantErr:  []string{"Error getting peers: Unexpected response code: 500 (No cluster leader)"},
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "positional argument is a usage error",
			args:     []string{"s1"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments", "Usage: shoal operator raft list-peers [options]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"GET " + path: tt.route})
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, newListPeers, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}

func TestRaftRemovePeer(t *testing.T) {
	const path = "/v1/operator/raft/peer"
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
			name:     "by id",
			args:     []string{"-id", "abc-123"},
			wantOut:  "Removed peer with id \"abc-123\"\n",
			wantReqs: []request{{Method: "DELETE", Path: path, Query: "id=abc-123"}},
		},
		{
			name:     "by address",
			args:     []string{"-address", "10.0.0.3:8300"},
			wantOut:  "Removed peer with address \"10.0.0.3:8300\"\n",
			wantReqs: []request{{Method: "DELETE", Path: path, Query: "address=10.0.0.3%3A8300"}},
		},
		{
			name:     "datacenter",
			args:     []string{"-datacenter", "dc2", "-id", "abc"},
			wantOut:  "Removed peer with id \"abc\"\n",
			wantReqs: []request{{Method: "DELETE", Path: path, Query: "dc=dc2&id=abc"}},
		},
		{
			name:     "unknown peer",
			args:     []string{"-id", "nope"},
			route:    route{status: http.StatusInternalServerError, body: `id "nope" was not found in the Raft configuration`},
			wantCode: 1,
			wantErr:  []string{`Error removing peer: Unexpected response code: 500 (id "nope" was not found in the Raft configuration)`},
			wantReqs: []request{{Method: "DELETE", Path: path, Query: "id=nope"}},
		},
		{
			name:     "neither id nor address",
			wantCode: 1,
			wantErr:  []string{"Missing peer: specify -id or -address.", "Usage: shoal operator raft remove-peer [options]"},
		},
		{
			name:     "both id and address",
			args:     []string{"-id", "a", "-address", "10.0.0.3:8300"},
			wantCode: 1,
			wantErr:  []string{"Only one of -id and -address may be specified."},
		},
		{
			name:     "positional argument is a usage error",
			args:     []string{"-id", "a", "extra"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments (expected 0, got 1)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"DELETE " + path: tt.route})
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, newRemovePeer, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}

func TestRaftTransferLeader(t *testing.T) {
	const path = "/v1/operator/raft/transfer-leader"
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
			name:     "to any voter",
			route:    route{body: `{"Success":true}`},
			wantOut:  "Success\n",
			wantReqs: []request{{Method: "POST", Path: path}},
		},
		{
			name:     "to a named voter",
			args:     []string{"-id", "abc-123"},
			route:    route{body: `{"Success":true}`},
			wantOut:  "Success\n",
			wantReqs: []request{{Method: "POST", Path: path, Query: "id=abc-123"}},
		},
		{
			name:     "refused",
			args:     []string{"-id", "nope"},
			route:    route{status: http.StatusBadRequest, body: `raft peer not found: id="nope"`},
			wantCode: 1,
			wantErr:  []string{`Error transferring leadership: Unexpected response code: 400 (raft peer not found: id="nope")`},
			wantReqs: []request{{Method: "POST", Path: path, Query: "id=nope"}},
		},
		{
			name:     "no success reported",
			route:    route{body: `{"Success":false}`},
			wantCode: 1,
			wantErr:  []string{"Error transferring leadership: the leader did not report success"},
			wantReqs: []request{{Method: "POST", Path: path}},
		},
		{
			name:     "positional argument is a usage error",
			args:     []string{"s2"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments (expected 0, got 1)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"POST " + path: tt.route})
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, func(ui cli.Ui) cli.Command { return newRaftTransferLeaderCommand(ui) }, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}

func TestParentCommandsAskForHelp(t *testing.T) {
	for name, c := range map[string]*helpOnlyCommand{
		"operator":      newOperatorCommand(),
		"operator raft": newOperatorRaftCommand(),
	} {
		t.Run(name, func(t *testing.T) {
			if code := c.Run(nil); code != cli.RunResultHelp {
				t.Errorf("Run = %d, want cli.RunResultHelp", code)
			}
		})
	}
}
