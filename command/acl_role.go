package command

import (
	"fmt"
	"strings"

	"github.com/hashicorp/consul/api"
)

func (c *aclCommand) runRole(a *api.ACL) int {
	w, q := c.http.writeOptions(), c.http.queryOptions()
	switch c.op {
	case "create":
		if c.name == "" {
			return c.usageError("Missing required flag: -name")
		}
		out, _, err := a.RoleCreate(&api.ACLRole{Name: c.name, Description: c.description,
			Policies: policyLinks(c.policyIDs, c.policyNames)}, w)
		if err != nil {
			return c.fail("creating ACL role", err)
		}
		return aclOutput(c.ui, c.format, out, func() string { return formatRole(out) })
	case "list":
		list, _, err := a.RoleList(q)
		if err != nil {
			return c.fail("listing ACL roles", err)
		}
		return aclOutput(c.ui, c.format, list, func() string {
			var parts []string
			for _, r := range list {
				parts = append(parts, formatRole(r))
			}
			return strings.Join(parts, "\n")
		})
	}
	if c.id == "" && (c.name == "" || c.op == "update") {
		return c.usageError("Missing required flag: -id" + map[bool]string{true: "", false: " or -name"}[c.op == "update"])
	}
	var r *api.ACLRole
	var err error
	if c.id != "" {
		r, _, err = a.RoleRead(c.id, q)
	} else {
		r, _, err = a.RoleReadByName(c.name, q)
	}
	if err != nil {
		return c.fail("reading ACL role", err)
	}
	if r == nil {
		c.ui.Error(fmt.Sprintf("Error: ACL role %q not found", c.id+c.name))
		return 1
	}
	switch c.op {
	case "read":
		return aclOutput(c.ui, c.format, r, func() string { return formatRole(r) })
	case "update":
		pols := policyLinks(c.policyIDs, c.policyNames)
		if c.noMerge {
			r = &api.ACLRole{ID: r.ID, Name: r.Name, Description: c.description, Policies: pols}
		} else {
			r.Policies = append(r.Policies, pols...)
			if c.description != "" {
				r.Description = c.description
			}
		}
		if c.name != "" {
			r.Name = c.name
		}
		out, _, err := a.RoleUpdate(r, w)
		if err != nil {
			return c.fail("updating ACL role", err)
		}
		return aclOutput(c.ui, c.format, out, func() string { return formatRole(out) })
	}
	if _, err := a.RoleDelete(r.ID, w); err != nil {
		return c.fail("deleting ACL role", err)
	}
	c.ui.Output(fmt.Sprintf("Role %q deleted successfully", r.Name))
	return 0
}

func formatRole(r *api.ACLRole) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ID:           %s\nName:         %s\nDescription:  %s\n", r.ID, r.Name, r.Description)
	if len(r.Policies) > 0 {
		formatLinks(&b, "Policies", r.Policies)
	}
	return strings.TrimRight(b.String(), "\n")
}
