package command

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/cli"
)

// kvExportCommand implements "shoal kv export".
type kvExportCommand struct{ baseCommand }

func newKVExportCommand(ui cli.Ui) *kvExportCommand {
	c := &kvExportCommand{}
	c.init(ui, "kv export", "Exports a tree from the KV store as JSON", `
Usage: shoal kv export [options] [PREFIX]

  Prints the keys under PREFIX (all keys without it) as JSON that
  "shoal kv import" and "consul kv import" read back.`, clientServerHTTP, nil)
	return c
}

func (c *kvExportCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	prefix, msg := optionalKeyArg(c.flags)
	if msg != "" {
		return c.usageError(msg)
	}
	client := c.client()
	if client == nil {
		return 1
	}
	pairs, _, err := client.KV().List(prefix, c.http.queryOptions())
	if err != nil {
		return c.fail("querying Shoal agent", err)
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
