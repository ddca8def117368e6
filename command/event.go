package command

import (
	"flag"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// eventCommand implements "shoal event": it fires a user event
// (PUT /v1/event/fire/<name>), delivered to matching agents by gossip.
type eventCommand struct {
	ui                   cli.Ui
	flags                *flag.FlagSet
	http                 httpFlags
	help                 string
	name, node, svc, tag string
}

func newEventCommand(ui cli.Ui) *eventCommand {
	c := &eventCommand{ui: ui}
	client := c.http.clientFlags()
	server := c.http.serverFlags()
	own := newFlagSet("event")
	own.StringVar(&c.name, "name", "", "The `name` of the event. Required.")
	own.StringVar(&c.node, "node", "", "A regular `expression` to filter on node names.")
	own.StringVar(&c.svc, "service", "", "A regular `expression` to filter on the names of the nodes' services.")
	own.StringVar(&c.tag, "tag", "", "A regular `expression` to filter on service tags. Needs -service.")
	c.flags = newFlagSet("event")
	mergeFlags(c.flags, client)
	mergeFlags(c.flags, server)
	mergeFlags(c.flags, own)
	c.help = helpText(`
Usage: shoal event [options] [payload]

  Dispatches a custom user event across a datacenter, by gossip. An event
  has a name and an optional payload; the -node, -service and -tag filters
  limit which agents keep it. Agents list the events they received at
  /v1/event/list; "shoal watch -type event" waits for them.

  Example:

    $ shoal event -name=deploy -service=web v1.2`,
		flagSection{"HTTP API Options", client}, flagSection{"Server Options", server},
		flagSection{"Command Options", own})
	return c
}

// Synopsis implements cli.Command.
func (c *eventCommand) Synopsis() string { return "Fire a new event" }

// Help implements cli.Command.
func (c *eventCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *eventCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	if c.name == "" {
		return usageError(c.ui, "Event name must be specified", c.help)
	}
	if c.tag != "" && c.svc == "" {
		return usageError(c.ui, "Cannot provide tag filter without service filter.", c.help)
	}
	var payload []byte
	switch c.flags.NArg() {
	case 0:
	case 1:
		payload = []byte(c.flags.Arg(0))
	default:
		return usageError(c.ui, "Too many command line arguments.", c.help)
	}
	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	ev := &api.UserEvent{Name: c.name, Payload: payload, NodeFilter: c.node, ServiceFilter: c.svc, TagFilter: c.tag}
	id, _, err := client.Event().Fire(ev, c.http.writeOptions())
	if err != nil {
		c.ui.Error(agentError(addr, "firing event", err))
		return 1
	}
	c.ui.Output("Event ID: " + id)
	return 0
}

// eventWatchType is "shoal watch -type event [-name N]": the user events
// the agent received, indexed by the last one's ID as Consul's watch does.
func eventWatchType() watchType {
	return watchType{
		validate: func(p *watchParams) error { return nil },
		query: func(c *api.Client, p *watchParams, opts *api.QueryOptions) (any, uint64, error) {
			evs, meta, err := c.Event().List(p.name, opts)
			if err != nil {
				return nil, 0, err
			}
			if evs == nil {
				evs = []*api.UserEvent{}
			}
			return evs, meta.LastIndex, nil
		},
	}
}
