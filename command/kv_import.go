package command

import (
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// kvImportCommand implements "shoal kv import".
type kvImportCommand struct {
	ui     cli.Ui
	flags  *flag.FlagSet
	http   httpFlags
	help   string
	stdin  io.Reader
	prefix string
}

func newKVImportCommand(ui cli.Ui) *kvImportCommand {
	c := &kvImportCommand{ui: ui, stdin: os.Stdin}
	cmd := newFlagSet("kv import")
	cmd.StringVar(&c.prefix, "prefix", "", "Prepend this `prefix` to every imported key.")
	client, server := c.http.clientFlags(), c.http.serverFlags()
	c.flags = newFlagSet("kv import")
	mergeFlags(c.flags, client, server, cmd)
	c.help = helpText(`
Usage: shoal kv import [options] DATA

  Writes the keys of DATA, the JSON "kv export" prints. DATA may be "@path"
  to read a file, "-" to read stdin, or the JSON itself.`,
		flagSection{"HTTP API Options", client}, flagSection{"Server Options", server},
		flagSection{"Command Options", cmd})
	return c
}

func (c *kvImportCommand) Synopsis() string { return "Imports a tree stored as JSON to the KV store" }
func (c *kvImportCommand) Help() string     { return c.help }

func (c *kvImportCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	switch c.flags.NArg() {
	case 0:
		return usageError(c.ui, "Error! Missing DATA argument", c.help)
	case 1:
	default:
		return usageError(c.ui, fmt.Sprintf("Too many arguments (expected 1, got %d)", c.flags.NArg()), c.help)
	}
	data, err := readDataArg(c.flags.Arg(0), c.stdin)
	if err != nil {
		c.ui.Error(fmt.Sprintf("Error! %v", err))
		return 1
	}
	var entries []kvExportEntry
	if err := json.Unmarshal([]byte(data), &entries); err != nil {
		c.ui.Error(fmt.Sprintf("Cannot unmarshal data: %s", err))
		return 1
	}
	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	for _, e := range entries {
		value, err := base64.StdEncoding.DecodeString(e.Value)
		if err != nil {
			c.ui.Error(fmt.Sprintf("Error base 64 decoding value for key %s: %s", e.Key, err))
			return 1
		}
		key := c.prefix + e.Key
		if _, err := client.KV().Put(&api.KVPair{Key: key, Flags: e.Flags, Value: value}, c.http.writeOptions()); err != nil {
			c.ui.Error(agentError(addr, fmt.Sprintf("importing key %s", key), err))
			return 1
		}
		c.ui.Info(fmt.Sprintf("Imported: %s", key))
	}
	return 0
}
