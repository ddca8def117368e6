package command

import (
	"flag"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
	"github.com/shoalproject/shoal/server"
)

// membersCommand implements "shoal members".
type membersCommand struct {
	baseCommand
	detailed bool
	status   string
	wan      bool
}

// newMembersCommand returns a ready-to-run members command.
func newMembersCommand(ui cli.Ui) *membersCommand {
	c := &membersCommand{}
	c.init(ui, "members", "Lists the members of a Shoal cluster", `
Usage: shoal members [options]

  Outputs the members of the cluster as seen by the agent, sorted by node
  name. Exits 2 if no member matches -status.`, clientHTTP, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.detailed, "detailed", false,
			"Print all of each member's tags as k=v pairs instead of the Type and DC columns.")
		fs.StringVar(&c.status, "status", ".*",
			"Only list members whose status (alive, leaving, left, failed, none) matches this `regexp`.")
		fs.BoolVar(&c.wan, "wan", false,
			"Accepted for Consul compatibility; Shoal has no WAN pool, so it is ignored.")
	})
	return c
}

// Run implements cli.Command.
func (c *membersCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	statusRe, err := regexp.Compile(c.status)
	if err != nil {
		return c.usageError(fmt.Sprintf("Invalid -status regexp %q: %v", c.status, err))
	}

	client := c.client()
	if client == nil {
		return 1
	}
	members, err := client.Agent().Members(false)
	if err != nil {
		return c.fail("retrieving members", err)
	}

	members = filterMembers(members, statusRe)
	if len(members) == 0 {
		return 2
	}
	sort.Slice(members, func(i, j int) bool { return members[i].Name < members[j].Name })

	rows := make([][]string, 0, len(members)+1)
	if c.detailed {
		rows = append(rows, []string{"Node", "Address", "Status", "Tags"})
	} else {
		rows = append(rows, []string{"Node", "Address", "Status", "Type", "DC"})
	}
	for _, m := range members {
		row := []string{m.Name, memberAddress(m), memberStatus(m.Status)}
		if c.detailed {
			row = append(row, formatTags(m.Tags))
		} else {
			row = append(row, memberType(m), m.Tags["dc"])
		}
		rows = append(rows, row)
	}
	c.ui.Output(formatTable(rows))
	return 0
}

// filterMembers returns the members whose status string matches re.
func filterMembers(members []*api.AgentMember, re *regexp.Regexp) []*api.AgentMember {
	out := members[:0]
	for _, m := range members {
		if re.MatchString(memberStatus(m.Status)) {
			out = append(out, m)
		}
	}
	return out
}

// memberStatus maps a serf.MemberStatus value to its name.
func memberStatus(status int) string {
	switch status {
	case 0:
		return "none"
	case 1:
		return "alive"
	case 2:
		return "leaving"
	case 3:
		return "left"
	case 4:
		return "failed"
	default:
		return "unknown"
	}
}

// memberType reports "server" for members tagged role=consul (Consul's
// servers and Shoal's) or Shoal's earlier role=server, else "client".
func memberType(m *api.AgentMember) string {
	return server.MemberRole(m.Tags)
}

// memberAddress renders a member's gossip address as host:port.
func memberAddress(m *api.AgentMember) string {
	return net.JoinHostPort(m.Addr, strconv.Itoa(int(m.Port)))
}

// formatTags renders tags as sorted, comma-separated k=v pairs.
func formatTags(tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	pairs := make([]string, len(keys))
	for i, k := range keys {
		pairs[i] = k + "=" + tags[k]
	}
	return strings.Join(pairs, ",")
}
