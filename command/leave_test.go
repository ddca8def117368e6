package command

import (
	"net/http"
	"testing"
)

func TestLeave(t *testing.T) {
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
			name:     "graceful leave",
			wantOut:  "Graceful leave complete\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/leave"}},
		},
		{
			name:     "agent refuses",
			route:    route{status: http.StatusForbidden, body: "Permission denied"},
			wantCode: 1,
			wantErr:  []string{"Error leaving cluster: Unexpected response code: 403 (Permission denied)"},
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/leave"}},
		},
		{
			name:     "positional argument is a usage error",
			args:     []string{"now"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments (expected 0, got 1)", "Usage: shoal leave [options]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"PUT /v1/agent/leave": tt.route})
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, newLeave, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}
