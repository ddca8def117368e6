package command

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// kvPutCommand implements "shoal kv put".
type kvPutCommand struct {
	baseCommand
	stdin       io.Reader
	acquire     bool
	release     bool
	session     string
	base64      bool
	cas         bool
	modifyIndex uint64
	kvFlags     uint64
}

func newKVPutCommand(ui cli.Ui) *kvPutCommand {
	c := &kvPutCommand{stdin: os.Stdin}
	c.init(ui, "kv put", "Sets or updates data in the KV store", `
Usage: shoal kv put [options] KEY [DATA]

  Writes DATA at KEY. DATA may be "@path" to read a file, "-" to read stdin,
  or the value itself; without it the value is empty.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.acquire, "acquire", false, "Obtain a lock on the key for -session; fails if another session holds it.")
		fs.BoolVar(&c.release, "release", false, "Release the lock -session holds on the key.")
		fs.StringVar(&c.session, "session", "", "The `session` for -acquire and -release.")
		fs.BoolVar(&c.base64, "base64", false, "The data is base64-encoded; decode it before writing.")
		fs.BoolVar(&c.cas, "cas", false, "Check-and-set: write only if the key's modify index is -modify-index (0: only if it does not exist).")
		fs.Uint64Var(&c.modifyIndex, "modify-index", 0, "The modify `index` for -cas.")
		fs.Uint64Var(&c.kvFlags, "flags", 0, "Unsigned integer `flags` to store with the key.")
	})
	return c
}

func (c *kvPutCommand) Run(args []string) int {
	if !c.parse(args) {
		return 1
	}
	var key, data string
	switch c.flags.NArg() {
	case 0:
		return c.usageError("Error! Missing KEY argument")
	case 1:
		key = c.flags.Arg(0)
	case 2:
		key = c.flags.Arg(0)
		d, err := readDataArg(c.flags.Arg(1), c.stdin)
		if err != nil {
			c.ui.Error(fmt.Sprintf("Error! %v", err))
			return 1
		}
		data = d
	default:
		return c.usageError(fmt.Sprintf("Too many arguments (expected 1 or 2, got %d)", c.flags.NArg()))
	}
	key = kvKeyArg(key)
	if key == "" {
		return c.usageError("Error! Missing KEY argument")
	}
	if (c.acquire || c.release) && c.session == "" {
		return c.usageError("Error! Missing -session (required with -acquire and -release)")
	}
	value := []byte(data)
	if c.base64 {
		v, err := base64.StdEncoding.DecodeString(data)
		if err != nil {
			c.ui.Error(fmt.Sprintf("Error! Cannot base 64 decode data: %s", err))
			return 1
		}
		value = v
	}
	client := c.client()
	if client == nil {
		return 1
	}
	pair := &api.KVPair{Key: key, Value: value, Flags: c.kvFlags, ModifyIndex: c.modifyIndex, Session: c.session}
	kv, w := client.KV(), c.http.writeOptions()
	switch {
	case c.cas:
		ok, _, err := kv.CAS(pair, w)
		if err != nil {
			return c.fail(fmt.Sprintf("writing to %s", key), err)
		}
		if !ok {
			c.ui.Error(fmt.Sprintf("Error! Did not write to %s: CAS failed", key))
			return 1
		}
		c.ui.Output(fmt.Sprintf("Success! Data written to: %s", key))
	case c.acquire:
		ok, _, err := kv.Acquire(pair, w)
		if err != nil {
			return c.fail(fmt.Sprintf("acquiring lock on %s", key), err)
		}
		if !ok {
			c.ui.Error("Error! Did not acquire lock")
			return 1
		}
		c.ui.Output(fmt.Sprintf("Success! Lock acquired on: %s", key))
	case c.release:
		ok, _, err := kv.Release(pair, w)
		if err != nil {
			return c.fail(fmt.Sprintf("releasing lock on %s", key), err)
		}
		if !ok {
			c.ui.Error("Error! Did not release lock")
			return 1
		}
		c.ui.Output(fmt.Sprintf("Success! Lock released on: %s", key))
	default:
		if _, err := kv.Put(pair, w); err != nil {
			return c.fail(fmt.Sprintf("writing to %s", key), err)
		}
		c.ui.Output(fmt.Sprintf("Success! Data written to: %s", key))
	}
	return 0
}
