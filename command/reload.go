package command

import (
	"flag"

	"github.com/hashicorp/cli"
)

// reloadCommand implements "shoal reload".
type reloadCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	help  string
}

func newReloadCommand(ui cli.Ui) *reloadCommand {
	c := &reloadCommand{ui: ui}
	client := c.http.clientFlags()
	c.flags = newFlagSet("reload")
	mergeFlags(c.flags, client)
	c.help = helpText(`
Usage: shoal reload [options]

  Makes the agent re-read its configuration files and apply the services
  and checks they define, as SIGHUP does. Other settings need a restart.`,
		flagSection{"HTTP API Options", client})
	return c
}

// Synopsis implements cli.Command.
func (c *reloadCommand) Synopsis() string { return "Triggers the agent to reload configuration files" }

// Help implements cli.Command.
func (c *reloadCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *reloadCommand) Run(args []string) int {
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
	if err := client.Agent().Reload(); err != nil {
		c.ui.Error(agentError(addr, "reloading", err))
		return 1
	}
	c.ui.Output("Configuration reload triggered")
	return 0
}
