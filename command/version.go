package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/version"
)

// versionCommand implements "shoal version".
type versionCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	help  string
}

// newVersionCommand returns a ready-to-run version command.
func newVersionCommand(ui cli.Ui) *versionCommand {
	c := &versionCommand{ui: ui, flags: newFlagSet("version")}
	c.help = helpText(`
Usage: shoal version

  Prints the Shoal version and the cluster protocol version it speaks.`)
	return c
}

// Synopsis implements cli.Command.
func (c *versionCommand) Synopsis() string { return "Prints the Shoal version" }

// Help implements cli.Command.
func (c *versionCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *versionCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	if msg := checkArgCount(c.flags.NArg(), 0); msg != "" {
		return usageError(c.ui, msg, c.help)
	}
	c.ui.Output(version.String())
	c.ui.Output(fmt.Sprintf("Protocol %d", version.ProtocolVersion))
	return 0
}
