package command

import (
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// newCatalogCommand returns the "shoal catalog" parent command.
func newCatalogCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Interact with the catalog",
		help: `
Usage: shoal catalog <subcommand> [options] [args]

  Queries the catalog of datacenters, nodes and services.

      $ shoal catalog datacenters
      $ shoal catalog nodes -service=web
      $ shoal catalog services -tags`,
	}
}

// catalogListCommand implements "shoal catalog datacenters|nodes|services".
type catalogListCommand struct {
	baseCommand
	what     string
	detailed bool
	service  string
	node     string
	tags     bool
	nodeMeta stringList
}

func newCatalogListCommand(ui cli.Ui, what string) *catalogListCommand {
	c := &catalogListCommand{what: what}
	var usage, synopsis string
	var own func(fs *flag.FlagSet)
	switch what {
	case "datacenters":
		synopsis = "Lists all known datacenters"
		usage = `
Usage: shoal catalog datacenters [options]

  Lists the known datacenters.`
	case "nodes":
		synopsis = "Lists all nodes in the given datacenter"
		own = func(fs *flag.FlagSet) {
			fs.BoolVar(&c.detailed, "detailed", false, "Output the tagged addresses and metadata of each node.")
			fs.StringVar(&c.service, "service", "", "Only list nodes providing the service `name` or ID.")
			fs.Var(&c.nodeMeta, "node-meta", "Only list nodes with this `key=value` metadata (repeatable).")
		}
		usage = `
Usage: shoal catalog nodes [options]

  Lists the nodes of the catalog: name, ID, address and datacenter.`
	case "services":
		synopsis = "Lists all registered services in a datacenter"
		own = func(fs *flag.FlagSet) {
			fs.BoolVar(&c.tags, "tags", false, "Also print each service's tags.")
			fs.StringVar(&c.node, "node", "", "Only list the services of the node `name`.")
			fs.Var(&c.nodeMeta, "node-meta", "Only list services on nodes with this `key=value` metadata (repeatable).")
		}
		usage = `
Usage: shoal catalog services [options]

  Lists the services of the catalog, sorted by name.`
	}
	c.init(ui, "catalog "+what, synopsis, usage, clientServerHTTP, own)
	return c
}

// Run implements cli.Command.
func (c *catalogListCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	meta := map[string]string{}
	for _, kv := range c.nodeMeta {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return c.usageError(fmt.Sprintf("Invalid -node-meta %q: want key=value", kv))
		}
		meta[k] = v
	}
	client := c.client()
	if client == nil {
		return 1
	}
	q := c.http.queryOptions()
	if len(meta) > 0 {
		q.NodeMeta = meta
	}
	switch c.what {
	case "datacenters":
		dcs, err := client.Catalog().Datacenters()
		if err != nil {
			return c.fail("listing datacenters", err)
		}
		if len(dcs) == 0 {
			c.ui.Error("No datacenters found")
			return 1
		}
		for _, dc := range dcs {
			c.ui.Output(dc)
		}
	case "nodes":
		return c.listNodes(client, q)
	case "services":
		return c.listServices(client, q)
	}
	return 0
}

func (c *catalogListCommand) listNodes(client *api.Client, q *api.QueryOptions) int {
	var nodes []*api.Node
	if c.service != "" {
		entries, _, err := client.Catalog().Service(c.service, "", q)
		if err != nil {
			return c.fail("listing nodes", err)
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if !seen[e.Node] {
				seen[e.Node] = true
				nodes = append(nodes, &api.Node{ID: e.ID, Node: e.Node, Address: e.Address, Datacenter: e.Datacenter,
					TaggedAddresses: e.TaggedAddresses, Meta: e.NodeMeta})
			}
		}
	} else {
		var err error
		if nodes, _, err = client.Catalog().Nodes(q); err != nil {
			return c.fail("listing nodes", err)
		}
	}
	if len(nodes) == 0 {
		c.ui.Error("No nodes match the given query - try expanding your search.")
		return 0
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Node < nodes[j].Node })
	header := []string{"Node", "ID", "Address", "DC"}
	if c.detailed {
		header = append(header, "TaggedAddresses", "Meta")
	}
	rows := [][]string{header}
	for _, n := range nodes {
		id := n.ID
		if !c.detailed && len(id) > 8 {
			id = id[:8]
		}
		row := []string{n.Node, id, n.Address, n.Datacenter}
		if c.detailed {
			row = append(row, pairs(n.TaggedAddresses), pairs(n.Meta))
		}
		rows = append(rows, row)
	}
	c.ui.Output(formatTable(rows))
	return 0
}

func pairs(m map[string]string) string {
	var out []string
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func (c *catalogListCommand) listServices(client *api.Client, q *api.QueryOptions) int {
	services := map[string][]string{}
	if c.node != "" {
		node, _, err := client.Catalog().Node(c.node, q)
		if err != nil {
			return c.fail("listing services", err)
		}
		if node == nil {
			c.ui.Error(fmt.Sprintf("No node matches the name %q", c.node))
			return 1
		}
		for _, s := range node.Services {
			services[s.Service] = append(services[s.Service], s.Tags...)
		}
	} else {
		var err error
		if services, _, err = client.Catalog().Services(q); err != nil {
			return c.fail("listing services", err)
		}
	}
	if len(services) == 0 {
		c.ui.Error("No services match the given query - try expanding your search.")
		return 0
	}
	names := make([]string, 0, len(services))
	for n := range services {
		names = append(names, n)
	}
	sort.Strings(names)
	if !c.tags {
		c.ui.Output(strings.Join(names, "\n"))
		return 0
	}
	var rows [][]string
	for _, n := range names {
		tags := append([]string(nil), services[n]...)
		sort.Strings(tags)
		rows = append(rows, []string{n, strings.Join(tags, ",")})
	}
	c.ui.Output(formatTable(rows))
	return 0
}
