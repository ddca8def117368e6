package command

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/cli"
)

// infoCommand implements "shoal info".
type infoCommand struct{ baseCommand }

// newInfoCommand returns a ready-to-run info command.
func newInfoCommand(ui cli.Ui) *infoCommand {
	c := &infoCommand{}
	c.init(ui, "info", "Provides debugging information for operators", `
Usage: shoal info [options]

  Provides debugging information for operators: the "Stats" section of
  /v1/agent/self, one block per subsystem, keys sorted.`, clientHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *infoCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}

	client := c.client()
	if client == nil {
		return 1
	}
	self, err := client.Agent().Self()
	if err != nil {
		return c.fail("querying agent", err)
	}
	stats, ok := self["Stats"]
	if !ok {
		c.ui.Error(fmt.Sprintf("Error querying agent: response from %s has no Stats section", c.addr))
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
