package command

import (
	"net/http"
	"testing"
)

func TestInfo(t *testing.T) {
	const path = "/v1/agent/self"
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
			name: "stats sorted",
			route: route{body: `{
  "Config": {"Datacenter":"dc1","NodeName":"s1","Server":true},
  "Member": {"Name":"s1","Addr":"10.0.0.1","Port":8301,"Status":1},
  "Stats": {
    "serf_lan": {"members":"3","failed":"0","health_score":0},
    "agent": {"services":"2","checks":"1"},
    "raft": {"state":"Leader","last_log_index":"1048576","applied_index":1048576,"voter":true}
  }
}`},
			wantOut: "agent:\n" +
				"\tchecks = 1\n" +
				"\tservices = 2\n" +
				"raft:\n" +
				"\tapplied_index = 1048576\n" +
				"\tlast_log_index = 1048576\n" +
				"\tstate = Leader\n" +
				"\tvoter = true\n" +
				"serf_lan:\n" +
				"\tfailed = 0\n" +
				"\thealth_score = 0\n" +
				"\tmembers = 3\n",
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "missing stats",
			route:    route{body: `{"Config":{"NodeName":"s1"}}`},
			wantCode: 1,
			wantErr:  []string{"has no Stats section"},
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "malformed stats section",
			route:    route{body: `{"Stats":{"agent":"oops"}}`},
			wantCode: 1,
			wantErr:  []string{`Error querying agent: stats section "agent" is a string, not an object`},
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "agent error",
			route:    route{status: http.StatusInternalServerError, body: "boom"},
			wantCode: 1,
			wantErr:  []string{"Error querying agent: Unexpected response code: 500 (boom)"},
			wantReqs: []request{{Method: "GET", Path: path}},
		},
		{
			name:     "positional argument is a usage error",
			args:     []string{"extra"},
			wantCode: 1,
			wantErr:  []string{"Too many arguments (expected 0, got 1)", "Usage: shoal info [options]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{"GET " + path: tt.route})
			args := append([]string{"-http-addr", agent.addr()}, tt.args...)
			got := runCommand(t, newInfo, args...)
			assertResult(t, got, tt.wantCode, tt.wantOut, tt.wantErr...)
			assertRequests(t, agent, tt.wantReqs)
		})
	}
}
