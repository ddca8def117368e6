package command

import (
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// kvDeleteCommand implements "shoal kv delete".
type kvDeleteCommand struct {
	baseCommand
	cas         bool
	modifyIndex uint64
	recurse     bool
}

func newKVDeleteCommand(ui cli.Ui) *kvDeleteCommand {
	c := &kvDeleteCommand{}
	c.init(ui, "kv delete", "Removes data from the KV store", `
Usage: shoal kv delete [options] KEY_OR_PREFIX

  Deletes KEY, or with -recurse every key under the prefix. Deleting a key
  that does not exist succeeds.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.cas, "cas", false, "Delete only if the key's modify index is -modify-index.")
		fs.Uint64Var(&c.modifyIndex, "modify-index", 0, "The modify `index` for -cas.")
		fs.BoolVar(&c.recurse, "recurse", false, "Delete every key under the prefix.")
	})
	return c
}

func (c *kvDeleteCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	key, msg := optionalKeyArg(c.flags)
	if msg != "" {
		return c.usageError(msg)
	}
	if key == "" && !c.recurse {
		return c.usageError("Error! Missing KEY argument")
	}
	if c.cas && c.recurse {
		return c.usageError("Cannot specify both -cas and -recurse!")
	}
	if c.cas && c.modifyIndex == 0 {
		return c.usageError("Must specify -modify-index with -cas!")
	}
	client := c.client()
	if client == nil {
		return 1
	}
	kv, w := client.KV(), c.http.writeOptions()
	switch {
	case c.cas:
		ok, _, err := kv.DeleteCAS(&api.KVPair{Key: key, ModifyIndex: c.modifyIndex}, w)
		if err != nil {
			return c.fail(fmt.Sprintf("deleting key %s", key), err)
		}
		if !ok {
			c.ui.Error(fmt.Sprintf("Error! Did not delete key %s: CAS failed", key))
			return 1
		}
		c.ui.Output(fmt.Sprintf("Success! Deleted key: %s", key))
	case c.recurse:
		if _, err := kv.DeleteTree(key, w); err != nil {
			return c.fail(fmt.Sprintf("deleting prefix %s", key), err)
		}
		c.ui.Output(fmt.Sprintf("Success! Deleted keys with prefix: %s", key))
	default:
		if _, err := kv.Delete(key, w); err != nil {
			return c.fail(fmt.Sprintf("deleting key %s", key), err)
		}
		c.ui.Output(fmt.Sprintf("Success! Deleted key: %s", key))
	}
	return 0
}
