package command

import (
	"flag"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/cli"
)

// infoCommand implements "shoal info".
type infoCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	help  string
}

// newInfoCommand returns a ready-to-run info command.
func newInfoCommand(ui cli.Ui) *infoCommand {
	c := &infoCommand{ui: ui}
	client := c.http.clientFlags()
	c.flags = newFlagSet("info")
	mergeFlags(c.flags, client)
	c.help = helpText(`
Usage: shoal info [options]

  Provides debugging information for operators: the "Stats" section of
  /v1/agent/self, one block per subsystem, keys sorted.`,
		flagSection{"HTTP API Options", client})
	return c
}

// Synopsis implements cli.Command.
func (c *infoCommand) Synopsis() string { return "Provides debugging information for operators" }

// Help implements cli.Command.
func (c *infoCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *infoCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	if msg := checkArgCount(c.flags.NArg(), 0); msg != "" {
		return usageError(c.ui, msg, c.help)
	}

	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	self, err := client.Agent().Self()
	if err != nil {
		c.ui.Error(agentError(addr, "querying agent", err))
		return 1
	}
	stats, ok := self["Stats"]
	if !ok {
		c.ui.Error(fmt.Sprintf("Error querying agent: response from %s has no Stats section", addr))
		return 1
	}
	out, err := formatStats(stats)
	if err != nil {
		c.ui.Error(fmt.Sprintf("Error querying agent: %v", err))
		return 1
	}
	c.ui.Output(out)
	return 0
}

// formatStats renders the Stats section like "consul info":
//
//	section:
//		key = value
//
// with sections and keys in sorted order.
func formatStats(stats map[string]interface{}) (string, error) {
	var b strings.Builder
	for _, section := range sortedKeys(stats) {
		values, ok := stats[section].(map[string]interface{})
		if !ok {
			return "", fmt.Errorf("stats section %q is a %T, not an object", section, stats[section])
		}
		fmt.Fprintf(&b, "%s:\n", section)
		for _, key := range sortedKeys(values) {
			fmt.Fprintf(&b, "\t%s = %s\n", key, formatStatValue(values[key]))
		}
	}
	return strings.TrimRight(b.String(), "\n"), nil
}

// formatStatValue renders a JSON-decoded value; whole numbers are printed
// without exponent or fraction.
func formatStatValue(v interface{}) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case nil:
		return ""
	default:
		return fmt.Sprint(v)
	}
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys(m map[string]interface{}) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
