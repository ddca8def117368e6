package command

import (
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/consul/api"
)

func (c *aclCommand) runToken(a *api.ACL) int {
	q, w := c.http.queryOptions(), c.http.writeOptions()
	needID := func() int { return c.usageError("Missing required flag: -accessor-id") }
	switch c.op {
	case "create":
		t := &api.ACLToken{AccessorID: c.accessor, SecretID: c.secret, Description: c.description,
			Policies: policyLinks(c.policyIDs, c.policyNames), Roles: policyLinks(c.roleIDs, c.roleNames)}
		if c.expiresTTL != "" {
			d, err := time.ParseDuration(c.expiresTTL)
			if err != nil || d <= 0 {
				return c.usageError(fmt.Sprintf("Invalid -expires-ttl %q: want a positive duration", c.expiresTTL))
			}
			t.ExpirationTTL = d
		}
		out, _, err := a.TokenCreate(t, w)
		if err != nil {
			return c.fail("creating ACL token", err)
		}
		return aclOutput(c.ui, c.format, out, func() string { return formatToken(out) })
	case "list":
		list, _, err := a.TokenList(q)
		if err != nil {
			return c.fail("listing ACL tokens", err)
		}
		return aclOutput(c.ui, c.format, list, func() string {
			var parts []string
			for _, e := range list {
				parts = append(parts, formatToken(&api.ACLToken{AccessorID: e.AccessorID, SecretID: e.SecretID,
					Description: e.Description, Local: e.Local, CreateTime: e.CreateTime, Policies: e.Policies,
					Roles: e.Roles, ExpirationTime: e.ExpirationTime}))
			}
			return strings.Join(parts, "\n")
		})
	case "read":
		var out *api.ACLToken
		var err error
		switch {
		case c.self:
			out, _, err = a.TokenReadSelf(q)
		case c.id == "":
			return needID()
		default:
			out, _, err = a.TokenRead(c.id, q)
		}
		if err != nil {
			return c.fail("reading ACL token", err)
		}
		if out == nil {
			c.ui.Error(fmt.Sprintf("Error reading ACL token: token %q not found", c.id))
			return 1
		}
		return aclOutput(c.ui, c.format, out, func() string { return formatToken(out) })
	case "update":
		if c.id == "" {
			return needID()
		}
		cur, _, err := a.TokenRead(c.id, q)
		if err != nil {
			return c.fail("reading ACL token", err)
		}
		if cur == nil {
			c.ui.Error(fmt.Sprintf("Error updating ACL token: token %q not found", c.id))
			return 1
		}
		if c.description != "" {
			cur.Description = c.description
		}
		pols, roles := policyLinks(c.policyIDs, c.policyNames), policyLinks(c.roleIDs, c.roleNames)
		if c.mergePolicies {
			cur.Policies = append(cur.Policies, pols...)
		} else if len(pols) > 0 {
			cur.Policies = pols
		}
		if c.mergeRoles {
			cur.Roles = append(cur.Roles, roles...)
		} else if len(roles) > 0 {
			cur.Roles = roles
		}
		if cur.SecretID == "<hidden>" {
			cur.SecretID = ""
		}
		out, _, err := a.TokenUpdate(cur, w)
		if err != nil {
			return c.fail("updating ACL token", err)
		}
		return aclOutput(c.ui, c.format, out, func() string { return formatToken(out) })
	}
	if c.id == "" {
		return needID()
	}
	if _, err := a.TokenDelete(c.id, w); err != nil {
		return c.fail("deleting ACL token", err)
	}
	c.ui.Output(fmt.Sprintf("Token %q deleted successfully", c.id))
	return 0
}

// formatToken is Consul's pretty token output.
func formatToken(t *api.ACLToken) string {
	var b strings.Builder
	fmt.Fprintf(&b, "AccessorID:       %s\n", t.AccessorID)
	fmt.Fprintf(&b, "SecretID:         %s\n", t.SecretID)
	fmt.Fprintf(&b, "Description:      %s\n", t.Description)
	fmt.Fprintf(&b, "Local:            %t\n", t.Local)
	fmt.Fprintf(&b, "Create Time:      %v\n", t.CreateTime)
	if t.ExpirationTime != nil && !t.ExpirationTime.IsZero() {
		fmt.Fprintf(&b, "Expiration Time:  %v\n", *t.ExpirationTime)
	}
	if len(t.Policies) > 0 {
		formatLinks(&b, "Policies", t.Policies)
	}
	if len(t.Roles) > 0 {
		formatLinks(&b, "Roles", t.Roles)
	}
	return strings.TrimRight(b.String(), "\n")
}
