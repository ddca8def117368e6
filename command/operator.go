package command

import (
	"strings"

	"github.com/hashicorp/cli"
)

// helpOnlyCommand is a parent command ("operator", "operator raft") that
// only groups sub-commands: running it prints its help, to which cli.CLI
// appends the list of sub-commands.
type helpOnlyCommand struct {
	synopsis string
	help     string
}

// newOperatorCommand returns the "shoal operator" parent command.
func newOperatorCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Provides cluster-level tools for Shoal operators",
		help: `
Usage: shoal operator <subcommand> [options]

  Provides cluster-level tools for Shoal operators, such as inspecting and
  repairing the Raft peer set. These commands can disrupt the cluster if
  misused; use them with care.`,
	}
}

// newOperatorRaftCommand returns the "shoal operator raft" parent command.
func newOperatorRaftCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Inspects and manipulates the Raft peer set",
		help: `
Usage: shoal operator raft <subcommand> [options]

  Inspects and manipulates the Raft configuration of the Shoal servers.

  List the current Raft peers:

      $ shoal operator raft list-peers

  Remove a stale peer:

      $ shoal operator raft remove-peer -id=<id>`,
	}
}

// Synopsis implements cli.Command.
func (c *helpOnlyCommand) Synopsis() string { return c.synopsis }

// Help implements cli.Command.
func (c *helpOnlyCommand) Help() string { return strings.TrimSpace(c.help) }

// Run implements cli.Command; it always asks cli.CLI to show the help.
func (c *helpOnlyCommand) Run([]string) int { return cli.RunResultHelp }
