package command

import (
	"encoding/base64"
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
)

// kvGetCommand implements "shoal kv get".
type kvGetCommand struct {
	baseCommand
	base64    bool
	detailed  bool
	keys      bool
	recurse   bool
	separator string
}

func newKVGetCommand(ui cli.Ui) *kvGetCommand {
	c := &kvGetCommand{}
	c.init(ui, "kv get", "Retrieve or list data from the KV store", `
Usage: shoal kv get [options] [KEY_OR_PREFIX]

  Prints the value of KEY, or exits 1 if it does not exist. With -recurse,
  prints every key under the prefix; with -keys, lists the keys.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.base64, "base64", false, "Base64-encode the value.")
		fs.BoolVar(&c.detailed, "detailed", false, "Print the pair's metadata along with its value.")
		fs.BoolVar(&c.keys, "keys", false, "List the keys under the prefix instead of values.")
		fs.BoolVar(&c.recurse, "recurse", false, "Print every key under the prefix as key:value.")
		fs.StringVar(&c.separator, "separator", "/",
			"With -keys, list only up to the first occurrence of this `string` after the prefix; \"\" lists every key.")
	})
	return c
}

func (c *kvGetCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	key, msg := optionalKeyArg(c.flags)
	if msg != "" {
		return c.usageError(msg)
	}
	if key == "" && !c.keys && !c.recurse {
		return c.usageError("Error! Missing KEY argument")
	}
	client := c.client()
	if client == nil {
		return 1
	}
	kv := client.KV()
	switch {
	case c.keys:
		keys, _, err := kv.Keys(key, c.separator, c.http.queryOptions())
		if err != nil {
			return c.fail("querying Shoal agent", err)
		}
		for _, k := range keys {
			c.ui.Output(k)
		}
	case c.recurse:
		pairs, _, err := kv.List(key, c.http.queryOptions())
		if err != nil {
			return c.fail("querying Shoal agent", err)
		}
		for i, p := range pairs {
			if c.detailed {
				c.ui.Output(prettyKVPair(p, c.base64))
				if i < len(pairs)-1 {
					c.ui.Output("")
				}
				continue
			}
			val := string(p.Value)
			if c.base64 {
				val = base64.StdEncoding.EncodeToString(p.Value)
			}
			c.ui.Output(fmt.Sprintf("%s:%s", p.Key, val))
		}
	default:
		pair, _, err := kv.Get(key, c.http.queryOptions())
		if err != nil {
			return c.fail("querying Shoal agent", err)
		}
		if pair == nil {
			c.ui.Error(fmt.Sprintf("Error! No key exists at: %s", key))
			return 1
		}
		switch {
		case c.detailed:
			c.ui.Output(prettyKVPair(pair, c.base64))
		case c.base64:
			c.ui.Output(base64.StdEncoding.EncodeToString(pair.Value))
		default:
			c.ui.Output(string(pair.Value))
		}
	}
	return 0
}
