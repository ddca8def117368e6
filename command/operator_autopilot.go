package command

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/cli"
	"github.com/hashicorp/consul/api"
)

// newOperatorAutopilotCommand returns the "shoal operator autopilot"
// parent command.
func newOperatorAutopilotCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Provides tools for modifying Autopilot configuration",
		help: `
Usage: shoal operator autopilot <subcommand> [options]

  Reads and changes the autopilot configuration the servers share, and
  shows the servers' health as the leader sees it.

  Stop removing dead servers automatically:

      $ shoal operator autopilot set-config -cleanup-dead-servers=false

  Show the configuration and the state:

      $ shoal operator autopilot get-config
      $ shoal operator autopilot state`,
	}
}

// autopilotGetConfigCommand implements "shoal operator autopilot get-config".
type autopilotGetConfigCommand struct{ baseCommand }

// newAutopilotGetConfigCommand returns a ready-to-run get-config command.
func newAutopilotGetConfigCommand(ui cli.Ui) *autopilotGetConfigCommand {
	c := &autopilotGetConfigCommand{}
	c.init(ui, "get-config", "Display the current Autopilot configuration", `
Usage: shoal operator autopilot get-config [options]

  Displays the autopilot configuration in force: the stored one, or the
  servers' defaults while none was stored.`, clientServerHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *autopilotGetConfigCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	client := c.client()
	if client == nil {
		return 1
	}
	conf, err := client.Operator().AutopilotGetConfiguration(c.http.queryOptions())
	if err != nil {
		return c.fail("querying Autopilot configuration", err)
	}
	c.ui.Output(formatAutopilotConfig(conf))
	return 0
}

// formatAutopilotConfig renders conf as Consul's get-config does.
func formatAutopilotConfig(conf *api.AutopilotConfiguration) string {
	return fmt.Sprintf("CleanupDeadServers = %v\nLastContactThreshold = %s\nMaxTrailingLogs = %d\nMinQuorum = %d\n"+
		"ServerStabilizationTime = %s\nRedundancyZoneTag = %q\nDisableUpgradeMigration = %v\nUpgradeVersionTag = %q",
		conf.CleanupDeadServers, conf.LastContactThreshold.Duration(), conf.MaxTrailingLogs, conf.MinQuorum,
		conf.ServerStabilizationTime.Duration(), conf.RedundancyZoneTag, conf.DisableUpgradeMigration, conf.UpgradeVersionTag)
}

// autopilotSetConfigCommand implements "shoal operator autopilot set-config".
type autopilotSetConfigCommand struct {
	baseCommand
	cleanup, disableUpgrade          bool
	lastContact, stabilization       time.Duration
	maxTrailing                      uint64
	minQuorum                        uint
	redundancyZoneTag, upgradeVerTag string
}

// newAutopilotSetConfigCommand returns a ready-to-run set-config command.
func newAutopilotSetConfigCommand(ui cli.Ui) *autopilotSetConfigCommand {
	c := &autopilotSetConfigCommand{}
	c.init(ui, "set-config", "Modify the current Autopilot configuration", `
Usage: shoal operator autopilot set-config [options]

  Changes the autopilot configuration: reads the one in force, changes the
  options given, and stores it only if no one changed it meanwhile (a
  check-and-set on its ModifyIndex). Options not given keep their value.`, clientServerHTTP, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.cleanup, "cleanup-dead-servers", false,
			"Whether the leader removes servers that have been failed for the grace period (-dead-server-grace).")
		fs.DurationVar(&c.lastContact, "last-contact-threshold", 0,
			"A server not heard from by the leader for longer than this `duration` is unhealthy.")
		fs.Uint64Var(&c.maxTrailing, "max-trailing-logs", 0,
			"A server more than this many log entries behind the leader is unhealthy.")
		fs.UintVar(&c.minQuorum, "min-quorum", 0,
			"Dead-server cleanup never leaves fewer than this many voters (0: no floor).")
		fs.DurationVar(&c.stabilization, "server-stabilization-time", 0,
			"Stored for Consul clients; Shoal does not promote servers.")
		fs.StringVar(&c.redundancyZoneTag, "redundancy-zone-tag", "",
			"Stored for Consul clients; Shoal has no redundancy zones.")
		fs.BoolVar(&c.disableUpgrade, "disable-upgrade-migration", false,
			"Stored for Consul clients; Shoal has no upgrade migrations.")
		fs.StringVar(&c.upgradeVerTag, "upgrade-version-tag", "",
			"Stored for Consul clients; Shoal has no upgrade migrations.")
	})
	return c
}

// Run implements cli.Command.
func (c *autopilotSetConfigCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	if c.lastContact < 0 || c.stabilization < 0 {
		return c.usageError("Durations must not be negative.")
	}
	client := c.client()
	if client == nil {
		return 1
	}
	op := client.Operator()
	conf, err := op.AutopilotGetConfiguration(c.http.queryOptions())
	if err != nil {
		return c.fail("querying Autopilot configuration", err)
	}
	c.flags.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "cleanup-dead-servers":
			conf.CleanupDeadServers = c.cleanup
		case "last-contact-threshold":
			conf.LastContactThreshold = api.NewReadableDuration(c.lastContact)
		case "max-trailing-logs":
			conf.MaxTrailingLogs = c.maxTrailing
		case "min-quorum":
			conf.MinQuorum = c.minQuorum
		case "server-stabilization-time":
			conf.ServerStabilizationTime = api.NewReadableDuration(c.stabilization)
		case "redundancy-zone-tag":
			conf.RedundancyZoneTag = c.redundancyZoneTag
		case "disable-upgrade-migration":
			conf.DisableUpgradeMigration = c.disableUpgrade
		case "upgrade-version-tag":
			conf.UpgradeVersionTag = c.upgradeVerTag
		}
	})
	ok, err := op.AutopilotCASConfiguration(conf, c.http.writeOptions())
	if err != nil {
		return c.fail("setting Autopilot configuration", err)
	}
	if !ok {
		c.ui.Error("Configuration could not be atomically updated, please try again")
		return 1
	}
	c.ui.Output("Configuration updated!")
	return 0
}

// autopilotStateCommand implements "shoal operator autopilot state".
type autopilotStateCommand struct{ baseCommand }

// newAutopilotStateCommand returns a ready-to-run state command.
func newAutopilotStateCommand(ui cli.Ui) *autopilotStateCommand {
	c := &autopilotStateCommand{}
	c.init(ui, "state", "Display the current Autopilot state", `
Usage: shoal operator autopilot state [options]

  Displays the servers' health as the leader sees it: whether the cluster
  is healthy, how many servers it can lose, and each server's status.`, clientServerHTTP, nil)
	return c
}

// Run implements cli.Command.
func (c *autopilotStateCommand) Run(args []string) int {
	if !c.parseN(args, 0) {
		return 1
	}
	client := c.client()
	if client == nil {
		return 1
	}
	st, err := client.Operator().AutopilotState(c.http.queryOptions())
	if err != nil {
		return c.fail("querying Autopilot state", err)
	}
	c.ui.Output(formatAutopilotState(st))
	return 0
}

// formatAutopilotState renders st as Consul's state command does, servers
// in ID order.
func formatAutopilotState(st *api.AutopilotState) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Healthy:                      %v\n", st.Healthy)
	fmt.Fprintf(&b, "Failure Tolerance:            %d\n", st.FailureTolerance)
	fmt.Fprintf(&b, "Optimistic Failure Tolerance: %d\n", st.OptimisticFailureTolerance)
	fmt.Fprintf(&b, "Leader:                       %s\n", st.Leader)
	b.WriteString("Voters:\n")
	for _, v := range st.Voters {
		fmt.Fprintf(&b, "   %s\n", v)
	}
	b.WriteString("\nServers:")
	ids := make([]string, 0, len(st.Servers))
	for id := range st.Servers {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		s := st.Servers[id]
		fmt.Fprintf(&b, "\n   %s\n", id)
		fmt.Fprintf(&b, "      Name:            %s\n", s.Name)
		fmt.Fprintf(&b, "      Address:         %s\n", s.Address)
		fmt.Fprintf(&b, "      Version:         %s\n", s.Version)
		fmt.Fprintf(&b, "      Status:          %s\n", s.Status)
		fmt.Fprintf(&b, "      Node Status:     %s\n", s.NodeStatus)
		fmt.Fprintf(&b, "      Healthy:         %v\n", s.Healthy)
		fmt.Fprintf(&b, "      Last Contact:    %s\n", s.LastContact.Duration())
		fmt.Fprintf(&b, "      Last Term:       %d\n", s.LastTerm)
		fmt.Fprintf(&b, "      Last Index:      %d", s.LastIndex)
	}
	return b.String()
}
