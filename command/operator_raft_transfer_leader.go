package command

import (
	"errors"
	"flag"

	"github.com/hashicorp/cli"
)

// raftTransferLeaderCommand implements "shoal operator raft
// transfer-leader" (Consul's, from 1.15).
type raftTransferLeaderCommand struct {
	baseCommand
	id string
}

// newRaftTransferLeaderCommand returns a ready-to-run transfer-leader command.
func newRaftTransferLeaderCommand(ui cli.Ui) *raftTransferLeaderCommand {
	c := &raftTransferLeaderCommand{}
	c.init(ui, "transfer-leader", "Transfer Raft leadership to another server", `
Usage: shoal operator raft transfer-leader [options]

  Asks the leader to hand its leadership to another voter: the one named
  by -id, or else the most up-to-date one. It returns once the leader has
  stepped down for it. Use it before taking the leader down for
  maintenance, so that the cluster does not wait for an election timeout.
  Needs operator:write when ACLs are on.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.id, "id", "",
			"Hand the leadership to the voter with this `id` (as \"shoal operator raft list-peers\" shows it). "+
				"Default: the most up-to-date other voter.")
	})
	return c
}

// Run implements cli.Command.
func (c *raftTransferLeaderCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	client := c.client()
	if client == nil {
		return 1
	}
	res, err := client.Operator().RaftLeaderTransfer(c.id, c.http.queryOptions())
	if err == nil && !res.Success {
		err = errors.New("the leader did not report success")
	}
	if err != nil {
		return c.fail("transferring leadership", err)
	}
	c.ui.Output("Success")
	return 0
}
