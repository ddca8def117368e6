package command

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
)

// kvExportCommand implements "shoal kv export".
type kvExportCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	help  string
}

func newKVExportCommand(ui cli.Ui) *kvExportCommand {
	c := &kvExportCommand{ui: ui}
	client, server := c.http.clientFlags(), c.http.serverFlags()
	c.flags = newFlagSet("kv export")
	mergeFlags(c.flags, client, server)
	c.help = helpText(`
Usage: shoal kv export [options] [PREFIX]

  Prints the keys under PREFIX (all keys without it) as JSON that
  "shoal kv import" and "consul kv import" read back.`,
		flagSection{"HTTP API Options", client}, flagSection{"Server Options", server})
	return c
}

func (c *kvExportCommand) Synopsis() string { return "Exports a tree from the KV store as JSON" }
func (c *kvExportCommand) Help() string     { return c.help }

func (c *kvExportCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	prefix, msg := optionalKeyArg(c.flags)
	if msg != "" {
		return usageError(c.ui, msg, c.help)
	}
	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	pairs, _, err := client.KV().List(prefix, c.http.queryOptions())
	if err != nil {
		c.ui.Error(agentError(addr, "querying Shoal agent", err))
		return 1
	}
	out := make([]kvExportEntry, len(pairs))
	for i, p := range pairs {
		out[i] = kvExportEntry{Key: p.Key, Flags: p.Flags, Value: base64.StdEncoding.EncodeToString(p.Value)}
	}
	b, err := json.MarshalIndent(out, "", "\t")
	if err != nil {
		c.ui.Error(fmt.Sprintf("Error exporting KV data: %s", err))
		return 1
	}
	c.ui.Output(string(b))
	return 0
}
