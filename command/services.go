package command

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/hcl"
)

// newServicesCommand returns the "shoal services" parent command.
func newServicesCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Interact with services",
		help: `
Usage: shoal services <subcommand> [options] [args]

  Registers and deregisters services with the local agent, which keeps
  them in the catalog (anti-entropy) and runs their checks.

      $ shoal services register web.json
      $ shoal services register -name=web -port=8080 -tag=v1
      $ shoal services deregister -id=web`,
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// servicesRegisterCommand implements "shoal services register" and, with
// deregister set, "shoal services deregister".
type servicesRegisterCommand struct {
	baseCommand
	deregister bool
	id, name   string
	address    string
	port       int
	tags, meta stringList
}

func newServicesRegisterCommand(ui cli.Ui, deregister bool) *servicesRegisterCommand {
	c := &servicesRegisterCommand{deregister: deregister}
	verb, synopsis, usage := "register", "Register services with the local agent", `
Usage: shoal services register [options] [FILE...]

  Registers services with the local agent, either from definition files
  (JSON or HCL with a "service" or "services" key, as in -config-dir) or
  from the flags. Services registered this way are persisted by the agent
  and survive restarts; remove them with "shoal services deregister".`
	if deregister {
		verb, synopsis, usage = "deregister", "Deregister services with the local agent", `
Usage: shoal services deregister [options] [FILE...]

  Deregisters services from the local agent, named by -id or by the
  definition files they were registered from.`
	}
	c.init(ui, "services "+verb, synopsis, usage, clientHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.id, "id", "", "The `ID` of the service. Defaults to the name.")
		if deregister {
			return
		}
		fs.StringVar(&c.name, "name", "", "The `name` of the service.")
		fs.StringVar(&c.address, "address", "", "The service's `address`. Defaults to the node's.")
		fs.IntVar(&c.port, "port", 0, "The service's `port`.")
		fs.Var(&c.tags, "tag", "A `tag` of the service (repeatable).")
		fs.Var(&c.meta, "meta", "Service metadata as `key=value` (repeatable).")
	})
	return c
}

// Run implements cli.Command.
func (c *servicesRegisterCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	var defs []map[string]any
	for _, path := range c.flags.Args() {
		d, err := readServiceFile(path)
		if err != nil {
			c.ui.Error(fmt.Sprintf("Error reading %s: %v", path, err))
			return 1
		}
		defs = append(defs, d...)
	}
	if len(defs) == 0 {
		switch {
		case c.deregister && c.id != "":
			defs = append(defs, map[string]any{"ID": c.id})
		case !c.deregister && c.name != "":
			d := map[string]any{"Name": c.name, "ID": c.id, "Address": c.address, "Port": c.port, "Tags": []string(c.tags)}
			meta := map[string]string{}
			for _, kv := range c.meta {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return c.usageError(fmt.Sprintf("Invalid -meta %q: want key=value", kv))
				}
				meta[k] = v
			}
			d["Meta"] = meta
			defs = append(defs, d)
		default:
			return c.usageError("Service definition files or flags (-name, or -id to deregister) are required.")
		}
	}
	client := c.client()
	if client == nil {
		return 1
	}
	for _, d := range defs {
		name := serviceField(d, "name")
		if c.deregister {
			id := firstNonEmpty(serviceField(d, "id"), name)
			if err := client.Agent().ServiceDeregister(id); err != nil {
				return c.fail("deregistering service "+id, err)
			}
			c.ui.Output("Deregistered service: " + id)
			continue
		}
		if _, err := client.Raw().Write("/v1/agent/service/register", d, nil, nil); err != nil {
			return c.fail("registering service "+name, err)
		}
		c.ui.Output("Registered service: " + name)
	}
	return 0
}

// serviceField reads a definition key whatever its case.
func serviceField(d map[string]any, key string) string {
	for k, v := range d {
		if strings.EqualFold(k, key) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// readServiceFile reads the service definitions of a JSON or HCL file:
// the "service" and "services" keys, or the whole file when it has
// neither (a bare definition, as the API takes).
func readServiceFile(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if filepath.Ext(path) == ".hcl" {
		err = hcl.Unmarshal(data, &m)
	} else {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	found := false
	for _, key := range []string{"service", "services"} {
		v, ok := m[key]
		if !ok {
			continue
		}
		found = true
		out = append(out, asMaps(v)...)
	}
	if !found {
		out = append(out, m)
	}
	for _, d := range out {
		flattenHCL(d)
	}
	return out, nil
}

// asMaps returns v (one object, a list of objects, or HCL blocks) as maps.
func asMaps(v any) []map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return []map[string]any{x}
	case []map[string]any:
		return x
	case []any:
		var out []map[string]any
		for _, e := range x {
			out = append(out, asMaps(e)...)
		}
		return out
	}
	return nil
}

// flattenHCL turns HCL's one-element block lists into objects, except for
// "checks", which stays a list.
func flattenHCL(m map[string]any) {
	for k, v := range m {
		blocks, ok := v.([]map[string]any)
		if !ok {
			continue
		}
		if strings.EqualFold(k, "checks") {
			list := make([]any, len(blocks))
			for i, b := range blocks {
				flattenHCL(b)
				list[i] = b
			}
			m[k] = list
			continue
		}
		merged := map[string]any{}
		for _, b := range blocks {
			flattenHCL(b)
			for bk, bv := range b {
				merged[bk] = bv
			}
		}
		m[k] = merged
	}
}
