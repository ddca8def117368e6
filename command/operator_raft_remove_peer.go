package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
)

// raftRemovePeerCommand implements "shoal operator raft remove-peer".
type raftRemovePeerCommand struct {
	baseCommand
	id      string
	address string
}

// newRaftRemovePeerCommand returns a ready-to-run remove-peer command.
func newRaftRemovePeerCommand(ui cli.Ui) *raftRemovePeerCommand {
	c := &raftRemovePeerCommand{}
	c.init(ui, "remove-peer", "Remove a Shoal server from the Raft configuration", `
Usage: shoal operator raft remove-peer [options]

  Removes a server from the Raft configuration. Only needed to clean up a
  server that failed and will never return and that "shoal force-leave"
  could not remove; removing a healthy server can cause an outage.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.id, "id", "",
			"Remove the Raft peer with this `id`. Exactly one of -id and -address is required.")
		fs.StringVar(&c.address, "address", "",
			"Remove the Raft peer with this `address` (IP:port of its Raft RPC listener). "+
				"Exactly one of -id and -address is required.")
	})
	return c
}

// Run implements cli.Command.
func (c *raftRemovePeerCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	switch {
	case c.id == "" && c.address == "":
		return c.usageError("Missing peer: specify -id or -address.")
	case c.id != "" && c.address != "":
		return c.usageError("Only one of -id and -address may be specified.")
	}

	client := c.client()
	if client == nil {
		return 1
	}
	opts := c.http.writeOptions()
	var err error
	if c.id != "" {
		err = client.Operator().RaftRemovePeerByID(c.id, opts)
	} else {
		err = client.Operator().RaftRemovePeerByAddress(c.address, opts)
	}
	if err != nil {
		return c.fail("removing peer", err)
	}
	if c.id != "" {
		c.ui.Output(fmt.Sprintf("Removed peer with id %q", c.id))
	} else {
		c.ui.Output(fmt.Sprintf("Removed peer with address %q", c.address))
	}
	return 0
}
