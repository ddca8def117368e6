package command

import "github.com/hashicorp/cli"

// reloadCommand implements "shoal reload".
type reloadCommand struct{ baseCommand }

func newReloadCommand(ui cli.Ui) *reloadCommand {
	c := &reloadCommand{}
	c.init(ui, "reload", "Triggers the agent to reload configuration files", `
Usage: shoal reload [options]

  Makes the agent re-read its configuration files and apply the services
  and checks they define, as SIGHUP does. Other settings need a restart.`, clientHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *reloadCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	client := c.client()
	if client == nil {
		return 1
	}
	if err := client.Agent().Reload(); err != nil {
		return c.fail("reloading", err)
	}
	c.ui.Output("Configuration reload triggered")
	return 0
}
