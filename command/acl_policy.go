package command

import (
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"
)

// findPolicy resolves -id or -name to a policy (nil if missing).
func (c *aclCommand) findPolicy(a *api.ACL) (*api.ACLPolicy, error) {
	q := c.http.queryOptions()
	if c.id != "" {
		p, _, err := a.PolicyRead(c.id, q)
		return p, err
	}
	p, _, err := a.PolicyReadByName(c.name, q)
	return p, err
}

func (c *aclCommand) runPolicy(a *api.ACL) int {
	w := c.http.writeOptions()
	switch c.op {
	case "create":
		if c.name == "" {
			return c.usageError("Missing required flag: -name")
		}
		rules, err := readRules(c.rules)
		if err != nil {
			c.ui.Error(fmt.Sprintf("Error reading -rules: %v", err))
			return 1
		}
		out, _, err := a.PolicyCreate(&api.ACLPolicy{Name: c.name, Description: c.description, Rules: rules,
			Datacenters: c.validDatacenters}, w)
		if err != nil {
			return c.fail("creating ACL policy", err)
		}
		return aclOutput(c.ui, c.format, out, func() string { return formatPolicy(out) })
	case "list":
		list, _, err := a.PolicyList(c.http.queryOptions())
		if err != nil {
			return c.fail("listing ACL policies", err)
		}
		return aclOutput(c.ui, c.format, list, func() string {
			var b strings.Builder
			for _, p := range list {
				fmt.Fprintf(&b, "%s:\n   ID:           %s\n   Description:  %s\n", p.Name, p.ID, p.Description)
			}
			return strings.TrimRight(b.String(), "\n")
		})
	}
	if c.id == "" && (c.name == "" || c.op == "update") {
		return c.usageError("Missing required flag: -id" + map[bool]string{true: "", false: " or -name"}[c.op == "update"])
	}
	p, err := c.findPolicy(a)
	if err != nil {
		return c.fail("reading ACL policy", err)
	}
	if p == nil {
		c.ui.Error(fmt.Sprintf("Error: ACL policy %q not found", c.id+c.name))
		return 1
	}
	switch c.op {
	case "read":
		return aclOutput(c.ui, c.format, p, func() string { return formatPolicy(p) })
	case "update":
		rules, err := readRules(c.rules)
		if err != nil {
			c.ui.Error(fmt.Sprintf("Error reading -rules: %v", err))
			return 1
		}
		if c.noMerge {
			p = &api.ACLPolicy{ID: p.ID, Name: p.Name}
			p.Rules, p.Description, p.Datacenters = rules, c.description, c.validDatacenters
		}
		if c.name != "" {
			p.Name = c.name
		}
		if c.description != "" {
			p.Description = c.description
		}
		if rules != "" {
			p.Rules = rules
		}
		out, _, err := a.PolicyUpdate(p, w)
		if err != nil {
			return c.fail("updating ACL policy", err)
		}
		return aclOutput(c.ui, c.format, out, func() string { return formatPolicy(out) })
	}
	if _, err := a.PolicyDelete(p.ID, w); err != nil {
		return c.fail("deleting ACL policy", err)
	}
	c.ui.Output(fmt.Sprintf("Policy %q deleted successfully", p.Name))
	return 0
}

func formatPolicy(p *api.ACLPolicy) string {
	return strings.TrimRight(fmt.Sprintf("ID:           %s\nName:         %s\nDescription:  %s\nDatacenters:  %s\nRules:\n%s",
		p.ID, p.Name, p.Description, strings.Join(p.Datacenters, ", "), p.Rules), "\n")
}
