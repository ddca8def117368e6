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
	baseCommand
	stdin  io.Reader
	prefix string
}

func newKVImportCommand(ui cli.Ui) *kvImportCommand {
	c := &kvImportCommand{stdin: os.Stdin}
	c.init(ui, "kv import", "Imports a tree stored as JSON to the KV store", `
Usage: shoal kv import [options] DATA

  Writes the keys of DATA, the JSON "kv export" prints. DATA may be "@path"
  to read a file, "-" to read stdin, or the JSON itself.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.prefix, "prefix", "", "Prepend this `prefix` to every imported key.")
	})
	return c
}

func (c *kvImportCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	switch c.flags.NArg() {
	case 0:
		return c.usageError("Error! Missing DATA argument")
	case 1:
	default:
		return c.usageError(fmt.Sprintf("Too many arguments (expected 1, got %d)", c.flags.NArg()))
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
	client := c.client()
	if client == nil {
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
			return c.fail(fmt.Sprintf("importing key %s", key), err)
		}
		c.ui.Info(fmt.Sprintf("Imported: %s", key))
	}
	return 0
}
