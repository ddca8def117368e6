package command

import (
	"encoding/base64"
	"flag"
	"fmt"

	"github.com/hashicorp/cli"
)

// kvGetCommand implements "shoal kv get".
type kvGetCommand struct {
	ui        cli.Ui
	flags     *flag.FlagSet
	http      httpFlags
	help      string
	base64    bool
	detailed  bool
	keys      bool
	recurse   bool
	separator string
}

func newKVGetCommand(ui cli.Ui) *kvGetCommand {
	c := &kvGetCommand{ui: ui}
	cmd := newFlagSet("kv get")
	cmd.BoolVar(&c.base64, "base64", false, "Base64-encode the value.")
	cmd.BoolVar(&c.detailed, "detailed", false, "Print the pair's metadata along with its value.")
	cmd.BoolVar(&c.keys, "keys", false, "List the keys under the prefix instead of values.")
	cmd.BoolVar(&c.recurse, "recurse", false, "Print every key under the prefix as key:value.")
	cmd.StringVar(&c.separator, "separator", "/",
		"With -keys, list only up to the first occurrence of this `string` after the prefix; \"\" lists every key.")
	client, server := c.http.clientFlags(), c.http.serverFlags()
	c.flags = newFlagSet("kv get")
	mergeFlags(c.flags, client, server, cmd)
	c.help = helpText(`
Usage: shoal kv get [options] [KEY_OR_PREFIX]

  Prints the value of KEY, or exits 1 if it does not exist. With -recurse,
  prints every key under the prefix; with -keys, lists the keys.`,
		flagSection{"HTTP API Options", client}, flagSection{"Server Options", server},
		flagSection{"Command Options", cmd})
	return c
}

func (c *kvGetCommand) Synopsis() string { return "Retrieve or list data from the KV store" }
func (c *kvGetCommand) Help() string     { return c.help }

func (c *kvGetCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	key, msg := optionalKeyArg(c.flags)
	if msg != "" {
		return usageError(c.ui, msg, c.help)
	}
	if key == "" && !c.keys && !c.recurse {
		return usageError(c.ui, "Error! Missing KEY argument", c.help)
	}
	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	kv := client.KV()
	switch {
	case c.keys:
		keys, _, err := kv.Keys(key, c.separator, c.http.queryOptions())
		if err != nil {
			c.ui.Error(agentError(addr, "querying Shoal agent", err))
			return 1
		}
		for _, k := range keys {
			c.ui.Output(k)
		}
	case c.recurse:
		pairs, _, err := kv.List(key, c.http.queryOptions())
		if err != nil {
			c.ui.Error(agentError(addr, "querying Shoal agent", err))
			return 1
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
			c.ui.Error(agentError(addr, "querying Shoal agent", err))
			return 1
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
