package command

import (
	"fmt"

	"github.com/hashicorp/cli"
)

// joinCommand implements "shoal join".
type joinCommand struct{ baseCommand }

// newJoinCommand returns a ready-to-run join command.
func newJoinCommand(ui cli.Ui) *joinCommand {
	c := &joinCommand{}
	c.init(ui, "join", "Tell a Shoal agent to join the cluster", `
Usage: shoal join [options] address ...

  Tells a running Shoal agent to join the cluster by contacting the given
  gossip addresses of existing members. Exits 1 if no address could be
  joined.`, clientHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *joinCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	addrs := c.flags.Args()
	if len(addrs) == 0 {
		return c.usageError("At least one address to join must be specified.")
	}

	client := c.client()
	if client == nil {
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
			return c.fail("", err)
		default:
			c.ui.Error(agentError(c.addr, fmt.Sprintf("joining address %q", addr), err))
		}
	}
	if joined == 0 {
		c.ui.Error("Failed to join any nodes.")
		return 1
	}
	c.ui.Output(fmt.Sprintf("Successfully joined cluster by contacting %d nodes.", joined))
	return 0
}
