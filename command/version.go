package command

import (
	"fmt"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/version"
)

// versionCommand implements "shoal version".
type versionCommand struct{ baseCommand }

// newVersionCommand returns a ready-to-run version command.
func newVersionCommand(ui cli.Ui) *versionCommand {
	c := &versionCommand{}
	c.init(ui, "version", "Prints the Shoal version", `
Usage: shoal version

  Prints the Shoal version and the cluster protocol version it speaks.`, noHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *versionCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	c.ui.Output(version.String())
	c.ui.Output(fmt.Sprintf("Protocol %d", version.ProtocolVersion))
	return 0
}
