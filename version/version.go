// Package version reports the version of the Shoal binary and the wire
// protocol it speaks.
package version

import "fmt"

// Version is the semantic version of this Shoal release.
const Version = "0.1.0"

// ProtocolVersion is the version of the Shoal cluster protocol spoken by
// this build; servers advertise it in the Serf tag shoal_vsn.
//
//   - 2: the scheduler's plans of one evaluation may be one Raft entry
//     (fsm.AllocPlanBatchRequestType). A leader sends such entries only
//     when every server advertises 2 or more, so that a cluster being
//     upgraded one server at a time never logs an entry a server cannot
//     apply.
const ProtocolVersion = 2

// GitCommit is the git commit the binary was built from. It is empty unless
// set at link time, e.g.
//
//	go build -ldflags "-X github.com/shoalproject/shoal/version.GitCommit=$(git rev-parse --short HEAD)"
var GitCommit string

// String returns the human-readable version, e.g. "Shoal v0.1.0 (abc1234)",
// or "Shoal v0.1.0" when GitCommit is unset.
func String() string {
	return format(Version, GitCommit)
}

// format renders a version and optional commit.
func format(version, commit string) string {
	if commit == "" {
		return fmt.Sprintf("Shoal v%s", version)
	}
	return fmt.Sprintf("Shoal v%s (%s)", version, commit)
}
