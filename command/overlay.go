package command

import (
	"sort"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// overlayCommands returns the overlay sub-commands.
func overlayCommands(ui cli.Ui) map[string]cli.CommandFactory {
	return map[string]cli.CommandFactory{
		"overlay": func() (cli.Command, error) {
			return &helpOnlyCommand{synopsis: "Inspects the overlay network", help: `Usage: shoal overlay <subcommand>

  The VXLAN overlay gives every node a subnet of the cluster CIDR and
  containers addresses that every node routes to.

  Subcommands: ls.`}, nil
		},
		"overlay ls": func() (cli.Command, error) {
			return newSvcCommand(ui, "ls", `
Usage: shoal overlay ls [options]

  Lists each node's overlay lease: subnet, VTEP (underlay) address, VXLAN
  MAC, and whether the node is alive (peers route to it only then).`,
				"Lists overlay subnet leases", 0, nil, runOverlayLs), nil
		},
	}
}

type overlayLease struct {
	Node, Subnet, VTEP, MAC, State string
}

func runOverlayLs(c *svcCommand, client *api.Client, addr string, args []string) int {
	var out []overlayLease
	if _, err := client.Raw().Query("/v1/shoal/overlay", &out, nil); err != nil {
		return c.fail("listing overlay leases", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node < out[j].Node })
	rows := [][]string{{"Node", "Subnet", "VTEP", "MAC", "State"}}
	for _, l := range out {
		rows = append(rows, []string{l.Node, l.Subnet, l.VTEP, l.MAC, l.State})
	}
	c.ui.Output(formatTable(rows))
	return 0
}
