package command

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// aclCommands returns "shoal acl ..." (Consul's `consul acl` commands and
// flags): bootstrap, and create/list/read/update/delete of tokens,
// policies and roles.
func aclCommands(ui cli.Ui) map[string]cli.CommandFactory {
	out := map[string]cli.CommandFactory{
		"acl": func() (cli.Command, error) {
			return &helpOnlyCommand{synopsis: "Interact with Shoal's ACLs", help: `
Usage: shoal acl <subcommand> [options] [args]

  Manages ACL tokens, policies and roles. Secrets are passed with -token or
  $SHOAL_HTTP_TOKEN / $CONSUL_HTTP_TOKEN. See docs/acl.md.`}, nil
		},
		"acl bootstrap": func() (cli.Command, error) { return newACLBootstrapCommand(ui), nil },
	}
	for _, kind := range []string{"token", "policy", "role"} {
		kind := kind
		out["acl "+kind] = func() (cli.Command, error) {
			return &helpOnlyCommand{synopsis: "Manage ACL " + kind + "s", help: fmt.Sprintf(`
Usage: shoal acl %s <subcommand> [options]

  Creates, lists, reads, updates and deletes ACL %ss.`, kind, kind)}, nil
		}
		for _, op := range []string{"create", "list", "read", "update", "delete"} {
			op := op
			out["acl "+kind+" "+op] = func() (cli.Command, error) { return newACLCommand(ui, kind, op), nil }
		}
	}
	return out
}

// listFlag is a repeatable string flag (-policy-id a -policy-id b).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// aclOutput prints v as JSON (-format=json) or as Consul's pretty text.
func aclOutput(ui cli.Ui, format string, v any, pretty func() string) int {
	if format == "json" {
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			ui.Error(fmt.Sprintf("Error formatting output: %v", err))
			return 1
		}
		ui.Output(string(b))
		return 0
	}
	ui.Output(pretty())
	return 0
}

func formatFlag(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "format", "pretty", "Output `format`: pretty or json.")
}

// aclBootstrapCommand implements "shoal acl bootstrap".
type aclBootstrapCommand struct {
	baseCommand
	format string
}

func newACLBootstrapCommand(ui cli.Ui) *aclBootstrapCommand {
	c := &aclBootstrapCommand{}
	c.init(ui, "acl bootstrap", "Bootstrap Shoal's ACL system", `
Usage: shoal acl bootstrap [options]

  Creates the first management token and prints it, secret included. It
  works once per cluster; later calls are refused (403).`, clientHTTP, func(fs *flag.FlagSet) { formatFlag(fs, &c.format) })
	return c
}

// Run implements cli.Command.
func (c *aclBootstrapCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	client := c.client()
	if client == nil {
		return 1
	}
	tok, _, err := client.ACL().Bootstrap()
	if err != nil {
		return c.fail("bootstrapping ACLs", err)
	}
	return aclOutput(c.ui, c.format, tok, func() string { return formatToken(tok) })
}

// aclCommand implements "shoal acl token|policy|role create|list|read|update|delete".
type aclCommand struct {
	baseCommand
	kind, op string

	format, id, name, description string
	self, noMerge, mergePolicies  bool
	mergeRoles                    bool
	policyIDs, policyNames        listFlag
	roleIDs, roleNames            listFlag
	secret, accessor, expiresTTL  string
	rules                         string
	validDatacenters              listFlag
}

func newACLCommand(ui cli.Ui, kind, op string) *aclCommand {
	c := &aclCommand{kind: kind, op: op}
	usage := fmt.Sprintf(`
Usage: shoal acl %s %s [options]

  %s`, kind, op, aclUsage[kind+" "+op])
	c.init(ui, "acl "+kind+" "+op, aclSynopsis(kind, op), usage, clientServerHTTP, c.bind)
	return c
}

var aclUsage = map[string]string{
	"token create":  "Creates a token linked to policies and roles (by ID or name). The secret is printed once here; keep it.",
	"token list":    "Lists tokens. Secrets are never shown in lists.",
	"token read":    "Reads a token by -accessor-id, or the caller's own with -self. The secret is shown to acl:write holders.",
	"token update":  "Updates a token's description, policies and roles. Links are replaced unless -merge-policies / -merge-roles.",
	"token delete":  "Deletes a token by -accessor-id.",
	"policy create": "Creates a policy from -rules (text, @file or - for stdin), in HCL or JSON.",
	"policy list":   "Lists policies.",
	"policy read":   "Reads a policy by -id or -name.",
	"policy update": "Updates a policy's name, description or rules.",
	"policy delete": "Deletes a policy by -id or -name.",
	"role create":   "Creates a role linked to policies (by ID or name).",
	"role list":     "Lists roles.",
	"role read":     "Reads a role by -id or -name.",
	"role update":   "Updates a role. Policy links are added unless -no-merge, which replaces them.",
	"role delete":   "Deletes a role by -id or -name.",
}

func aclSynopsis(kind, op string) string {
	return strings.ToUpper(op[:1]) + op[1:] + " ACL " + kind + "s"
}

// bind declares the flags of this kind and operation (Consul's names).
func (c *aclCommand) bind(fs *flag.FlagSet) {
	formatFlag(fs, &c.format)
	write := c.op == "create" || c.op == "update"
	switch c.kind {
	case "token":
		if c.op != "create" && c.op != "list" {
			fs.StringVar(&c.id, "accessor-id", "", "The `AccessorID` of the token.")
			fs.StringVar(&c.id, "id", "", "Deprecated alias of -accessor-id.")
		}
		if c.op == "read" {
			fs.BoolVar(&c.self, "self", false, "Read the token given with -token.")
		}
		if write {
			fs.StringVar(&c.description, "description", "", "A `description` of the token.")
			fs.Var(&c.policyIDs, "policy-id", "`ID` of a policy to link; repeatable.")
			fs.Var(&c.policyNames, "policy-name", "`Name` of a policy to link; repeatable.")
			fs.Var(&c.roleIDs, "role-id", "`ID` of a role to link; repeatable.")
			fs.Var(&c.roleNames, "role-name", "`Name` of a role to link; repeatable.")
		}
		if c.op == "create" {
			fs.StringVar(&c.secret, "secret", "", "The `SecretID` to use; generated when empty.")
			fs.StringVar(&c.accessor, "accessor", "", "The `AccessorID` to use; generated when empty.")
			fs.StringVar(&c.expiresTTL, "expires-ttl", "", "Expire the token after this `duration`.")
		}
		if c.op == "update" {
			fs.BoolVar(&c.mergePolicies, "merge-policies", false, "Add the policies to the token's instead of replacing them.")
			fs.BoolVar(&c.mergeRoles, "merge-roles", false, "Add the roles to the token's instead of replacing them.")
		}
	case "policy", "role":
		if c.op != "create" && c.op != "list" {
			fs.StringVar(&c.id, "id", "", "The `ID` of the "+c.kind+".")
			if c.op != "update" {
				fs.StringVar(&c.name, "name", "", "The `name` of the "+c.kind+".")
			}
		}
		if write {
			if c.op == "create" {
				fs.StringVar(&c.name, "name", "", "The `name` of the "+c.kind+" (required).")
			} else {
				fs.StringVar(&c.name, "name", "", "A new `name` for the "+c.kind+".")
			}
			fs.StringVar(&c.description, "description", "", "A `description` of the "+c.kind+".")
		}
		if write && c.kind == "policy" {
			fs.StringVar(&c.rules, "rules", "", "The `rules`: text, @file, or - for stdin.")
			fs.Var(&c.validDatacenters, "valid-datacenter", "A `datacenter` the policy is valid in; repeatable.")
		}
		if write && c.kind == "role" {
			fs.Var(&c.policyIDs, "policy-id", "`ID` of a policy to link; repeatable.")
			fs.Var(&c.policyNames, "policy-name", "`Name` of a policy to link; repeatable.")
		}
		if c.op == "update" {
			fs.BoolVar(&c.noMerge, "no-merge", false, "Replace the "+c.kind+" instead of merging the changes into it.")
		}
	}
}

// Run implements cli.Command.
func (c *aclCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	if c.format != "pretty" && c.format != "json" {
		return c.usageError(fmt.Sprintf("Invalid -format %q: want pretty or json", c.format))
	}
	client := c.client()
	if client == nil {
		return 1
	}
	switch c.kind {
	case "token":
		return c.runToken(client.ACL())
	case "policy":
		return c.runPolicy(client.ACL())
	}
	return c.runRole(client.ACL())
}

// readRules returns the -rules text, reading @file or - (stdin).
func readRules(v string) (string, error) {
	switch {
	case v == "-":
		b, err := io.ReadAll(os.Stdin)
		return string(b), err
	case strings.HasPrefix(v, "@"):
		b, err := os.ReadFile(v[1:])
		return string(b), err
	}
	return v, nil
}

func policyLinks(ids, names []string) []*api.ACLTokenPolicyLink {
	var out []*api.ACLTokenPolicyLink
	for _, id := range ids {
		out = append(out, &api.ACLTokenPolicyLink{ID: id})
	}
	for _, n := range names {
		out = append(out, &api.ACLTokenPolicyLink{Name: n})
	}
	return out
}

func formatLinks(b *strings.Builder, title string, links []*api.ACLLink) {
	fmt.Fprintf(b, "%s:\n", title)
	for _, l := range links {
		fmt.Fprintf(b, "   %s - %s\n", l.ID, l.Name)
	}
}
