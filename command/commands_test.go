package command

import (
	"bytes"
	"flag"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/version"
)

func TestCommandsRegistry(t *testing.T) {
	want := []string{
		"acl", "acl bootstrap",
		"acl policy", "acl policy create", "acl policy delete", "acl policy list", "acl policy read", "acl policy update",
		"acl role", "acl role create", "acl role delete", "acl role list", "acl role read", "acl role update",
		"acl token", "acl token create", "acl token delete", "acl token list", "acl token read", "acl token update",
		"catalog", "catalog datacenters", "catalog nodes", "catalog services",
		"event", "force-leave", "info", "join", "keygen", "keyring",
		"kv", "kv delete", "kv export", "kv get", "kv import", "kv put",
		"leave", "lock", "maint", "members", "monitor",
		"operator", "operator autopilot", "operator autopilot get-config", "operator autopilot set-config",
		"operator autopilot state", "operator raft", "operator raft list-peers", "operator raft remove-peer", "operator raft transfer-leader",
		"overlay", "overlay ls", "reload", "rtt", "services", "services deregister", "services register",
		"snapshot", "snapshot inspect", "snapshot restore", "snapshot save",
		"svc", "svc create", "svc deploy", "svc history", "svc logs", "svc ls", "svc ps", "svc rebalance", "svc rm", "svc rollback", "svc scale", "svc update",
		"tls", "tls ca", "tls ca create", "tls cert", "tls cert create",
		"version", "watch",
	}
	cmds := Commands(cli.NewMockUi())
	var got []string
	for name := range cmds {
		got = append(got, name)
	}
	sort.Strings(got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Commands() keys = %v, want %v", got, want)
	}

	for name, factory := range cmds {
		t.Run(name, func(t *testing.T) {
			cmd, err := factory()
			if err != nil {
				t.Fatalf("factory: %v", err)
			}
			if cmd.Synopsis() == "" {
				t.Error("empty Synopsis")
			}
			help := cmd.Help()
			if !strings.HasPrefix(help, "Usage: shoal "+name) {
				t.Errorf("Help does not start with the usage line for %q:\n%s", name, help)
			}
			// Every flag the command parses must be documented, and
			// nothing else: the help is generated from the FlagSet.
			// Every command is on the one skeleton: a parent only
			// groups sub-commands, the rest embed baseCommand.
			if _, parent := cmd.(*helpOnlyCommand); parent {
				return
			}
			fs := commandFlags(cmd)
			if fs == nil {
				t.Fatalf("%T neither embeds baseCommand nor is a helpOnlyCommand", cmd)
			}
			documented := helpFlagNames(help)
			var parsed []string
			fs.VisitAll(func(f *flag.Flag) { parsed = append(parsed, f.Name) })
			sort.Strings(parsed)
			if strings.Join(parsed, ",") != strings.Join(documented, ",") {
				t.Errorf("help documents flags %v, command parses %v", documented, parsed)
			}
		})
	}
}

// flagSet gives the tests the FlagSet a baseCommand parses.
func (c *baseCommand) flagSet() *flag.FlagSet { return c.flags }

// commandFlags returns the FlagSet a command parses, or nil for a parent
// command (helpOnlyCommand), which parses none.
func commandFlags(cmd cli.Command) *flag.FlagSet {
	if c, ok := cmd.(interface{ flagSet() *flag.FlagSet }); ok {
		return c.flagSet()
	}
	return nil
}

// helpFlagNames extracts the sorted flag names from the "  -name" lines
// of a help text's "... Options:" sections (the prose above them may
// start a line with a flag too).
func helpFlagNames(help string) []string {
	var names []string
	inOptions := false
	for _, line := range strings.Split(help, "\n") {
		if strings.HasSuffix(line, " Options:") && !strings.HasPrefix(line, " ") {
			inOptions = true
		}
		if !inOptions || !strings.HasPrefix(line, "  -") {
			continue
		}
		name := strings.TrimPrefix(line, "  -")
		if i := strings.Index(name, "="); i >= 0 {
			name = name[:i]
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		agent    bool
		wantCode int
		wantOut  string // exact UI stdout
		wantHelp string // fragment of the help/version writer output
	}{
		{name: "version flag", args: []string{"-v"}, wantHelp: version.String() + "\n"},
		{name: "version command", args: []string{"version"}, wantOut: version.String() + "\nProtocol " + strconv.Itoa(version.ProtocolVersion) + "\n"},
		{name: "no command lists commands", wantCode: 127, wantHelp: "Usage: shoal [--version] [--help] <command> [<args>]"},
		{name: "unknown command", args: []string{"frobnicate"}, wantCode: 127, wantHelp: "members"},
		{name: "operator prints help", args: []string{"operator"}, wantCode: 1, wantHelp: "Usage: shoal operator <subcommand>"},
		{name: "operator raft lists subcommands", args: []string{"operator", "raft"}, wantCode: 1, wantHelp: "remove-peer"},
		{name: "command -h prints its help", args: []string{"members", "-h"}, wantHelp: "-detailed"},
		{name: "agent not registered by default", args: []string{"agent"}, wantCode: 127},
		{name: "agent registered", args: []string{"agent", "-dev"}, agent: true, wantCode: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearHTTPEnv(t)
			ui := cli.NewMockUi()
			var help bytes.Buffer
			var agentCmd cli.CommandFactory
			mock := &cli.MockCommand{SynopsisText: "Runs a Shoal agent"}
			if tt.agent {
				agentCmd = func() (cli.Command, error) { return mock, nil }
			}
			code := run(tt.args, agentCmd, ui, &help)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (help %q, stderr %q)", code, tt.wantCode, help.String(), ui.ErrorWriter.String())
			}
			if got := ui.OutputWriter.String(); got != tt.wantOut {
				t.Errorf("stdout = %q, want %q", got, tt.wantOut)
			}
			if !strings.Contains(help.String(), tt.wantHelp) {
				t.Errorf("help output = %q, want it to contain %q", help.String(), tt.wantHelp)
			}
			if tt.agent && (!mock.RunCalled || strings.Join(mock.RunArgs, " ") != "-dev") {
				t.Errorf("agent command called=%v args=%v, want called with [-dev]", mock.RunCalled, mock.RunArgs)
			}
		})
	}
}
