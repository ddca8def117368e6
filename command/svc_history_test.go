package command

import (
	"testing"

	"github.com/hashicorp/cli"
)

func newSvcHistory(ui cli.Ui) cli.Command {
	c, _ := svcHistoryCommands(ui)["svc history"]()
	return c
}

func newSvcRollback(ui cli.Ui) cli.Command {
	c, _ := svcHistoryCommands(ui)["svc rollback"]()
	return c
}

// TestSvcHistoryAndRollback runs both commands against a fake agent: the
// table, the default rollback target (the version before the deployed
// one), -version, and the agent's errors passed on with exit code 1.
func TestSvcHistoryAndRollback(t *testing.T) {
	versions := `[{"ID":3,"Version":"ccc","Time":"2025-01-02T03:04:05Z","Replicas":3,"Image":"nginx:1.28","Current":true},
		{"ID":2,"Version":"bbb","Time":"2025-01-02T03:00:00Z","Replicas":2,"Image":"nginx:1.27"},
		{"ID":1,"Version":"aaa","Time":"2025-01-01T00:00:00Z","Mode":"global","Image":"nginx:1.26"}]`
	tests := []struct {
		name      string
		cmd       func(cli.Ui) cli.Command
		args      []string
		wantCode  int
		wantOut   string
		wantErr   []string
		wantQuery string // of the rollback request, when one is made
	}{
		{name: "history", cmd: newSvcHistory, args: []string{"web"}, wantOut: "" +
			"ID  Version  Time                  Replicas  Image       Deployed\n" +
			"3   ccc      2025-01-02T03:04:05Z  3         nginx:1.28  *\n" +
			"2   bbb      2025-01-02T03:00:00Z  2         nginx:1.27\n" +
			"1   aaa      2025-01-01T00:00:00Z  global    nginx:1.26\n"},
		{name: "history of an unknown service", cmd: newSvcHistory, args: []string{"nope"}, wantCode: 1,
			wantErr: []string{`No versions recorded for service "nope"`}},
		{name: "rollback to the previous version", cmd: newSvcRollback, args: []string{"-detach", "web"},
			wantOut: "==> Rolled web back to version 2 (bbb)\n", wantQuery: "version=2"},
		{name: "rollback to a chosen version", cmd: newSvcRollback, args: []string{"-detach", "-version", "1", "web"},
			wantOut: "==> Rolled web back to version 2 (bbb)\n", wantQuery: "version=1"},
		{name: "negative version", cmd: newSvcRollback, args: []string{"-version", "-1", "web"}, wantCode: 1,
			wantErr: []string{"Invalid -version -1"}},
		{name: "agent refuses", cmd: newSvcRollback, args: []string{"-detach", "-version", "9", "other"}, wantCode: 1,
			wantErr: []string{"409", "changed since index"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			agent := newFakeAgent(t, map[string]route{
				"GET /v1/shoal/services/web/versions":   {200, versions},
				"PUT /v1/shoal/services/web/rollback":   {200, `{"ID":2,"Version":"bbb"}`},
				"PUT /v1/shoal/services/other/rollback": {409, "Spec of other changed since index 7"},
			})
			got := runCommand(t, tc.cmd, append([]string{"-http-addr", agent.addr()}, tc.args...)...)
			assertResult(t, got, tc.wantCode, tc.wantOut, tc.wantErr...)
			if tc.wantQuery != "" {
				var q string
				for _, r := range agent.requests() {
					if r.Method == "PUT" {
						q = r.Query
					}
				}
				if q != tc.wantQuery {
					t.Errorf("rollback query %q, want %q", q, tc.wantQuery)
				}
			}
		})
	}
}
