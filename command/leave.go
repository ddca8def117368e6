package command

import (
	"flag"

	"github.com/hashicorp/cli"
)

// leaveCommand implements "shoal leave".
type leaveCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	help  string
}

// newLeaveCommand returns a ready-to-run leave command.
func newLeaveCommand(ui cli.Ui) *leaveCommand {
	c := &leaveCommand{ui: ui}
	client := c.http.clientFlags()
	c.flags = newFlagSet("leave")
	mergeFlags(c.flags, client)
	c.help = helpText(`
Usage: shoal leave [options]

  Causes the agent to gracefully leave the Shoal cluster and shut down.`,
		flagSection{"HTTP API Options", client})
	return c
}

// Synopsis implements cli.Command.
func (c *leaveCommand) Synopsis() string { return "Gracefully leaves the Shoal cluster and shuts down" }

// Help implements cli.Command.
func (c *leaveCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *leaveCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	if msg := checkArgCount(c.flags.NArg(), 0); msg != "" {
		return usageError(c.ui, msg, c.help)
	}

	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	if err := client.Agent().Leave(); err != nil {
		c.ui.Error(agentError(addr, "leaving cluster", err))
		return 1
	}
	c.ui.Output("Graceful leave complete")
	return 0
}
