package command

import (
	"net/http"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
)

func newGetConfig(ui cli.Ui) cli.Command { return newAutopilotGetConfigCommand(ui) }
func newSetConfig(ui cli.Ui) cli.Command { return newAutopilotSetConfigCommand(ui) }
func newAPState(ui cli.Ui) cli.Command   { return newAutopilotStateCommand(ui) }

// TestAutopilotCommands runs get-config, set-config and state in turn
// against a real agent: set-config changes only the options given, and
// what it stores is what get-config shows.
func TestAutopilotCommands(t *testing.T) {
	addr := startLiveAgent(t).HTTPAddr()
	steps := []struct {
		name     string
		cmd      func(cli.Ui) cli.Command
		args     []string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"defaults", newGetConfig, nil, 0, []string{"CleanupDeadServers = true\n", "LastContactThreshold = 200ms\n", "MaxTrailingLogs = 250\n"}, ""},
		{"turn cleanup off", newSetConfig, []string{"-cleanup-dead-servers=false"}, 0, []string{"Configuration updated!"}, ""},
		{"cleanup is off", newGetConfig, nil, 0, []string{"CleanupDeadServers = false\n", "LastContactThreshold = 200ms\n"}, ""},
		{"change thresholds", newSetConfig, []string{"-last-contact-threshold=1s", "-max-trailing-logs=300", "-min-quorum=3"}, 0, []string{"Configuration updated!"}, ""},
		{"others kept", newGetConfig, nil, 0, []string{"CleanupDeadServers = false\n", "LastContactThreshold = 1s\n", "MaxTrailingLogs = 300\n", "MinQuorum = 3\n"}, ""},
		{"negative duration", newSetConfig, []string{"-last-contact-threshold=-1s"}, 1, nil, "Durations must not be negative."},
		{"bad flag value", newSetConfig, []string{"-cleanup-dead-servers=maybe"}, 1, nil, "invalid boolean value"},
		{"argument", newGetConfig, []string{"extra"}, 1, nil, "Too many arguments"},
		{"state", newAPState, nil, 0, []string{"Healthy:                      true\n", "Status:          leader\n"}, ""},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			got := runCommand(t, s.cmd, append([]string{"-http-addr", addr}, s.args...)...)
			if got.code != s.wantCode {
				t.Fatalf("exit %d, want %d (stdout %q, stderr %q)", got.code, s.wantCode, got.stdout, got.stderr)
			}
			for _, w := range s.wantOut {
				if !strings.Contains(got.stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, got.stdout)
				}
			}
			if !strings.Contains(got.stderr, s.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", s.wantErr, got.stderr)
			}
		})
	}
}

// TestAutopilotSetConfigLostRace: when the configuration changed between
// set-config's read and its check-and-set, it says so and exits 1.
func TestAutopilotSetConfigLostRace(t *testing.T) {
	const path = "/v1/operator/autopilot/configuration"
	agent := newFakeAgent(t, map[string]route{
		"GET " + path: {body: `{"CleanupDeadServers":true,"LastContactThreshold":"200ms","MaxTrailingLogs":250,"ModifyIndex":7}`},
		"PUT " + path: {status: http.StatusOK, body: "false"},
	})
	got := runCommand(t, newSetConfig, "-http-addr", agent.addr(), "-cleanup-dead-servers=false")
	assertResult(t, got, 1, "", "Configuration could not be atomically updated, please try again")
	assertRequests(t, agent, []request{{Method: "GET", Path: path}, {Method: "PUT", Path: path, Query: "cas=7"}})
}
