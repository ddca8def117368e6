package command

import (
	"strconv"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// raftListPeersCommand implements "shoal operator raft list-peers".
type raftListPeersCommand struct{ baseCommand }

// newRaftListPeersCommand returns a ready-to-run list-peers command.
func newRaftListPeersCommand(ui cli.Ui) *raftListPeersCommand {
	c := &raftListPeersCommand{}
	c.init(ui, "list-peers", "Display the current Raft peer configuration", `
Usage: shoal operator raft list-peers [options]

  Displays the current Raft peer configuration: every server with its
  node name, Raft ID, address, whether it is the leader, and whether it
  has a vote.`, clientServerHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *raftListPeersCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}

	client := c.client()
	if client == nil {
		return 1
	}
	conf, err := client.Operator().RaftGetConfiguration(c.http.queryOptions())
	if err != nil {
		return c.fail("getting peers", err)
	}
	c.ui.Output(formatRaftPeers(conf.Servers))
	return 0
}

// formatRaftPeers renders servers, in the order the leader reported them,
// as a Node/ID/Address/State/Voter table.
func formatRaftPeers(servers []*api.RaftServer) string {
	rows := make([][]string, 0, len(servers)+1)
	rows = append(rows, []string{"Node", "ID", "Address", "State", "Voter"})
	for _, s := range servers {
		state := "follower"
		if s.Leader {
			state = "leader"
		}
		rows = append(rows, []string{s.Node, s.ID, s.Address, state, strconv.FormatBool(s.Voter)})
	}
	return formatTable(rows)
}
