// Command shoal is the Shoal agent and CLI: a Consul-compatible
// service-discovery platform that also schedules containers.
package main

import (
	"os"

	"github.com/hashicorp/cli"
	"github.com/shoalproject/shoal/command"
)

func main() {
	ui := &cli.BasicUi{Reader: os.Stdin, Writer: os.Stdout, ErrorWriter: os.Stderr}
	os.Exit(command.Run(os.Args[1:], command.AgentFactory(ui)))
}
