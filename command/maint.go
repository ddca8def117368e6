package command

import (
	"flag"
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
)

// maintCommand implements "shoal maint".
type maintCommand struct {
	ui      cli.Ui
	flags   *flag.FlagSet
	http    httpFlags
	enable  bool
	disable bool
	reason  string
	service string
	help    string
}

func newMaintCommand(ui cli.Ui) *maintCommand {
	c := &maintCommand{ui: ui}
	cmdFlags := newFlagSet("maint")
	cmdFlags.BoolVar(&c.enable, "enable", false, "Enable maintenance mode.")
	cmdFlags.BoolVar(&c.disable, "disable", false, "Disable maintenance mode.")
	cmdFlags.StringVar(&c.reason, "reason", "", "A `text` explaining the maintenance, shown in the check's notes.")
	cmdFlags.StringVar(&c.service, "service", "", "The service `ID` to put in maintenance mode; the whole node when empty.")
	client := c.http.clientFlags()
	c.flags = newFlagSet("maint")
	mergeFlags(c.flags, client, cmdFlags)
	c.help = helpText(`
Usage: shoal maint [options]

  Places a node or a service into maintenance mode: a critical check is
  added, so it is left out of ?passing health queries and DNS. Without
  -enable or -disable, lists what is in maintenance on the agent.`,
		flagSection{"HTTP API Options", client}, flagSection{"Command Options", cmdFlags})
	return c
}

// Synopsis implements cli.Command.
func (c *maintCommand) Synopsis() string { return "Controls node or service maintenance mode" }

// Help implements cli.Command.
func (c *maintCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *maintCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	if msg := checkArgCount(c.flags.NArg(), 0); msg != "" {
		return usageError(c.ui, msg, c.help)
	}
	if c.enable && c.disable {
		return usageError(c.ui, "Only one of -enable or -disable may be provided", c.help)
	}
	if !c.enable && c.reason != "" {
		return usageError(c.ui, "Reason may only be provided with -enable", c.help)
	}
	if !c.enable && !c.disable && c.service != "" {
		return usageError(c.ui, "Service requires either -enable or -disable", c.help)
	}
	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	ag := client.Agent()
	if !c.enable && !c.disable {
		self, err := ag.Self()
		if err != nil {
			c.ui.Error(agentError(addr, "reading agent", err))
			return 1
		}
		node, _ := self["Config"]["NodeName"].(string)
		checks, err := ag.Checks()
		if err != nil {
			c.ui.Error(agentError(addr, "listing checks", err))
			return 1
		}
		for id, chk := range checks {
			switch {
			case id == "_node_maintenance":
				c.ui.Output("Node:")
				c.ui.Output("  Name:   " + node)
				c.ui.Output("  Reason: " + chk.Notes)
				c.ui.Output("")
			case strings.HasPrefix(id, "_service_maintenance:"):
				c.ui.Output("Service:")
				c.ui.Output("  ID:     " + chk.ServiceID)
				c.ui.Output("  Reason: " + chk.Notes)
				c.ui.Output("")
			}
		}
		return 0
	}
	if c.service == "" {
		if c.enable {
			err = ag.EnableNodeMaintenance(c.reason)
		} else {
			err = ag.DisableNodeMaintenance()
		}
		if err != nil {
			c.ui.Error(agentError(addr, "setting node maintenance", err))
			return 1
		}
		c.ui.Output(fmt.Sprintf("Node maintenance is now %s", map[bool]string{true: "enabled", false: "disabled"}[c.enable]))
		return 0
	}
	if c.enable {
		err = ag.EnableServiceMaintenance(c.service, c.reason)
	} else {
		err = ag.DisableServiceMaintenance(c.service)
	}
	if err != nil {
		c.ui.Error(agentError(addr, "setting service maintenance", err))
		return 1
	}
	c.ui.Output(fmt.Sprintf("Service maintenance is now %s for %q", map[bool]string{true: "enabled", false: "disabled"}[c.enable], c.service))
	return 0
}
