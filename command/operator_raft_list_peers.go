package command

import (
	"flag"
	"strconv"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// raftListPeersCommand implements "shoal operator raft list-peers".
type raftListPeersCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	help  string
}

// newRaftListPeersCommand returns a ready-to-run list-peers command.
func newRaftListPeersCommand(ui cli.Ui) *raftListPeersCommand {
	c := &raftListPeersCommand{ui: ui}
	client := c.http.clientFlags()
	server := c.http.serverFlags()
	c.flags = newFlagSet("list-peers")
	mergeFlags(c.flags, client, server)
	c.help = helpText(`
Usage: shoal operator raft list-peers [options]

  Displays the current Raft peer configuration: every server with its
  node name, Raft ID, address, whether it is the leader, and whether it
  has a vote.`,
		flagSection{"HTTP API Options", client},
		flagSection{"Server Options", server})
	return c
}

// Synopsis implements cli.Command.
func (c *raftListPeersCommand) Synopsis() string {
	return "Display the current Raft peer configuration"
}

// Help implements cli.Command.
func (c *raftListPeersCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *raftListPeersCommand) Run(args []string) int {
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
	conf, err := client.Operator().RaftGetConfiguration(c.http.queryOptions())
	if err != nil {
		c.ui.Error(agentError(addr, "getting peers", err))
		return 1
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
