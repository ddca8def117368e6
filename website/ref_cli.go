package website

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/command"
)

// CLICommands returns the CLI's command table — command.Commands plus the
// agent command — keyed by command path, as the shoal binary registers it.
func CLICommands() map[string]cli.CommandFactory {
	ui := cli.NewMockUi()
	cmds := command.Commands(ui)
	cmds["agent"] = command.AgentFactory(ui)
	return cmds
}

// CommandAnchor is the id of a command's section in the CLI reference.
func CommandAnchor(name string) string {
	return "cmd-" + strings.ReplaceAll(name, " ", "-")
}

// genCLI writes the CLI reference: every command's synopsis and its own
// help text.
func genCLI(*Inputs) ([]byte, error) {
	cmds := CLICommands()
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("# CLI reference\n\n")
	fmt.Fprintf(&b, "`shoal` is one binary: `shoal agent` runs an agent and the other %d commands talk to one over HTTP. "+
		"They reach the agent at `-http-addr`, else `SHOAL_HTTP_ADDR`, else `CONSUL_HTTP_ADDR`, else `127.0.0.1:8500`. "+
		"This page is generated from the CLI's command table and each command's own help (`shoal <command> -h`).\n\n",
		len(names)-1)
	b.WriteString("| Command | What it does |\n| --- | --- |\n")
	helps := map[string]string{}
	for _, n := range names {
		c, err := cmds[n]()
		if err != nil {
			return nil, fmt.Errorf("command %q: %w", n, err)
		}
		helps[n] = c.Help()
		fmt.Fprintf(&b, "| [`shoal %s`](#%s) | %s |\n", n, CommandAnchor(n), mdCell(c.Synopsis()))
	}
	b.WriteString("\n")
	for _, n := range names {
		fmt.Fprintf(&b, "## `shoal %s` {#%s}\n\n```text\n%s\n```\n\n", n, CommandAnchor(n), strings.TrimRight(helps[n], "\n"))
	}
	return []byte(b.String()), nil
}

// mdCell escapes s for a Markdown table cell.
func mdCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(s, "|", `\|`)
}
