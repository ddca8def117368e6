package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/serf/coordinate"
)

// rttCommand implements "shoal rtt": the estimated round-trip time
// between two nodes from their network coordinates.
type rttCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	help  string
}

func newRTTCommand(ui cli.Ui) *rttCommand {
	c := &rttCommand{ui: ui}
	client := c.http.clientFlags()
	c.flags = newFlagSet("rtt")
	mergeFlags(c.flags, client)
	c.help = helpText(`
Usage: shoal rtt [options] node1 [node2]

  Estimates the network round trip time between two nodes using Shoal's
  network coordinates (Serf's Vivaldi). Without node2, the agent's own node
  is used.

  Example:

    $ shoal rtt node-a node-b`,
		flagSection{"HTTP API Options", client})
	return c
}

// Synopsis implements cli.Command.
func (c *rttCommand) Synopsis() string { return "Estimates network round trip time between nodes" }

// Help implements cli.Command.
func (c *rttCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *rttCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	nodes := c.flags.Args()
	if len(nodes) < 1 || len(nodes) > 2 {
		return usageError(c.ui, "One or two node names must be specified", c.help)
	}
	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	if len(nodes) == 1 {
		self, err := client.Agent().NodeName()
		if err != nil {
			c.ui.Error(agentError(addr, "getting the agent's node name", err))
			return 1
		}
		nodes = append(nodes, self)
	}
	entries, _, err := client.Coordinate().Nodes(nil)
	if err != nil {
		c.ui.Error(agentError(addr, "getting coordinates", err))
		return 1
	}
	coords := make([]*coordinate.Coordinate, 2)
	for _, e := range entries {
		for i, n := range nodes {
			if e.Node == n {
				coords[i] = e.Coord
			}
		}
	}
	for i, n := range nodes {
		if coords[i] == nil {
			c.ui.Error(fmt.Sprintf("Could not find a coordinate for node %q", n))
			return 1
		}
	}
	if !coords[0].IsCompatibleWith(coords[1]) {
		c.ui.Error("Coordinates are not compatible")
		return 1
	}
	rtt := coords[0].DistanceTo(coords[1])
	c.ui.Output(fmt.Sprintf("Estimated %s <-> %s rtt: %.3f ms (using LAN coordinates)",
		nodes[0], nodes[1], rtt.Seconds()*1000))
	return 0
}
