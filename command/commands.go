package command

import (
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/version"
)

// Commands returns the factories for every shoal sub-command that talks to
// an agent, keyed by their (space-separated) command path. Each factory
// builds a fresh command writing to ui.
//
// "agent" is not listed here: it lives elsewhere in this package and is
// passed to Run, which registers it next to these.
func Commands(ui cli.Ui) map[string]cli.CommandFactory {
	commands := map[string]cli.CommandFactory{
		"members":     func() (cli.Command, error) { return newMembersCommand(ui), nil },
		"join":        func() (cli.Command, error) { return newJoinCommand(ui), nil },
		"leave":       func() (cli.Command, error) { return newLeaveCommand(ui), nil },
		"force-leave": func() (cli.Command, error) { return newForceLeaveCommand(ui), nil },
		"info":        func() (cli.Command, error) { return newInfoCommand(ui), nil },
		"version":     func() (cli.Command, error) { return newVersionCommand(ui), nil },
		"monitor":     func() (cli.Command, error) { return newMonitorCommand(ui), nil },
		"event":       func() (cli.Command, error) { return newEventCommand(ui), nil },
		"rtt":         func() (cli.Command, error) { return newRTTCommand(ui), nil },

		"kv":        func() (cli.Command, error) { return newKVCommand(), nil },
		"kv get":    func() (cli.Command, error) { return newKVGetCommand(ui), nil },
		"kv put":    func() (cli.Command, error) { return newKVPutCommand(ui), nil },
		"kv delete": func() (cli.Command, error) { return newKVDeleteCommand(ui), nil },
		"kv export": func() (cli.Command, error) { return newKVExportCommand(ui), nil },
		"kv import": func() (cli.Command, error) { return newKVImportCommand(ui), nil },
		"lock":      func() (cli.Command, error) { return newLockCommand(ui), nil },
		"watch":     func() (cli.Command, error) { return newWatchCommand(ui), nil },

		"services":            func() (cli.Command, error) { return newServicesCommand(), nil },
		"services register":   func() (cli.Command, error) { return newServicesRegisterCommand(ui, false), nil },
		"services deregister": func() (cli.Command, error) { return newServicesRegisterCommand(ui, true), nil },
		"catalog":             func() (cli.Command, error) { return newCatalogCommand(), nil },
		"catalog datacenters": func() (cli.Command, error) { return newCatalogListCommand(ui, "datacenters"), nil },
		"catalog nodes":       func() (cli.Command, error) { return newCatalogListCommand(ui, "nodes"), nil },
		"catalog services":    func() (cli.Command, error) { return newCatalogListCommand(ui, "services"), nil },
		"maint":               func() (cli.Command, error) { return newMaintCommand(ui), nil },
		"reload":              func() (cli.Command, error) { return newReloadCommand(ui), nil },

		"snapshot":         func() (cli.Command, error) { return newSnapshotCommand(), nil },
		"snapshot save":    func() (cli.Command, error) { return newSnapshotSaveCommand(ui), nil },
		"snapshot restore": func() (cli.Command, error) { return newSnapshotRestoreCommand(ui), nil },
		"snapshot inspect": func() (cli.Command, error) { return newSnapshotInspectCommand(ui), nil },

		"operator":                      func() (cli.Command, error) { return newOperatorCommand(), nil },
		"operator raft":                 func() (cli.Command, error) { return newOperatorRaftCommand(), nil },
		"operator autopilot":            func() (cli.Command, error) { return newOperatorAutopilotCommand(), nil },
		"operator autopilot get-config": func() (cli.Command, error) { return newAutopilotGetConfigCommand(ui), nil },
		"operator autopilot set-config": func() (cli.Command, error) { return newAutopilotSetConfigCommand(ui), nil },
		"operator autopilot state":      func() (cli.Command, error) { return newAutopilotStateCommand(ui), nil },
		"operator raft list-peers":      func() (cli.Command, error) { return newRaftListPeersCommand(ui), nil },
		"operator raft remove-peer":     func() (cli.Command, error) { return newRaftRemovePeerCommand(ui), nil },
		"operator raft transfer-leader": func() (cli.Command, error) { return newRaftTransferLeaderCommand(ui), nil },
	}
	for _, group := range []map[string]cli.CommandFactory{svcCommands(ui), svcHistoryCommands(ui), overlayCommands(ui), securityCommands(ui), aclCommands(ui)} {
		for name, f := range group {
			commands[name] = f
		}
	}
	return commands
}

// Run runs the shoal CLI with args (os.Args without the program name) and
// returns the process exit code. Command output goes to stdout, errors to
// stderr, help and version text to stderr. If agentCmd is non-nil it is
// registered as the "agent" command.
func Run(args []string, agentCmd cli.CommandFactory) int {
	ui := &cli.BasicUi{Reader: os.Stdin, Writer: os.Stdout, ErrorWriter: os.Stderr}
	return run(args, agentCmd, ui, os.Stderr)
}

// run is Run with its UI and help destination injected for tests.
func run(args []string, agentCmd cli.CommandFactory, ui cli.Ui, helpWriter io.Writer) int {
	commands := Commands(ui)
	if agentCmd != nil {
		commands["agent"] = agentCmd
	}
	c := &cli.CLI{
		Name:        "shoal",
		Version:     version.String(),
		Args:        args,
		Commands:    commands,
		HelpFunc:    cli.BasicHelpFunc("shoal"),
		HelpWriter:  helpWriter,
		ErrorWriter: helpWriter,
	}
	code, err := c.Run()
	if err != nil {
		ui.Error(fmt.Sprintf("Error executing CLI: %v", err))
		return 1
	}
	return code
}
