package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
)

// joinCommand implements "shoal join".
type joinCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	help  string
}

// newJoinCommand returns a ready-to-run join command.
func newJoinCommand(ui cli.Ui) *joinCommand {
	c := &joinCommand{ui: ui}
	client := c.http.clientFlags()
	c.flags = newFlagSet("join")
	mergeFlags(c.flags, client)
	c.help = helpText(`
Usage: shoal join [options] address ...

  Tells a running Shoal agent to join the cluster by contacting the given
  gossip addresses of existing members. Exits 1 if no address could be
  joined.`,
		flagSection{"HTTP API Options", client})
	return c
}

// Synopsis implements cli.Command.
func (c *joinCommand) Synopsis() string { return "Tell a Shoal agent to join the cluster" }

// Help implements cli.Command.
func (c *joinCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *joinCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	addrs := c.flags.Args()
	if len(addrs) == 0 {
		return usageError(c.ui, "At least one address to join must be specified.", c.help)
	}

	client, agentAddr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	joined := 0
	for _, addr := range addrs {
		err := client.Agent().Join(addr, false)
		switch {
		case err == nil:
			joined++
		case isConnectError(err):
			// The agent itself is unreachable: no point trying the rest.
			c.ui.Error(agentError(agentAddr, "", err))
			return 1
		default:
			c.ui.Error(agentError(agentAddr, fmt.Sprintf("joining address %q", addr), err))
		}
	}
	if joined == 0 {
		c.ui.Error("Failed to join any nodes.")
		return 1
	}
	c.ui.Output(fmt.Sprintf("Successfully joined cluster by contacting %d nodes.", joined))
	return 0
}
