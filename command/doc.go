// Package command implements the shoal CLI: the sub-commands (members, join,
// leave, force-leave, info, operator raft ..., version) that talk to a
// running Shoal agent over its Consul-compatible HTTP API, and Run, which
// dispatches os.Args to them.
//
// Commands follow the conventions of Consul's CLI: flags come before
// positional arguments, usage errors exit 1 after printing the help text,
// failures to reach the agent print a single "Error connecting to Shoal
// agent at ADDR: ..." line and exit 1.
package command
