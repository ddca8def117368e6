// Package agent runs the process every node runs: it starts a server or a
// client (package server) from the configuration, serves the
// Consul-compatible HTTP API, joins the cluster and leaves it gracefully.
//
// It knows nothing of Raft: everything it asks of the cluster goes through
// RPC to a server (in process on servers).
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/serf/coordinate"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/agent/config"
	"github.com/shoalproject/shoal/agent/flight"
	"github.com/shoalproject/shoal/agent/realiser"
	"github.com/shoalproject/shoal/driver"
	"github.com/shoalproject/shoal/overlay"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server"
	"github.com/shoalproject/shoal/tlsutil"
)

// delegate is what the agent needs from a server or a client.
type delegate interface {
	// RPC calls a server endpoint; it returns an error if ctx is done first.
	RPC(ctx context.Context, method string, args, reply any) error
	// SnapshotSave streams a snapshot archive from a server; the caller
	// closes the reader.
	SnapshotSave(ctx context.Context, opts rpcapi.QueryOptions) (io.ReadCloser, rpcapi.QueryMeta, error)
	// SnapshotRestore sends an archive to the leader to restore; an
	// invalid one is refused with an error wrapping snapshot.ErrCorrupt.
	SnapshotRestore(ctx context.Context, dc string, archive io.Reader) error
	LocalMember() serf.Member
	LANMembers() []serf.Member
	// UserEvent broadcasts a user event by gossip (event.go).
	UserEvent(name string, payload []byte) error
	// Coordinate is this node's network coordinate; CachedCoordinate the
	// last one heard for another member.
	Coordinate() (*coordinate.Coordinate, error)
	CachedCoordinate(name string) (*coordinate.Coordinate, bool)
	JoinLAN(addrs []string) (int, error)
	RemoveFailedNode(node string, prune bool) error
	Stats() map[string]map[string]string
	// KeyringOperation changes or lists the gossip keyring across the
	// cluster; it wraps server.ErrNoEncryption when gossip is not encrypted.
	KeyringOperation(op server.KeyringOp, key string) (*serf.KeyResponse, error)
	Leave() error
	Shutdown() error
}

// Agent is one running agent.
type Agent struct {
	cfg    *config.Config
	logger hclog.Logger
	nodeID string

	delegate delegate
	server   *server.Server // nil on client agents

	metrics *telemetry

	// acl resolves request tokens when acl.enabled (nil otherwise).
	acl *aclResolver
	// tokens are the agent's default and agent tokens.
	tokens *agentTokens

	// drivers run this node's replicas (nil until the realiser starts).
	drivers map[string]driver.Driver
	// attacher is the driver whose replicas join the overlay (docker),
	// nil when none runs here.
	attacher    driver.NetworkAttacher
	tempExecDir string // the exec driver's state dir in dev mode, removed at shutdown

	realiser       *realiser.Realiser // nil when the node has no drivers
	realiserCancel context.CancelFunc
	realiserDone   chan struct{}

	// overlay is this node's overlay network manager (nil when off).
	overlay        *overlay.Manager
	overlayCancel  context.CancelFunc
	overlayStarted chan struct{} // closed when the start attempts end
	overlayMu      sync.Mutex
	overlayNet     string   // docker network on the overlay, "" until ready
	overlayDNS     []string // DNS servers for replicas on the overlay
	overlayOff     bool     // the overlay cannot come up here: do not wait for it
	// mesh is this node's routing mesh (nil when off).
	mesh       *meshRunner
	meshCancel context.CancelFunc
	meshDone   <-chan struct{}

	// events are the user events this agent received (event.go).
	events *eventBuffer

	// local holds the agent's services, checks and anti-entropy
	// (http_agent_services.go).
	local *agentLocal

	// flights are the shared blocking queries in flight (http_share.go).
	flights flight.Group[*sharedResponse]

	httpServers []*http.Server
	httpAddrs   []net.Addr
	httpsAddrs  []net.Addr
	apiHandler  http.Handler // shared by the HTTP and HTTPS servers

	tls *tlsutil.Configurator // nil when no TLS setting is on (security.go)

	dns *dnsService // nil when DNS is disabled

	// watches run the watches setting (watches.go).
	watches agentWatches

	leaveOnce    sync.Once
	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	wg           sync.WaitGroup

	// fatalErr is why the agent stopped on its own (serverFailed).
	fatalMu  sync.Mutex
	fatalErr error
}

// New validates nothing beyond what config.Load did; it prepares the agent
// without opening any port. Start brings it up.
func New(cfg *config.Config, logger hclog.Logger) (*Agent, error) {
	if logger == nil {
		logger = hclog.Default()
	}
	id, err := nodeID(cfg)
	if err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, logger: logger, nodeID: id, shutdownCh: make(chan struct{}), events: newEventBuffer()}, nil
}

// Start starts the server or client, the HTTP API and the joins. On error
// everything started is stopped again.
func (a *Agent) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			a.Shutdown()
		}
	}()
	if a.metrics, err = newTelemetry(a.cfg.Telemetry, a.logger); err != nil {
		return err
	}
	if err := a.setupTLS(); err != nil {
		return err
	}
	sc := a.serverConfig()
	sc.Tags = a.schedTags(a.setupDrivers(ctx))
	if a.cfg.Server {
		s, err := server.NewServer(sc)
		if err != nil {
			return fmt.Errorf("agent: start server: %w", err)
		}
		a.server, a.delegate = s, s
	} else {
		c, err := server.NewClient(sc)
		if err != nil {
			return fmt.Errorf("agent: start client: %w", err)
		}
		a.delegate = c
	}
	if a.tokens, err = a.loadAgentTokens(); err != nil {
		return err
	}
	a.delegate = tokenDelegate{delegate: a.delegate, agentToken: a.tokens.agentToken}
	a.acl = a.newACLResolver()
	if err := a.startLocal(); err != nil {
		return err
	}
	if err := a.startHTTP(); err != nil {
		return err
	}
	if err := a.startHTTPS(); err != nil {
		return err
	}
	if a.apiHandler == nil { // no HTTP or HTTPS listener: the watches still read through it
		a.apiHandler = a.handler()
	}
	watches, err := a.cfg.ParseWatches()
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	a.watches.start(a, watches)
	a.startMesh() // before DNS, which answers the mesh's virtual IPs
	if err := a.startDNS(); err != nil {
		return err
	}
	a.startOverlay()
	a.startRealiser()
	if len(a.cfg.StartJoin) > 0 {
		if _, err := a.delegate.JoinLAN(a.cfg.StartJoin); err != nil {
			return fmt.Errorf("agent: join %v: %w", a.cfg.StartJoin, err)
		}
	}
	if len(a.cfg.RetryJoin) > 0 {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.retryJoin() }()
	}
	if len(a.cfg.Ignored) > 0 {
		a.logger.Warn("config: ignored Consul settings that Shoal does not implement", "keys", a.cfg.Ignored)
	}
	a.logger.Info("agent started", "node", a.cfg.NodeName, "id", a.nodeID, "server", a.cfg.Server,
		"datacenter", a.cfg.Datacenter, "http", a.httpAddrs, "https", a.httpsAddrs)
	return nil
}

func (a *Agent) serverConfig() server.Config {
	c := a.cfg
	sc := server.Config{
		NodeName:           c.NodeName,
		NodeID:             a.nodeID,
		Datacenter:         c.Datacenter,
		DataDir:            c.DataDir,
		Bootstrap:          c.Bootstrap,
		BootstrapExpect:    c.BootstrapExpect,
		BindAddr:           c.BindAddr,
		SerfPort:           c.Ports.SerfLAN,
		AdvertiseAddr:      c.AdvertiseAddr,
		RPCPort:            c.Ports.Server,
		RaftMultiplier:     c.Performance.RaftMultiplier,
		RPCHoldTimeout:     c.Performance.RPCHoldTimeout,
		SnapshotThreshold:  uint64(c.RaftSnapshotThreshold),
		SnapshotInterval:   c.RaftSnapshotInterval,
		TrailingLogs:       uint64(c.RaftTrailingLogs),
		CleanupDeadServers: c.Autopilot.CleanupDeadServers,
		DeadServerGrace:    c.Autopilot.DeadServerGrace,
		Autopilot: server.AutopilotDefaults{
			MinQuorum:               uint(c.Autopilot.MinQuorum),
			LastContactThreshold:    c.Autopilot.LastContactThreshold,
			MaxTrailingLogs:         uint64(c.Autopilot.MaxTrailingLogs),
			ServerStabilizationTime: c.Autopilot.ServerStabilizationTime,
		},
		NodeLostGrace: c.Scheduler.NodeLostGrace,
		MaxReplicas:   c.Scheduler.MaxReplicas,
		EncryptKey:    c.Encrypt,
		TLS:           a.tls,
		ACL: server.ACLConfig{Enabled: c.ACL.Enabled, DefaultPolicy: c.ACL.DefaultPolicy,
			InitialManagement: c.ACL.Tokens.InitialManagement},
		Logger:     a.logger,
		UserEvents: a.handleUserEvent,
		OnFatal:    a.serverFailed,
	}
	if v := c.EncryptVerifyIncoming; v != nil {
		sc.EncryptAllowPlainIncoming = !*v
	}
	if v := c.EncryptVerifyOutgoing; v != nil {
		sc.EncryptAllowPlainOutgoing = !*v
	}
	if c.DevMode {
		// One in-memory server: nothing to wait for, elect at once.
		sc.DataDir = ""
		sc.RaftTimeoutOverride = 50 * time.Millisecond
	}
	return sc
}

// retryJoin joins the -retry-join addresses, retrying every RetryInterval
// until one answers or RetryMax attempts have failed.
func (a *Agent) retryJoin() {
	for attempt := 1; ; attempt++ {
		n, err := a.delegate.JoinLAN(a.cfg.RetryJoin)
		if err == nil || n > 0 {
			a.logger.Info("joined cluster", "contacted", n)
			return
		}
		if a.cfg.RetryMax > 0 && attempt >= a.cfg.RetryMax {
			a.logger.Error("retry-join: giving up", "attempts", attempt, "error", err)
			return
		}
		a.logger.Warn("retry-join failed; will retry", "addresses", a.cfg.RetryJoin, "error", err,
			"in", a.cfg.RetryInterval)
		select {
		case <-time.After(a.cfg.RetryInterval):
		case <-a.shutdownCh:
			return
		}
	}
}

func (a *Agent) startHTTP() error {
	if a.cfg.Ports.HTTP < 0 {
		return nil
	}
	for _, ip := range strings.Fields(a.cfg.ClientAddr) {
		addr := net.JoinHostPort(ip, strconv.Itoa(a.cfg.Ports.HTTP))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("agent: http listener: %w", err)
		}
		a.httpAddrs = append(a.httpAddrs, ln.Addr())
		a.serveHTTP(newConnLimitListener(ln, a.cfg.Limits.HTTPMaxConnsPerClient))
	}
	return nil
}

// serveHTTP serves the API on ln until shutdown.
func (a *Agent) serveHTTP(ln net.Listener) {
	if a.apiHandler == nil {
		a.apiHandler = a.handler()
	}
	srv := &http.Server{Handler: a.apiHandler, ReadHeaderTimeout: 10 * time.Second,
		// Idle keep-alive connections are closed (a blocking query in
		// progress is not idle), so they cannot hold per-client slots.
		IdleTimeout: a.cfg.Limits.HTTPIdleTimeout}
	a.httpServers = append(a.httpServers, srv)
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logger.Error("http server failed", "error", err)
		}
	}()
}

// HTTPAddrs lists the addresses the HTTP API listens on.
func (a *Agent) HTTPAddrs() []net.Addr { return a.httpAddrs }

// Leave leaves the cluster gracefully, then shuts the agent down.
func (a *Agent) Leave() error {
	var err error
	a.leaveOnce.Do(func() {
		a.stopReplicas()
		a.stopMesh()
		a.stopOverlay(true)
		if a.delegate != nil {
			err = a.delegate.Leave()
		}
		a.Shutdown()
	})
	return err
}

// Shutdown stops the agent without leaving (others see it fail). Safe to
// call more than once.
func (a *Agent) Shutdown() error {
	a.shutdownOnce.Do(func() {
		close(a.shutdownCh)
		a.watches.stop()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if a.dns != nil {
			a.dns.shutdown()
		}
		for _, s := range a.httpServers {
			_ = s.Shutdown(ctx)
			_ = s.Close()
		}
		cancel()
		a.stopLocal()
		a.stopMesh()
		a.stopOverlay(false)
		if a.delegate != nil {
			_ = a.delegate.Shutdown()
		}
		a.wg.Wait()
		if a.metrics != nil {
			a.metrics.shutdown()
		}
		if a.tempExecDir != "" {
			_ = os.RemoveAll(a.tempExecDir)
		}
		a.logger.Info("agent stopped")
	})
	return nil
}

// serverFailed stops the agent when its server cannot go on (its data dir
// was removed while it ran): Err then says why, and `shoal agent` exits
// with status 1. It does not wait for the shutdown, which waits for the
// server goroutine calling it.
func (a *Agent) serverFailed(err error) {
	a.fatalMu.Lock()
	first := a.fatalErr == nil
	if first {
		a.fatalErr = err
	}
	a.fatalMu.Unlock()
	if first {
		go a.Shutdown()
	}
}

// Err is why the agent stopped on its own, or nil: it was asked to stop,
// or runs.
func (a *Agent) Err() error {
	a.fatalMu.Lock()
	defer a.fatalMu.Unlock()
	return a.fatalErr
}

// ShutdownCh is closed when the agent has begun shutting down, for example
// after /v1/agent/leave.
func (a *Agent) ShutdownCh() <-chan struct{} { return a.shutdownCh }
