package command

// newOperatorCommand returns the "shoal operator" parent command.
func newOperatorCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Provides cluster-level tools for Shoal operators",
		help: `
Usage: shoal operator <subcommand> [options]

  Provides cluster-level tools for Shoal operators, such as inspecting and
  repairing the Raft peer set. These commands can disrupt the cluster if
  misused; use them with care.`,
	}
}

// newOperatorRaftCommand returns the "shoal operator raft" parent command.
func newOperatorRaftCommand() *helpOnlyCommand {
	return &helpOnlyCommand{
		synopsis: "Inspects and manipulates the Raft peer set",
		help: `
Usage: shoal operator raft <subcommand> [options]

  Inspects and manipulates the Raft configuration of the Shoal servers.

  List the current Raft peers:

      $ shoal operator raft list-peers

  Remove a stale peer:

      $ shoal operator raft remove-peer -id=<id>

  Hand the leadership to another server before maintenance:

      $ shoal operator raft transfer-leader -id=<id>`,
	}
}
