package command

import (
	"flag"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// httpGroups says which of the shared HTTP API flags a command takes, and
// where its help shows them.
type httpGroups int

const (
	// noHTTP: the command does not talk to an agent (version, snapshot
	// inspect).
	noHTTP httpGroups = iota
	// clientHTTP: -http-addr and -token, shown before the command's own.
	clientHTTP
	// clientServerHTTP: clientHTTP plus -datacenter and -stale.
	clientServerHTTP
	// clientHTTPLast: clientHTTP, shown after the command's own (svc and
	// overlay, which lead with what the command does).
	clientHTTPLast
)

// baseCommand is the skeleton of every shoal command (a cli.Command): the
// UI, the shared HTTP API flags and the command's own, parsed as one
// FlagSet and shown in groups, the help text and synopsis, and the steps
// every Run takes: parse the flags, check the arguments, build the API
// client, report a failed call. A command embeds it, calls init from its
// constructor and implements Run; usage problems exit 1 after printing the
// problem and the help, as Consul's commands do.
type baseCommand struct {
	ui       cli.Ui
	http     httpFlags
	flags    *flag.FlagSet
	help     string
	synopsis string
	// addr is the agent address client returned, quoted in errors.
	addr string
}

// init sets the command up. name names its FlagSet; usage opens the help
// (its first line is the "Usage: ..." line); own, if not nil, binds the
// command's own flags.
func (c *baseCommand) init(ui cli.Ui, name, synopsis, usage string, groups httpGroups, own func(fs *flag.FlagSet)) {
	c.ui, c.synopsis = ui, synopsis
	cmd := newFlagSet(name)
	if own != nil {
		own(cmd)
	}
	var sections []flagSection
	c.flags = newFlagSet(name)
	switch groups {
	case noHTTP:
		sections = []flagSection{{"Command Options", cmd}}
	case clientHTTP:
		client := c.http.clientFlags()
		sections = []flagSection{{"HTTP API Options", client}, {"Command Options", cmd}}
	case clientServerHTTP:
		client, server := c.http.clientFlags(), c.http.serverFlags()
		sections = []flagSection{{"HTTP API Options", client}, {"Server Options", server}, {"Command Options", cmd}}
	case clientHTTPLast:
		client := c.http.clientFlags()
		sections = []flagSection{{"Command Options", cmd}, {"HTTP API Options", client}}
	}
	for _, s := range sections {
		mergeFlags(c.flags, s.flags)
	}
	c.help = helpText(usage, sections...)
}

// Synopsis implements cli.Command.
func (c *baseCommand) Synopsis() string { return c.synopsis }

// Help implements cli.Command.
func (c *baseCommand) Help() string { return c.help }

// parse parses args. It reports whether to go on; if not, it has printed
// the problem and the help, and the command exits 1.
func (c *baseCommand) parse(args []string) bool {
	return parseFlags(c.ui, c.flags, args, c.help)
}

// parseN is parse for a command that takes exactly n arguments.
func (c *baseCommand) parseN(args []string, n int) bool {
	if !c.parse(args) {
		return false
	}
	if msg := checkArgCount(c.flags.NArg(), n); msg != "" {
		c.usageError(msg)
		return false
	}
	return true
}

// usageError prints msg and the help, and returns the exit code 1.
func (c *baseCommand) usageError(msg string) int {
	return usageError(c.ui, msg, c.help)
}

// client builds the API client for the agent the flags and environment
// select. It returns nil after printing why when it cannot; the command
// then exits 1.
func (c *baseCommand) client() *api.Client {
	client, addr, err := c.http.apiClient()
	c.addr = addr
	if err != nil {
		c.ui.Error(oneLine("Error " + err.Error()))
		return nil
	}
	return client
}

// fail prints a failed API call (see agentError) and returns the exit code 1.
func (c *baseCommand) fail(action string, err error) int {
	c.ui.Error(agentError(c.addr, action, err))
	return 1
}

// helpOnlyCommand is a parent command ("operator", "svc") that only groups
// sub-commands: running it prints its help, to which cli.CLI appends the
// list of sub-commands.
type helpOnlyCommand struct {
	synopsis string
	help     string
}

// Synopsis implements cli.Command.
func (c *helpOnlyCommand) Synopsis() string { return c.synopsis }

// Help implements cli.Command.
func (c *helpOnlyCommand) Help() string { return strings.TrimSpace(c.help) }

// Run implements cli.Command; it always asks cli.CLI to show the help.
func (c *helpOnlyCommand) Run([]string) int { return cli.RunResultHelp }
