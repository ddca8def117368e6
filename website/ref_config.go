package website

import (
	"fmt"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/shoalproject/shoal/agent/config"
)

// ConfigAnchor is the id of a configuration key's row.
func ConfigAnchor(key string) string { return "cfg-" + anchorize(key) }

// FlagAnchor is the id of an agent flag's row.
func FlagAnchor(name string) string { return "flag-" + anchorize(name) }

func anchorize(s string) string {
	return strings.NewReplacer(".", "-", "_", "-", "[]", "", "/", "-").Replace(s)
}

// consulKeyInDoc finds the Consul key a DNSConfig field comment names, as
// in "(allow_stale)".
var consulKeyInDoc = regexp.MustCompile(`\(([a-z_]+)[,)]`)

// AgentFlag is one flag of `shoal agent`, as config.Usage prints it.
type AgentFlag struct{ Name, Arg, Usage string }

// AgentFlags parses config.Usage into its flags.
func AgentFlags() []AgentFlag {
	var out []AgentFlag
	for _, line := range strings.Split(config.Usage(), "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, "-") {
			continue
		}
		spec, usage, _ := strings.Cut(t, "  ")
		name, arg, _ := strings.Cut(spec, " ")
		out = append(out, AgentFlag{Name: strings.TrimPrefix(name, "-"), Arg: arg, Usage: strings.TrimSpace(usage)})
	}
	return out
}

// ConfigKeys lists every configuration file key (dotted for nested ones).
func ConfigKeys() []string {
	var keys []string
	for _, f := range walkFields(reflect.TypeFor[config.Config](), reflect.Value{}, "", nil) {
		keys = append(keys, f.Key)
	}
	return keys
}

// genConfig writes the configuration reference from config.Config, its
// doc comments and config.Default, and the agent flags from config.Usage.
func genConfig(in *Inputs) ([]byte, error) {
	docs, err := fieldDocs(filepath.Join(in.Root, "agent", "config"))
	if err != nil {
		return nil, err
	}
	def := config.Default()
	def.NodeName = "" // the build machine's host name; the doc comment says so
	fields := walkFields(reflect.TypeFor[config.Config](), reflect.ValueOf(*def), "", docs)

	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("An agent reads flags and JSON or HCL files (`-config-file`, `-config-dir`); flags win over files, " +
		"later files over earlier ones. Keys are Consul's; Consul keys Shoal does not implement are ignored with a log line. " +
		"See the [configuration guide](../../docs/configuration.md) for an example. " +
		"This page is generated from the agent's config struct, its comments and its defaults.\n\n")
	fmt.Fprintf(&b, "## Agent flags\n\n`shoal agent -h` prints these %d flags.\n\n| Flag | Description |\n| --- | --- |\n", len(AgentFlags()))
	for _, f := range AgentFlags() {
		spec := "-" + f.Name
		if f.Arg != "" {
			spec += " " + f.Arg
		}
		fmt.Fprintf(&b, "| <span id=\"%s\"></span>`%s` | %s |\n", FlagAnchor(f.Name), spec, mdCell(f.Usage))
	}
	b.WriteString("\n## File keys\n\n")
	writeFieldTable(&b, fields, ConfigAnchor, nil)

	ddocs := map[string]string{}
	for k, v := range docs {
		if strings.HasPrefix(k, "DNSConfig.") {
			ddocs[k] = v
		}
	}
	b.WriteString("## `dns_config` keys\n\nThe `dns_config` block takes Consul's keys, named in parentheses below.\n\n")
	dns := walkFields(reflect.TypeFor[config.DNSConfig](), reflect.ValueOf(config.DefaultDNSConfig()), "dns_config.", ddocs)
	for i, f := range dns {
		if m := consulKeyInDoc.FindStringSubmatch(f.Doc); m != nil {
			dns[i].Key = "dns_config." + m[1]
		}
	}
	writeFieldTable(&b, dns, ConfigAnchor, nil)
	return []byte(b.String()), nil
}
