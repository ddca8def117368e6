package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// forceLeaveCommand implements "shoal force-leave".
type forceLeaveCommand struct {
	baseCommand
	prune bool
}

// newForceLeaveCommand returns a ready-to-run force-leave command.
func newForceLeaveCommand(ui cli.Ui) *forceLeaveCommand {
	c := &forceLeaveCommand{}
	c.init(ui, "force-leave", "Forces a member of the cluster to enter the \"left\" state", `
Usage: shoal force-leave [options] name

  Forces a member of the cluster to enter the "left" state. Use this when
  a node failed and will not come back; otherwise Shoal keeps trying to
  reconnect to it. With -prune the node is removed from the member list
  entirely.`, clientHTTP, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.prune, "prune", false,
			"Remove the node from the member list entirely instead of marking it left.")
	})
	return c
}

// Run implements cli.Command.
func (c *forceLeaveCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	nodes := c.flags.Args()
	if len(nodes) != 1 {
		msg := "A node name must be specified to force leave."
		if len(nodes) > 1 {
			msg = checkArgCount(len(nodes), 1)
		}
		return c.usageError(msg)
	}
	node := nodes[0]

	client := c.client()
	if client == nil {
		return 1
	}
	if err := client.Agent().ForceLeaveOpts(node, api.ForceLeaveOpts{Prune: c.prune}); err != nil {
		return c.fail(fmt.Sprintf("force leaving %q", node), err)
	}
	return 0
}
