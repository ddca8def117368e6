package command

import (
	"flag"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// eventCommand implements "shoal event": it fires a user event
// (PUT /v1/event/fire/<name>), delivered to matching agents by gossip.
type eventCommand struct {
	baseCommand
	name, node, svc, tag string
}

func newEventCommand(ui cli.Ui) *eventCommand {
	c := &eventCommand{}
	c.init(ui, "event", "Fire a new event", `
Usage: shoal event [options] [payload]

  Dispatches a custom user event across a datacenter, by gossip. An event
  has a name and an optional payload; the -node, -service and -tag filters
  limit which agents keep it. Agents list the events they received at
  /v1/event/list; "shoal watch -type event" waits for them.

  Example:

    $ shoal event -name=deploy -service=web v1.2`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.name, "name", "", "The `name` of the event. Required.")
		fs.StringVar(&c.node, "node", "", "A regular `expression` to filter on node names.")
		fs.StringVar(&c.svc, "service", "", "A regular `expression` to filter on the names of the nodes' services.")
		fs.StringVar(&c.tag, "tag", "", "A regular `expression` to filter on service tags. Needs -service.")
	})
	return c
}

// Run implements cli.Command.
func (c *eventCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	if c.name == "" {
		return c.usageError("Event name must be specified")
	}
	if c.tag != "" && c.svc == "" {
		return c.usageError("Cannot provide tag filter without service filter.")
	}
	var payload []byte
	switch c.flags.NArg() {
	case 0:
	case 1:
		payload = []byte(c.flags.Arg(0))
	default:
		return c.usageError("Too many command line arguments.")
	}
	client := c.client()
	if client == nil {
		return 1
	}
	ev := &api.UserEvent{Name: c.name, Payload: payload, NodeFilter: c.node, ServiceFilter: c.svc, TagFilter: c.tag}
	id, _, err := client.Event().Fire(ev, c.http.writeOptions())
	if err != nil {
		return c.fail("firing event", err)
	}
	c.ui.Output("Event ID: " + id)
	return 0
}
