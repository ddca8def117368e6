package command

import (
	"flag"
	"fmt"
	"sort"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/keyring"
)

// keygenCommand implements "shoal keygen".
type keygenCommand struct {
	ui    cli.Ui
	flags *flag.FlagSet
	help  string
}

func newKeygenCommand(ui cli.Ui) *keygenCommand {
	c := &keygenCommand{ui: ui, flags: newFlagSet("keygen")}
	c.help = helpText(`
Usage: shoal keygen

  Generates a new 32-byte gossip encryption key, base64-encoded, for the
  agent's -encrypt flag or "encrypt" setting and for "shoal keyring
  -install".`)
	return c
}

// Synopsis implements cli.Command.
func (c *keygenCommand) Synopsis() string { return "Generates a new gossip encryption key" }

// Help implements cli.Command.
func (c *keygenCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *keygenCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	if msg := checkArgCount(c.flags.NArg(), 0); msg != "" {
		return usageError(c.ui, msg, c.help)
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
	ui    cli.Ui
	flags *flag.FlagSet
	http  httpFlags
	help  string

	install, use, remove string
	list, listPrimary    bool
}

func newKeyringCommand(ui cli.Ui) *keyringCommand {
	c := &keyringCommand{ui: ui}
	client := c.http.clientFlags()
	ops := newFlagSet("keyring")
	ops.StringVar(&c.install, "install", "", "Install a new gossip encryption `key` on every member. "+
		"It is then accepted but not yet used to send.")
	ops.StringVar(&c.use, "use", "", "Make an installed `key` the primary one, used to send, on every member.")
	ops.StringVar(&c.remove, "remove", "", "Remove a `key` from every member. The primary key cannot be removed.")
	ops.BoolVar(&c.list, "list", false, "List the installed keys and how many members hold each.")
	ops.BoolVar(&c.listPrimary, "list-primary", false, "List the primary keys and how many members use each.")
	c.flags = newFlagSet("keyring")
	mergeFlags(c.flags, ops, client)
	c.help = helpText(`
Usage: shoal keyring [options]

  Manages the gossip encryption keys of a running cluster. Exactly one of
  -install, -use, -remove, -list or -list-primary is required. Each
  operation reaches every member through gossip and reports the members
  that failed. To rotate:

      $ shoal keyring -install "$(shoal keygen)"   # prints nothing
      $ shoal keyring -use <new key>
      $ shoal keyring -remove <old key>

  Every agent keeps its keys in <data-dir>/serf/local.keyring, so the new
  key survives restarts.`,
		flagSection{"Keyring Options", ops}, flagSection{"HTTP API Options", client})
	return c
}

// Synopsis implements cli.Command.
func (c *keyringCommand) Synopsis() string { return "Manages gossip layer encryption keys" }

// Help implements cli.Command.
func (c *keyringCommand) Help() string { return c.help }

// Run implements cli.Command.
func (c *keyringCommand) Run(args []string) int {
	if !parseFlags(c.ui, c.flags, args, c.help) {
		return 1
	}
	if msg := checkArgCount(c.flags.NArg(), 0); msg != "" {
		return usageError(c.ui, msg, c.help)
	}
	n := 0
	for _, set := range []bool{c.install != "", c.use != "", c.remove != "", c.list, c.listPrimary} {
		if set {
			n++
		}
	}
	if n != 1 {
		return usageError(c.ui, "Exactly one of -install, -use, -remove, -list or -list-primary is required.", c.help)
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
	client, addr, err := c.http.apiClient()
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return 1
	}
	op := client.Operator()
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
			c.ui.Error(agentError(addr, "listing keys", lerr))
			return 1
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
		c.ui.Error(agentError(addr, "changing the keyring", err))
		return 1
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
