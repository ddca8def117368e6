// Package command implements the shoal CLI: the sub-commands (members, join,
// kv ..., svc ..., operator raft ..., version and the rest) that talk to a
// running Shoal agent over its Consul-compatible HTTP API, and Run, which
// dispatches os.Args to them.
//
// Every command embeds baseCommand (base.go), the one skeleton that owns
// the shared HTTP API flags, the help text generated from the flags,
// argument checks, client construction and error printing; a command adds
// its own flags and its Run.
//
// Commands follow the conventions of Consul's CLI: flags come before
// positional arguments, usage errors exit 1 after printing the help text,
// failures to reach the agent print a single "Error connecting to Shoal
// agent at ADDR: ..." line and exit 1.
package command
