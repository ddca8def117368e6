package command

import (
	"net/http"
	"testing"
)

func TestJoin(t *testing.T) {
	routes := map[string]route{
		"PUT /v1/agent/join/10.0.0.1:8301": {body: ""},
		"PUT /v1/agent/join/10.0.0.2":      {body: ""},
		"PUT /v1/agent/join/10.0.0.66":     {status: http.StatusInternalServerError, body: "no route to host"},
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  []string
		wantReqs []request
	}{
		{
			name:     "one address",
			args:     []string{"10.0.0.1:8301"},
			wantOut:  "Successfully joined cluster by contacting 1 nodes.\n",
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/join/10.0.0.1:8301"}},
		},
		{
			name:    "partial success",
			args:    []string{"10.0.0.1:8301", "10.0.0.66", "10.0.0.2"},
			wantOut: "Successfully joined cluster by contacting 2 nodes.\n",
			wantErr: []string{`Error joining address "10.0.0.66": Unexpected response code: 500 (no route to host)`},
			wantReqs: []request{
				{Method: "PUT", Path: "/v1/agent/join/10.0.0.1:8301"},
				{Method: "PUT", Path: "/v1/agent/join/10.0.0.66"},
				{Method: "PUT", Path: "/v1/agent/join/10.0.0.2"},
			},
		},
		{
			name:     "nothing joined exits 1",
			args:     []string{"10.0.0.66"},
			wantCode: 1,
			wantErr:  []string{`Error joining address "10.0.0.66"`, "Failed to join any nodes."},
			wantReqs: []request{{Method: "PUT", Path: "/v1/agent/join/10.0.0.66"}},
		},
		{
			name:     "no address is a usage error",
			wantCode: 1,
			wantErr:  []string{"At least one address to join must be specified.", "Usage: shoal join [options] address ..."},
		},
		{
			name:     "unknown flag is a usage error",
			args:     []string{"-wan", "10.0.0.1"},
			wantCode: 1,
			wantErr:  []string{"flag provided but not defined: -wan", "Usage: shoal join"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, routes)
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, newJoin, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}
