package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// forceLeaveCommand implements "shoal force-leave".
type forceLeaveCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	prune bool
	help  string
}

// newForceLeaveCommand returns a ready-to-run force-leave command.
func newForceLeaveCommand(ui cli.Ui) *forceLeaveCommand {
	c := &forceLeaveCommand{ui: ui}
	cmdFlags := newFlagSet("force-leave")
	cmdFlags.BoolVar(&c.prune, "prune", false,
		"Remove the node from the member list entirely instead of marking it left.")
	client := c.http.clientFlags()
	c.flags = newFlagSet("force-leave")
	mergeFlags(c.flags, client, cmdFlags)
	c.help = helpText(`
Usage: shoal force-leave [options] name

  Forces a member of the cluster to enter the "left" state. Use this when
  a node failed and will not come back; otherwise Shoal keeps trying to
  reconnect to it. With -prune the node is removed from the member list
  entirely.`,
		flagSection{"HTTP API Options", client},
		flagSection{"Command Options", cmdFlags})
	return c
}

// Synopsis implements cli.Command.
func (c *forceLeaveCommand) Synopsis() string {
	return "Forces a member of the cluster to enter the \"left\" state"
}

// Help implements cli.Command.
func (c *forceLeaveCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *forceLeaveCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	nodes := c.flags.Args()
	if len(nodes) != 1 {
		msg := "A node name must be specified to force leave."
		if len(nodes) > 1 {
			msg = checkArgCount(len(nodes), 1)
		}
		return usageError(c.ui, msg, c.help)
	}
	node := nodes[0]

	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	if err := client.Agent().ForceLeaveOpts(node, api.ForceLeaveOpts{Prune: c.prune}); err != nil {
		c.ui.Error(agentError(addr, fmt.Sprintf("force leaving %q", node), err))
		return 1
	}
	return 0
}
