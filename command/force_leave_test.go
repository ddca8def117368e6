package command

import (
	"net/http"
	"testing"
)

func TestForceLeave(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		route    route
		wantCode int
		wantErr  []string
		wantReqs []request
	}{
		{
			name:     "force leave",
			args:     []string{"n1"},
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/force-leave/n1"}},
		},
		{
			name:     "prune",
			args:     []string{"-prune", "n1"},
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/force-leave/n1", Query: "prune=1"}},
		},
		{
			name:     "unknown node",
			args:     []string{"n1"},
			route:    route{status: http.StatusInternalServerError, body: "agent: No node found with name 'n1'"},
			wantCode: 1,
			wantErr:  []string{`Error force leaving "n1": Unexpected response code: 500 (agent: No node found with name 'n1')`},
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/force-leave/n1"}},
		},
		{
			name:     "missing node is a usage error",
			wantCode: 1,
			wantErr:  []string{"A node name must be specified to force leave.", "Usage: shoal force-leave [options] name"},
		},
		{
			name:     "two nodes is a usage error",
			args:     []string{"n1", "n2"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments (expected 1, got 2)", "Usage: shoal force-leave"},
		},
		{
			name:     "flag after node is an argument, so a usage error",
			args:     []string{"n1", "-prune"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments (expected 1, got 2)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"PUT /v1/agent/force-leave/n1": tt.route})
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, newForceLeave, args...)
			assertResult(t, got, tt.wantCode, "", tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}
