package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
)

// raftRemovePeerCommand implements "shoal operator raft remove-peer".
type raftRemovePeerCommand struct {
	ui      cli.Ui
	flags   *flag.FlagSet
	http    httpFlags
	id      string
	address string
	help    string
}

// newRaftRemovePeerCommand returns a ready-to-run remove-peer command.
func newRaftRemovePeerCommand(ui cli.Ui) *raftRemovePeerCommand {
	c := &raftRemovePeerCommand{ui: ui}
	cmdFlags := newFlagSet("remove-peer")
	cmdFlags.StringVar(&c.id, "id", "",
		"Remove the Raft peer with this `id`. Exactly one of -id and -address is required.")
	cmdFlags.StringVar(&c.address, "address", "",
		"Remove the Raft peer with this `address` (IP:port of its Raft RPC listener). "+
			"Exactly one of -id and -address is required.")
	client := c.http.clientFlags()
	server := c.http.serverFlags()
	c.flags = newFlagSet("remove-peer")
	mergeFlags(c.flags, client, server, cmdFlags)
	c.help = helpText(`
Usage: shoal operator raft remove-peer [options]

  Removes a server from the Raft configuration. Only needed to clean up a
  server that failed and will never return and that "shoal force-leave"
  could not remove; removing a healthy server can cause an outage.`,
		flagSection{"HTTP API Options", client},
		flagSection{"Server Options", server},
		flagSection{"Command Options", cmdFlags})
	return c
}

// Synopsis implements cli.Command.
func (c *raftRemovePeerCommand) Synopsis() string {
	return "Remove a Shoal server from the Raft configuration"
}

// Help implements cli.Command.
func (c *raftRemovePeerCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *raftRemovePeerCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	if msg := checkArgCount(c.flags.NArg(), 0); msg != "" {
		return usageError(c.ui, msg, c.help)
	}
	switch {
	case c.id == "" && c.address == "":
		return usageError(c.ui, "Missing peer: specify -id or -address.", c.help)
	case c.id != "" && c.address != "":
		return usageError(c.ui, "Only one of -id and -address may be specified.", c.help)
	}

	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	opts := c.http.writeOptions()
	if c.id != "" {
		err = client.Operator().RaftRemovePeerByID(c.id, opts)
	} else {
		err = client.Operator().RaftRemovePeerByAddress(c.address, opts)
	}
	if err != nil {
		c.ui.Error(agentError(addr, "removing peer", err))
		return 1
	}
	if c.id != "" {
		c.ui.Output(fmt.Sprintf("Removed peer with id %q", c.id))
	} else {
		c.ui.Output(fmt.Sprintf("Removed peer with address %q", c.address))
	}
	return 0
}
