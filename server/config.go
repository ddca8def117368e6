// Package server runs Shoal's servers and the server-facing half of client
// agents: Raft over the FSM, Serf LAN membership, the RPC listener on the
// server port (shared with the Raft transport), request forwarding to the
// leader, and the leader's duties (membership reconcile, Raft peer
// management, bootstrap).
//
// It knows nothing of HTTP: the agent calls it through RPC.
package server

import (
	"errors"
	"fmt"
	"github.com/hashicorp/serf/serf"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/tlsutil"
)

// Config configures a Server or a Client. Zero values take the defaults
// stated on each field.
type Config struct {
	// NodeName is this node's unique name. Required.
	NodeName string
	// NodeID is this node's UUID, used as its Raft server ID. Required.
	NodeID string
	// Datacenter. Default "dc1".
	Datacenter string
	// DataDir holds the Raft log, stable store, snapshots and the Serf
	// snapshot. Empty means in memory (dev mode only).
	DataDir string
	// Bootstrap makes a server elect itself alone at first start.
	Bootstrap bool
	// BootstrapExpect is the number of servers to wait for before
	// bootstrapping. 0 disables.
	BootstrapExpect int

	// BindAddr and SerfPort are where Serf listens.
	BindAddr string
	SerfPort int
	// AdvertiseAddr is the address other nodes reach this one at. Default BindAddr.
	AdvertiseAddr string
	// RPCPort is where a server listens for RPC and Raft. Default 8300.
	RPCPort int

	// RaftMultiplier scales Raft's timing (1 = Raft's LAN defaults). Default 1.
	RaftMultiplier int
	// RaftTimeoutOverride, when non-zero, sets Raft's heartbeat and election
	// timeouts directly (dev mode and tests use short ones).
	RaftTimeoutOverride time.Duration

	// CleanupDeadServers removes servers failed for DeadServerGrace from the
	// Raft configuration, keeping a quorum of healthy voters.
	CleanupDeadServers bool
	// DeadServerGrace. Default 2m.
	DeadServerGrace time.Duration
	// Autopilot holds the rest of autopilot's configuration until an
	// operator stores one (Operator.AutopilotSetConfiguration); its zero
	// fields take Consul's defaults.
	Autopilot AutopilotDefaults
	// ReconcileInterval is the period of the leader's full membership
	// reconcile. Default 60s.
	ReconcileInterval time.Duration
	// RPCHoldTimeout is how long a request waits for a leader. Default 7s.
	RPCHoldTimeout time.Duration

	// SnapshotThreshold, SnapshotInterval and TrailingLogs, when non-zero,
	// override Raft's defaults (snapshot after 8192 new entries, checked
	// every 120 s; keep 10240 entries after a snapshot), which bound the log
	// on disk.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64

	// OnFatal, if set, is called once, from a goroutine of the server, when
	// the server cannot go on: its data dir was removed or replaced while
	// it ran (an error wrapping ErrDataDirGone). The server keeps running
	// until Shutdown, which OnFatal must not wait for (it would wait for
	// the goroutine calling it): the caller stops it.
	OnFatal func(error)
	// DataDirCheckInterval is how often a server with a DataDir checks
	// that it is still there. Default 5s.
	DataDirCheckInterval time.Duration

	// UserEvents, if set, receives every Serf user event this node hears
	// (/v1/event/fire), from the Serf event loop: it must not block.
	UserEvents func(serf.UserEvent)

	// NodeLostGrace is how long a node may stay failed in Serf before the
	// scheduler re-places its replicas elsewhere. Default 1s.
	NodeLostGrace time.Duration
	// MaxReplicas is the most replicas one replicated spec may ask; a spec
	// beyond it is not scheduled and its status records why. In
	// 1..sched.MaxReplicas. Default sched.DefaultMaxReplicas (1000).
	MaxReplicas int
	// Tags are extra Serf tags this node advertises (resources, drivers,
	// HTTP port for the scheduler).
	Tags map[string]string

	// EncryptKey is the base64 gossip encryption key (16, 24 or 32
	// bytes); empty means no encryption unless the data dir holds a
	// keyring file (keyring.go).
	EncryptKey string
	// EncryptAllowPlainIncoming and EncryptAllowPlainOutgoing relax
	// Consul's encrypt_verify_incoming/outgoing (both true by default) to
	// let a cluster move to encryption without downtime.
	EncryptAllowPlainIncoming bool
	EncryptAllowPlainOutgoing bool
	// TLS, when non-nil, secures the server port (RPC, Raft, snapshots)
	// as tls.go describes. nil means plaintext.
	TLS *tlsutil.Configurator

	// ACL configures access control (acl/, endpoint_acl.go).
	ACL ACLConfig

	// Logger. Default: hclog's default logger.
	Logger hclog.Logger
}

// ACLConfig is the servers' part of the agent's acl block.
type ACLConfig struct {
	// Enabled turns on the ACL endpoints and the builtins (anonymous
	// token, global-management policy). Default false.
	Enabled bool
	// DefaultPolicy applies where no rule of a token does: "allow" or
	// "deny". Default "deny" (Consul's default is "allow").
	DefaultPolicy string
	// InitialManagement, when set, is the SecretID of a management token
	// the leader creates if missing (acl.tokens.initial_management).
	InitialManagement string
}

// withDefaults returns c with defaults filled in.
func (c Config) withDefaults() Config {
	if c.Datacenter == "" {
		c.Datacenter = "dc1"
	}
	if c.AdvertiseAddr == "" {
		c.AdvertiseAddr = c.BindAddr
	}
	if c.RPCPort == 0 {
		c.RPCPort = 8300
	}
	if c.RaftMultiplier == 0 {
		c.RaftMultiplier = 1
	}
	if c.DeadServerGrace == 0 {
		c.DeadServerGrace = 2 * time.Minute
	}
	if c.Autopilot.LastContactThreshold == 0 {
		c.Autopilot.LastContactThreshold = autopilotLastContactThreshold
	}
	if c.Autopilot.MaxTrailingLogs == 0 {
		c.Autopilot.MaxTrailingLogs = autopilotMaxTrailingLogs
	}
	if c.Autopilot.ServerStabilizationTime == 0 {
		c.Autopilot.ServerStabilizationTime = autopilotServerStabilizationTime
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = 60 * time.Second
	}
	if c.RPCHoldTimeout == 0 {
		c.RPCHoldTimeout = 7 * time.Second
	}
	if c.NodeLostGrace == 0 {
		c.NodeLostGrace = time.Second
	}
	if c.DataDirCheckInterval == 0 {
		c.DataDirCheckInterval = 5 * time.Second
	}
	if c.ACL.DefaultPolicy == "" {
		c.ACL.DefaultPolicy = "deny"
	}
	if c.MaxReplicas == 0 {
		c.MaxReplicas = sched.DefaultMaxReplicas
	}
	if c.Logger == nil {
		c.Logger = hclog.Default()
	}
	return c
}

// validate reports the first problem with c.
func (c Config) validate() error {
	switch {
	case c.NodeName == "":
		return errors.New("server: node name is required")
	case c.NodeID == "":
		return errors.New("server: node ID is required")
	case c.BindAddr == "":
		return errors.New("server: bind address is required")
	case c.Bootstrap && c.BootstrapExpect > 0:
		return errors.New("server: bootstrap and bootstrap-expect are exclusive")
	case c.RaftMultiplier < 1 || c.RaftMultiplier > 10:
		return fmt.Errorf("server: raft multiplier %d outside 1..10", c.RaftMultiplier)
	}
	if err := c.schedLimits().Validate(); err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return nil
}

// schedLimits returns the limits every evaluation applies to specs.
func (c Config) schedLimits() sched.Limits { return sched.Limits{MaxReplicas: c.MaxReplicas} }
