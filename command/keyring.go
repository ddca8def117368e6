package command

import (
	"flag"
	"fmt"
	"sort"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/keyring"
)

// keygenCommand implements "shoal keygen".
type keygenCommand struct{ baseCommand }

func newKeygenCommand(ui cli.Ui) *keygenCommand {
	c := &keygenCommand{}
	c.init(ui, "keygen", "Generates a new gossip encryption key", `
Usage: shoal keygen

  Generates a new 32-byte gossip encryption key, base64-encoded, for the
  agent's -encrypt flag or "encrypt" setting and for "shoal keyring
  -install".`, noHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *keygenCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	key, err := keyring.Generate()
	if err != nil {
		c.ui.Error("Error: " + err.Error())
		return 1
	}
	c.ui.Output(key)
	return 0
}

// keyringCommand implements "shoal keyring", Consul's keyring command: it
// lists, installs, makes primary and removes gossip keys across the cluster
// through /v1/operator/keyring.
type keyringCommand struct {
	baseCommand
	install, use, remove string
	list, listPrimary    bool
}

func newKeyringCommand(ui cli.Ui) *keyringCommand {
	c := &keyringCommand{}
	c.init(ui, "keyring", "Manages gossip layer encryption keys", `
Usage: shoal keyring [options]

  Manages the gossip encryption keys of a running cluster. Exactly one of
  -install, -use, -remove, -list or -list-primary is required. Each
  operation reaches every member through gossip and reports the members
  that failed. To rotate:

      $ shoal keyring -install "$(shoal keygen)"   # prints nothing
      $ shoal keyring -use <new key>
      $ shoal keyring -remove <old key>

  Every agent keeps its keys in <data-dir>/serf/local.keyring, so the new
  key survives restarts.`, clientHTTP, func(fs *flag.FlagSet) {
		fs.StringVar(&c.install, "install", "", "Install a new gossip encryption `key` on every member. "+
			"It is then accepted but not yet used to send.")
		fs.StringVar(&c.use, "use", "", "Make an installed `key` the primary one, used to send, on every member.")
		fs.StringVar(&c.remove, "remove", "", "Remove a `key` from every member. The primary key cannot be removed.")
		fs.BoolVar(&c.list, "list", false, "List the installed keys and how many members hold each.")
		fs.BoolVar(&c.listPrimary, "list-primary", false, "List the primary keys and how many members use each.")
	})
	return c
}

// Run implements cli.Command.
func (c *keyringCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	n := 0
	for _, set := range []bool{c.install != "", c.use != "", c.remove != "", c.list, c.listPrimary} {
		if set {
			n++
		}
	}
	if n != 1 {
		return c.usageError("Exactly one of -install, -use, -remove, -list or -list-primary is required.")
	}
	for _, k := range []string{c.install, c.use, c.remove} {
		if k == "" {
			continue
		}
		if _, err := keyring.Decode(k); err != nil {
			c.ui.Error("Error: " + err.Error())
			return 1
		}
	}
	client := c.client()
	if client == nil {
		return 1
	}
	op := client.Operator()
	var err error
	switch {
	case c.install != "":
		c.ui.Info("==> Installing new gossip encryption key...")
		err = op.KeyringInstall(c.install, nil)
	case c.use != "":
		c.ui.Info("==> Changing primary gossip encryption key...")
		err = op.KeyringUse(c.use, nil)
	case c.remove != "":
		c.ui.Info("==> Removing gossip encryption key...")
		err = op.KeyringRemove(c.remove, nil)
	default:
		c.ui.Info("==> Gathering installed encryption keys...")
		resp, lerr := op.KeyringList(nil)
		if lerr != nil {
			return c.fail("listing keys", lerr)
		}
		for _, r := range resp {
			counts := r.Keys
			if c.listPrimary {
				counts = r.PrimaryKeys
			}
			c.ui.Output("\nLAN:")
			keys := make([]string, 0, len(counts))
			for k := range counts {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				c.ui.Output(fmt.Sprintf("  %s [%d/%d]", k, counts[k], r.NumNodes))
			}
		}
		return 0
	}
	if err != nil {
		return c.fail("changing the keyring", err)
	}
	return 0
}

// securityCommands are keygen, keyring and the tls commands.
func securityCommands(ui cli.Ui) map[string]cli.CommandFactory {
	cmds := tlsCommands(ui)
	cmds["keygen"] = func() (cli.Command, error) { return newKeygenCommand(ui), nil }
	cmds["keyring"] = func() (cli.Command, error) { return newKeyringCommand(ui), nil }
	return cmds
}
