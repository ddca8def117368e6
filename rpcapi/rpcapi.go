// Package rpcapi defines the envelopes of the server RPC endpoints: the
// query options and metadata every read carries (Consul's consistency modes
// and blocking-query parameters), the write envelope, and the argument and
// reply types that wrap the kv and catalog packages' own types.
//
// It is plain data shared by the agent (caller) and the server (callee).
package rpcapi

import (
	"errors"
	"net/rpc"
	"strings"
	"time"
)

// ErrNoLeader is returned when no server is leader within the hold timeout.
// Its text is Consul's, which some tools match.
var ErrNoLeader = errors.New("No cluster leader")

// IsErrNoLeader reports whether err is ErrNoLeader, also when it crossed an
// RPC boundary.
func IsErrNoLeader(err error) bool { return IsRemote(err, ErrNoLeader) }

// IsRemote reports whether err is target (errors.Is), also when it crossed
// an RPC boundary: net/rpc carries an endpoint's error as its text only,
// even in process, so an rpc.ServerError matches when its text is target's
// or begins with it followed by ": " or " " (how fmt.Errorf("%w: ...") and
// fmt.Errorf("%w %q", ...) extend a sentinel). It is the one place where
// Shoal reads an error's text; endpoints return sentinels at the start of
// their errors so that callers can match them here.
func IsRemote(err, target error) bool {
	if errors.Is(err, target) {
		return true
	}
	var se rpc.ServerError
	if !errors.As(err, &se) {
		return false
	}
	rest, ok := strings.CutPrefix(string(se), target.Error())
	return ok && (rest == "" || strings.HasPrefix(rest, ": ") || strings.HasPrefix(rest, " "))
}

// Consistency levels reported in QueryMeta and X-Consul-Effective-Consistency.
const (
	ConsistencyDefault    = "leader"
	ConsistencyStale      = "stale"
	ConsistencyConsistent = "consistent"
)

// RPCInfo is what the forwarding layer needs to know about any request.
type RPCInfo interface {
	// IsRead reports whether the request only reads.
	IsRead() bool
	// AllowStaleRead reports whether any server may answer it.
	AllowStaleRead() bool
}

// QueryOptions are carried by every read.
// Blocking query timing, as Consul's: a blocking query waits
// DefaultQueryWait unless it asks for another wait, at most MaxQueryWait
// (the server adds up to 1/16 of jitter so that many watchers spread out).
const (
	DefaultQueryWait = 5 * time.Minute
	MaxQueryWait     = 10 * time.Minute
)

// QueryWait returns how long a blocking query that asked for wait blocks:
// DefaultQueryWait when wait is not positive, at most MaxQueryWait.
func QueryWait(wait time.Duration) time.Duration {
	if wait <= 0 {
		return DefaultQueryWait
	}
	return min(wait, MaxQueryWait)
}

type QueryOptions struct {
	Datacenter string
	// MinQueryIndex makes the read block until the result's index exceeds it.
	MinQueryIndex uint64
	// MaxQueryTime bounds the block (server default 5 min, max 10 min).
	MaxQueryTime time.Duration
	// AllowStale lets any server answer (?stale).
	AllowStale bool
	// RequireConsistent makes the leader verify its leadership first (?consistent).
	RequireConsistent bool
	// AuthToken is the caller's ACL token secret; "" is the anonymous
	// token. Servers check it when ACLs are on (server/acl_rpc.go).
	AuthToken string
}

// Auth implements Authenticated.
func (q *QueryOptions) Auth() string { return q.AuthToken }

// SetAuth implements Authenticated.
func (q *QueryOptions) SetAuth(secret string) { q.AuthToken = secret }

// IsRead implements RPCInfo.
func (q *QueryOptions) IsRead() bool { return true }

// AllowStaleRead implements RPCInfo.
func (q *QueryOptions) AllowStaleRead() bool { return q.AllowStale }

// Query is implemented by every read request (through QueryOptions).
type Query interface {
	Options() *QueryOptions
}

// Options implements Query.
func (q *QueryOptions) Options() *QueryOptions { return q }

// QueryMeta is returned with every read.
type QueryMeta struct {
	// Index is the Raft index of the data's last change (X-Consul-Index).
	Index uint64
	// LastContact is the answering server's time since it last heard from
	// the leader; 0 on the leader (X-Consul-LastContact).
	LastContact time.Duration
	// KnownLeader reports whether the answering server knew a leader.
	KnownLeader bool
	// ConsistencyLevel is how the read was served.
	ConsistencyLevel string
	// ResultsFilteredByACLs reports that the server removed from the
	// answer what the caller's token may not read
	// (X-Consul-Results-Filtered-By-ACLs).
	ResultsFilteredByACLs bool
}

// QueryMetaOf returns the QueryMeta of a read's reply (every reply type
// embeds one).
func (m *QueryMeta) QueryMetaOf() *QueryMeta { return m }

// WriteRequest is carried by every write.
type WriteRequest struct {
	Datacenter string
	// AuthToken is the caller's ACL token secret; "" is the anonymous token.
	AuthToken string
}

// Auth implements Authenticated.
func (w *WriteRequest) Auth() string { return w.AuthToken }

// SetAuth implements Authenticated.
func (w *WriteRequest) SetAuth(secret string) { w.AuthToken = secret }

// Authenticated is implemented by every request that carries an ACL token
// (through QueryOptions or WriteRequest).
type Authenticated interface {
	Auth() string
	SetAuth(secret string)
}

// IsRead implements RPCInfo.
func (w *WriteRequest) IsRead() bool { return false }

// AllowStaleRead implements RPCInfo.
func (w *WriteRequest) AllowStaleRead() bool { return false }

// DCRequest is a read with no arguments beyond the query options.
type DCRequest struct {
	QueryOptions
}

// RaftServer is one entry of the Raft configuration, shaped as Consul's
// /v1/operator/raft/configuration.
type RaftServer struct {
	ID              string
	Node            string
	Address         string
	Leader          bool
	ProtocolVersion string
	Voter           bool
	// LastIndex is the server's last Raft log index, as the leader last
	// heard it (0 when it could not be asked).
	LastIndex uint64
}

// RaftConfiguration answers Operator.RaftGetConfiguration.
type RaftConfiguration struct {
	Servers []*RaftServer
	Index   uint64
}

// RaftRemovePeerRequest names a peer by ID or address.
type RaftRemovePeerRequest struct {
	WriteRequest
	ID      string
	Address string
}

// RaftTransferLeaderRequest asks the leader to hand its leadership to the
// voter ID, or, with ID empty, to the most up-to-date other voter.
type RaftTransferLeaderRequest struct {
	WriteRequest
	ID string
}

// RaftTransferLeaderReply answers Operator.RaftTransferLeader, in the
// shape of Consul's TransferLeaderResponse.
type RaftTransferLeaderReply struct {
	Success bool
}

// RaftStats answers Status.RaftStats: used before bootstrapping, and by
// the leader to judge its servers' health (autopilot).
type RaftStats struct {
	LastIndex uint64
	Peers     int
	// LastTerm is the term of the last log entry.
	LastTerm uint64
	// LastContact is how long ago this server last heard from a leader;
	// 0 on the leader itself, -1 if never.
	LastContact time.Duration
}

// AutopilotConfig is the autopilot configuration in force (Consul's
// api.AutopilotConfiguration): the servers' flags until an operator
// stores one through Operator.AutopilotSetConfiguration.
type AutopilotConfig struct {
	CleanupDeadServers      bool
	LastContactThreshold    time.Duration
	MaxTrailingLogs         uint64
	MinQuorum               uint
	ServerStabilizationTime time.Duration
	// Stored only, for Consul clients that round-trip them: Shoal has no
	// redundancy zones or upgrade migrations.
	RedundancyZoneTag       string
	DisableUpgradeMigration bool
	UpgradeVersionTag       string
}

// AutopilotConfigReply answers Operator.AutopilotGetConfiguration. The
// indexes are the stored configuration's; both 0 while none is stored.
type AutopilotConfigReply struct {
	Config      AutopilotConfig
	CreateIndex uint64
	ModifyIndex uint64
	QueryMeta
}

// AutopilotSetConfigRequest stores an autopilot configuration; with CAS
// only if the stored one's ModifyIndex is still ModifyIndex (0: none
// stored yet). The reply reports whether it was stored.
type AutopilotSetConfigRequest struct {
	WriteRequest
	Config      AutopilotConfig
	CAS         bool
	ModifyIndex uint64
}

// ServerHealth is one server's health as the leader sees it.
type ServerHealth struct {
	ID          string
	Name        string
	Address     string
	SerfStatus  string
	Version     string
	Leader      bool
	Voter       bool
	LastContact time.Duration
	LastTerm    uint64
	LastIndex   uint64
	Healthy     bool
	StableSince time.Time
}

// OperatorHealthReply answers Operator.ServerHealth.
type OperatorHealthReply struct {
	Healthy          bool
	FailureTolerance int
	Servers          []ServerHealth
	Config           AutopilotConfig
}
