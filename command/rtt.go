package command

import (
	"fmt"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/serf/coordinate"
)

// rttCommand implements "shoal rtt": the estimated round-trip time
// between two nodes from their network coordinates.
type rttCommand struct {
	baseCommand
}

func newRTTCommand(ui cli.Ui) *rttCommand {
	c := &rttCommand{}
	c.init(ui, "rtt", "Estimates network round trip time between nodes", `
Usage: shoal rtt [options] node1 [node2]

  Estimates the network round trip time between two nodes using Shoal's
  network coordinates (Serf's Vivaldi). Without node2, the agent's own node
  is used.

  Example:

    $ shoal rtt node-a node-b`, clientHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *rttCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	nodes := c.flags.Args()
	if len(nodes) < 1 || len(nodes) > 2 {
		return c.usageError("One or two node names must be specified")
	}
	client := c.client()
	if client == nil {
		return 1
	}
	if len(nodes) == 1 {
		self, err := client.Agent().NodeName()
		if err != nil {
			return c.fail("getting the agent's node name", err)
		}
		nodes = append(nodes, self)
	}
	entries, _, err := client.Coordinate().Nodes(nil)
	if err != nil {
		return c.fail("getting coordinates", err)
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
