package command

import "github.com/hashicorp/cli"

// leaveCommand implements "shoal leave".
type leaveCommand struct{ baseCommand }

// newLeaveCommand returns a ready-to-run leave command.
func newLeaveCommand(ui cli.Ui) *leaveCommand {
	c := &leaveCommand{}
	c.init(ui, "leave", "Gracefully leaves the Shoal cluster and shuts down", `
Usage: shoal leave [options]

  Causes the agent to gracefully leave the Shoal cluster and shut down.`, clientHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *leaveCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	client := c.client()
	if client == nil {
		return 1
	}
	if err := client.Agent().Leave(); err != nil {
		return c.fail("leaving cluster", err)
	}
	c.ui.Output("Graceful leave complete")
	return 0
}
