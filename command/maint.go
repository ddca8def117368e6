package command

import (
	"flag"
	"fmt"
	"strings"

	"github.com/hashicorp/cli"
)

// maintCommand implements "shoal maint".
type maintCommand struct {
	baseCommand
	enable  bool
	disable bool
	reason  string
	service string
}

func newMaintCommand(ui cli.Ui) *maintCommand {
	c := &maintCommand{}
	c.init(ui, "maint", "Controls node or service maintenance mode", `
Usage: shoal maint [options]

  Places a node or a service into maintenance mode: a critical check is
  added, so it is left out of ?passing health queries and DNS. Without
  -enable or -disable, lists what is in maintenance on the agent.`, clientHTTP, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.enable, "enable", false, "Enable maintenance mode.")
		fs.BoolVar(&c.disable, "disable", false, "Disable maintenance mode.")
		fs.StringVar(&c.reason, "reason", "", "A `text` explaining the maintenance, shown in the check's notes.")
		fs.StringVar(&c.service, "service", "", "The service `ID` to put in maintenance mode; the whole node when empty.")
	})
	return c
}

// Run implements cli.Command.
func (c *maintCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	if c.enable && c.disable {
		return c.usageError("Only one of -enable or -disable may be provided")
	}
	if !c.enable && c.reason != "" {
		return c.usageError("Reason may only be provided with -enable")
	}
	if !c.enable && !c.disable && c.service != "" {
		return c.usageError("Service requires either -enable or -disable")
	}
	client := c.client()
	if client == nil {
		return 1
	}
	ag := client.Agent()
	if !c.enable && !c.disable {
		self, err := ag.Self()
		if err != nil {
			return c.fail("reading agent", err)
		}
		node, _ := self["Config"]["NodeName"].(string)
		checks, err := ag.Checks()
		if err != nil {
			return c.fail("listing checks", err)
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
	var err error
	if c.service == "" {
		if c.enable {
			err = ag.EnableNodeMaintenance(c.reason)
		} else {
			err = ag.DisableNodeMaintenance()
		}
		if err != nil {
			return c.fail("setting node maintenance", err)
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
		return c.fail("setting service maintenance", err)
	}
	c.ui.Output(fmt.Sprintf("Service maintenance is now %s for %q", map[bool]string{true: "enabled", false: "disabled"}[c.enable], c.service))
	return 0
}
