package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// kvDeleteCommand implements "shoal kv delete".
type kvDeleteCommand struct {
	ui          cli.Ui
	flags       *flag.FlagSet
	http        httpFlags
	help        string
	cas         bool
	modifyIndex uint64
	recurse     bool
}

func newKVDeleteCommand(ui cli.Ui) *kvDeleteCommand {
	c := &kvDeleteCommand{ui: ui}
	cmd := newFlagSet("kv delete")
	cmd.BoolVar(&c.cas, "cas", false, "Delete only if the key's modify index is -modify-index.")
	cmd.Uint64Var(&c.modifyIndex, "modify-index", 0, "The modify `index` for -cas.")
	cmd.BoolVar(&c.recurse, "recurse", false, "Delete every key under the prefix.")
	client, server := c.http.clientFlags(), c.http.serverFlags()
	c.flags = newFlagSet("kv delete")
	mergeFlags(c.flags, client, server, cmd)
	c.help = helpText(`
Usage: shoal kv delete [options] KEY_OR_PREFIX

  Deletes KEY, or with -recurse every key under the prefix. Deleting a key
  that does not exist succeeds.`,
		flagSection{"HTTP API Options", client}, flagSection{"Server Options", server},
		flagSection{"Command Options", cmd})
	return c
}

func (c *kvDeleteCommand) Synopsis() string { return "Removes data from the KV store" }
func (c *kvDeleteCommand) Help() string     { return c.help }

func (c *kvDeleteCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	key, msg := optionalKeyArg(c.flags)
	if msg != "" {
		return usageError(c.ui, msg, c.help)
	}
	if key == "" && !c.recurse {
		return usageError(c.ui, "Error! Missing KEY argument", c.help)
	}
	if c.cas && c.recurse {
		return usageError(c.ui, "Cannot specify both -cas and -recurse!", c.help)
	}
	if c.cas && c.modifyIndex == 0 {
		return usageError(c.ui, "Must specify -modify-index with -cas!", c.help)
	}
	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	kv, w := client.KV(), c.http.writeOptions()
	switch {
	case c.cas:
		ok, _, err := kv.DeleteCAS(&api.KVPair{Key: key, ModifyIndex: c.modifyIndex}, w)
		if err != nil {
			c.ui.Error(agentError(addr, fmt.Sprintf("deleting key %s", key), err))
			return 1
		}
		if !ok {
			c.ui.Error(fmt.Sprintf("Error! Did not delete key %s: CAS failed", key))
			return 1
		}
		c.ui.Output(fmt.Sprintf("Success! Deleted key: %s", key))
	case c.recurse:
		if _, err := kv.DeleteTree(key, w); err != nil {
			c.ui.Error(agentError(addr, fmt.Sprintf("deleting prefix %s", key), err))
			return 1
		}
		c.ui.Output(fmt.Sprintf("Success! Deleted keys with prefix: %s", key))
	default:
		if _, err := kv.Delete(key, w); err != nil {
			c.ui.Error(agentError(addr, fmt.Sprintf("deleting key %s", key), err))
			return 1
		}
		c.ui.Output(fmt.Sprintf("Success! Deleted key: %s", key))
	}
	return 0
}
