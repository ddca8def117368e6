package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/rpc"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	metrics "github.com/hashicorp/go-metrics"
	"github.com/hashicorp/raft"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/server/fsm"
	"github.com/shoalproject/shoal/state"
)

// Server is a Shoal server: a Raft voter over the FSM, a Serf LAN member
// and the RPC endpoints.
type Server struct {
	cfg    Config
	logger hclog.Logger

	// authz caches compiled ACL authorizers (endpoint_acl.go).
	authz authzCache

	fsm           *fsm.FSM
	raft          *raft.Raft
	raftLayer     *raftLayer
	raftTransport *raft.NetworkTransport
	raftStore     *walStore // the WAL and its meta store; nil in memory
	leaderNotify  chan bool

	listener  net.Listener
	rpcServer *rpc.Server
	connsMu   sync.Mutex
	conns     map[net.Conn]struct{}
	pool      *connPool

	members *memberSet
	serf    *serf.Serf
	eventCh chan serf.Event

	// readyForReads is set once this leader has applied everything
	// committed before its term (a Raft barrier); default-mode reads wait
	// for it. Consul does not, and serves stale reads (hashicorp/consul#2644).
	readyForReads atomic.Bool
	// reads proves leadership for default and consistent reads (readgate.go).
	reads       *readGate
	reconcileCh chan serf.Member
	// leaderKV is the state of the leader's KV duties while this server
	// leads (session_ttl.go), nil otherwise.
	leaderKV     atomic.Pointer[leaderKVState]
	bootstrapped atomic.Bool
	// serverHealth remembers since when each server is healthy (autopilot.go).
	serverHealth healthTracker
	// schedPasses counts the leader scheduler's evaluations.
	schedPasses atomic.Uint64

	leaveOnce    sync.Once
	shutdownOnce sync.Once
	shutdownCh   chan struct{}
	// dataDirAt is the data dir as the server opened it (nil in memory):
	// watchDataDir stops the server when another is at its path.
	dataDirAt os.FileInfo
	wg        sync.WaitGroup
}

// NewServer starts a server: the RPC listener, Raft, then Serf.
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Server{
		cfg:          cfg,
		logger:       cfg.Logger.Named("server"),
		conns:        map[net.Conn]struct{}{},
		pool:         newConnPool(cfg.TLS),
		members:      newMemberSet(),
		eventCh:      make(chan serf.Event, 256),
		reconcileCh:  make(chan serf.Member, 256),
		leaderNotify: make(chan bool, 8),
		shutdownCh:   make(chan struct{}),
	}
	var err error
	if s.fsm, err = fsm.New(cfg.Logger); err != nil {
		return nil, err
	}
	if err := s.setupRPC(); err != nil {
		return nil, err
	}
	if err := s.setupRaft(); err != nil {
		s.listener.Close()
		if s.raftStore != nil {
			_ = s.raftStore.Close()
		}
		return nil, err
	}
	tags := baseTags(RoleTagServer, cfg.Datacenter, cfg.NodeID)
	tags["port"] = strconv.Itoa(cfg.RPCPort)
	if cfg.BootstrapExpect > 0 {
		tags["expect"] = strconv.Itoa(cfg.BootstrapExpect)
	}
	if cfg.Bootstrap {
		tags["bootstrap"] = "1"
	}
	if s.serf, err = setupSerf(cfg, tags, s.eventCh, "server"); err != nil {
		s.Shutdown()
		return nil, err
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); s.serveListener() }()
	go func() { defer s.wg.Done(); s.serfEventLoop() }()
	go func() { defer s.wg.Done(); s.monitorLeadership() }()
	if s.dataDirAt != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.watchDataDir(s.dataDirAt) }()
	}
	return s, nil
}

// endpoints are the RPC endpoints by name.
func (s *Server) endpoints() map[string]any {
	return map[string]any{
		"Status":   &Status{s},
		"Catalog":  &Catalog{s},
		"Health":   &Health{s},
		"Internal": &Internal{s},
		"KVS":      &KVS{s},
		"Session":  &Session{s},
		"Txn":      &Txn{s},
		"Operator": &Operator{s},
		"Sched":    &Sched{s},
		"ACL":      &ACL{s},
	}
}

func (s *Server) setupRPC() error {
	s.rpcServer = rpc.NewServer()
	for name, ep := range s.endpoints() {
		if err := s.rpcServer.RegisterName(name, ep); err != nil {
			return fmt.Errorf("server: register %s endpoint: %w", name, err)
		}
	}
	addr := net.JoinHostPort(s.cfg.BindAddr, strconv.Itoa(s.cfg.RPCPort))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("server: rpc listener: %w", err)
	}
	s.listener = ln
	adv := &net.TCPAddr{IP: net.ParseIP(s.cfg.AdvertiseAddr), Port: s.cfg.RPCPort}
	s.raftLayer = newRaftLayer(adv, s.cfg.TLS)
	return nil
}

func (s *Server) raftConfig() *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.cfg.NodeID)
	rc.Logger = s.cfg.Logger.Named("raft")
	rc.NotifyCh = s.leaderNotify
	mult := time.Duration(s.cfg.RaftMultiplier)
	rc.HeartbeatTimeout *= mult
	rc.ElectionTimeout *= mult
	rc.LeaderLeaseTimeout *= mult
	if d := s.cfg.RaftTimeoutOverride; d > 0 {
		rc.HeartbeatTimeout, rc.ElectionTimeout = d, d
		rc.LeaderLeaseTimeout = d / 2
	}
	if s.cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = s.cfg.SnapshotThreshold
	}
	if s.cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = s.cfg.SnapshotInterval
	}
	if s.cfg.TrailingLogs > 0 {
		rc.TrailingLogs = s.cfg.TrailingLogs
	}
	return rc
}

func (s *Server) setupRaft() error {
	s.raftTransport = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s.raftLayer,
		MaxPool: 3,
		Timeout: rpcTimeout,
		Logger:  s.cfg.Logger.Named("raft.transport"),
	})
	var (
		logs   raft.LogStore
		stable raft.StableStore
		snaps  raft.SnapshotStore
	)
	if s.cfg.DataDir == "" {
		store := raft.NewInmemStore()
		logs, stable, snaps = store, store, raft.NewInmemSnapshotStore()
	} else {
		dir := filepath.Join(s.cfg.DataDir, "raft")
		// A read-only or full data dir stops the server here, with one
		// error naming it (datadir.go).
		if err := checkDataDir(s.cfg.DataDir); err != nil {
			return err
		}
		at, err := dataDirIdentity(s.cfg.DataDir)
		if err != nil {
			return err
		}
		s.dataDirAt = at
		if err := os.MkdirAll(filepath.Join(dir, "wal"), 0o700); err != nil {
			return fmt.Errorf("server: raft dir: %w", err)
		}
		store, err := openWALStore(s.cfg.DataDir, filepath.Join(dir, "wal"), s.cfg.Logger.Named("raft.wal"),
			wal.WithLogger(s.cfg.Logger.Named("raft.wal")),
			wal.WithMetricsCollector(walMetrics{}))
		if err != nil {
			// A full or read-only disk is the disk's fault, not the data's.
			if errors.Is(err, fs.ErrPermission) || errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOSPC) {
				return err
			}
			return fmt.Errorf("server: open raft log: %w", damaged(dir, err))
		}
		s.raftStore = store
		// A cache of recent entries spares the WAL reads when replicating
		// to followers.
		cache, err := raft.NewLogCache(1024, store)
		if err != nil {
			return fmt.Errorf("server: raft log cache: %w", err)
		}
		logs, stable = logCache{LogCache: cache, store: store}, store
		fss, err := newSnapshotStore(dir, 2, s.cfg.Logger.Named("raft.snapshot"))
		if err != nil {
			return fmt.Errorf("server: raft snapshots: %w", err)
		}
		snaps = fss
	}
	rc := s.raftConfig()
	// Buffer Raft's apply channel to MaxAppendEntries, so that concurrent
	// writes are appended and committed as one batch (one fsync).
	rc.BatchApplyCh = true
	if s.cfg.Bootstrap {
		has, err := raft.HasExistingState(logs, stable, snaps)
		if err != nil {
			return fmt.Errorf("server: raft state: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{
				ID: rc.LocalID, Address: s.raftTransport.LocalAddr(), Suffrage: raft.Voter}}}
			if err := raft.BootstrapCluster(rc, logs, stable, snaps, s.raftTransport, conf); err != nil {
				return fmt.Errorf("server: bootstrap: %w", err)
			}
		}
		s.bootstrapped.Store(true)
	}
	if s.cfg.DataDir != "" {
		dir := filepath.Join(s.cfg.DataDir, "raft")
		recovered, err := recoverPeers(dir, rc, logs, stable, snaps, s.raftTransport)
		if err != nil {
			return err
		}
		if recovered {
			s.logger.Warn("recovered the raft configuration from peers.json", "dir", dir)
		}
	}
	r, err := newRaft(filepath.Join(s.cfg.DataDir, "raft"), rc, s.fsm, logs, stable, snaps, s.raftTransport)
	if err != nil {
		return fmt.Errorf("server: start raft: %w", err)
	}
	s.raft = r
	s.reads = newReadGate(r, rc.HeartbeatTimeout, s.confirmLeadership)
	return nil
}

// walMetrics feeds raft-wal's counters into go-metrics (raft-wal's own
// adapter uses the old armon/go-metrics path, a separate global sink).
type walMetrics struct{}

func (walMetrics) IncrementCounter(name string, delta uint64) {
	metrics.IncrCounter([]string{"raft", "wal", name}, float32(delta))
}

func (walMetrics) SetGauge(name string, val uint64) {
	metrics.SetGauge([]string{"raft", "wal", name}, float32(val))
}

// IsLeader reports whether this server is the Raft leader.
func (s *Server) IsLeader() bool { return s.raft.State() == raft.Leader }

// State is the FSM's state store, for local (stale) reads.
func (s *Server) State() *state.Store { return s.fsm.State() }

// LocalMember is this node's Serf member.
func (s *Server) LocalMember() serf.Member { return s.serf.LocalMember() }

// LANMembers lists the Serf LAN members.
func (s *Server) LANMembers() []serf.Member { return s.serf.Members() }

// JoinLAN joins the cluster through the given Serf addresses and reports
// how many it reached.
func (s *Server) JoinLAN(addrs []string) (int, error) { return s.serf.Join(addrs, true) }

// RemoveFailedNode force-leaves a failed node; prune also forgets it.
func (s *Server) RemoveFailedNode(node string, prune bool) error {
	if prune {
		return s.serf.RemoveFailedNodePrune(node)
	}
	return s.serf.RemoveFailedNode(node)
}

// RPC serves a call in process, forwarding as a remote call would. A write
// that lost the race with a leadership change is retried within the hold
// timeout.
func (s *Server) RPC(ctx context.Context, method string, args, reply any) error {
	deadline := time.Now().Add(s.cfg.RPCHoldTimeout)
	for attempt := 0; ; attempt++ {
		err := s.inmemRPC(ctx, method, args, reply)
		if err == nil || !(rpcapi.IsRemote(err, errNotLeader) || rpcapi.IsRemote(err, errNotReady)) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-time.After(retryDelay(attempt)):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *Server) inmemRPC(ctx context.Context, method string, args, reply any) error {
	// As Consul: an agent's call to its own server counts as client.rpc;
	// rpc.request counts the calls servers read off the network.
	metrics.IncrCounter(metricClientRPC, 1)
	codec := &inmemCodec{method: method, args: args, reply: reply}
	serve := func() error {
		if err := s.rpcServer.ServeRequest(s.aclCodec(codec)); err != nil {
			return err
		}
		return codec.err
	}
	if _, bounded := ctx.Deadline(); !bounded && !isBlockingQuery(args) {
		// Nothing to give up on early: serve on the caller's goroutine,
		// whose stack has grown already. A new goroutine per call grew
		// its stack anew each time (4–11 % of a server's CPU under load).
		if err := ctx.Err(); err != nil {
			return err
		}
		return serve()
	}
	done := make(chan error, 1)
	go func() { done <- serve() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Stats describes the server for /v1/agent/self and `shoal info`.
func (s *Server) Stats() map[string]map[string]string {
	leader, _ := s.raft.LeaderWithID()
	return map[string]map[string]string{
		"consul": {
			"server":        "true",
			"leader":        strconv.FormatBool(s.IsLeader()),
			"leader_addr":   string(leader),
			"known_servers": strconv.Itoa(len(s.members.servers(s.cfg.Datacenter))),
			"bootstrap":     strconv.FormatBool(s.cfg.Bootstrap),
		},
		"raft":     s.raft.Stats(),
		"serf_lan": s.serf.Stats(),
	}
}

// Leave leaves the cluster gracefully: a leader first removes itself from
// the Raft configuration; a follower leaves Serf and waits (briefly) for the
// leader to remove it.
func (s *Server) Leave() error {
	var err error
	s.leaveOnce.Do(func() { err = s.leave() })
	return err
}

func (s *Server) leave() error {
	s.logger.Info("leaving cluster")
	cf := s.raft.GetConfiguration()
	numPeers := 0
	if cf.Error() == nil {
		for _, srv := range cf.Configuration().Servers {
			if srv.Suffrage == raft.Voter {
				numPeers++
			}
		}
	}
	isLeader := s.IsLeader()
	if isLeader && numPeers > 1 {
		if err := s.raft.RemoveServer(raft.ServerID(s.cfg.NodeID), 0, 0).Error(); err != nil {
			s.logger.Error("failed to remove self from raft configuration", "error", err)
		}
	}
	if err := s.serf.Leave(); err != nil {
		s.logger.Error("serf leave failed", "error", err)
	}
	if !isLeader && numPeers > 1 {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			if !s.inRaftConfig() {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func (s *Server) inRaftConfig() bool {
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return true
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID == raft.ServerID(s.cfg.NodeID) {
			return true
		}
	}
	return false
}

// Shutdown stops the server without leaving: to other servers it looks
// like a crash. It is safe to call more than once.
func (s *Server) Shutdown() error {
	s.shutdownOnce.Do(func() {
		close(s.shutdownCh)
		if s.serf != nil {
			_ = s.serf.Shutdown()
		}
		if s.raft != nil {
			if err := s.raft.Shutdown().Error(); err != nil {
				s.logger.Warn("raft shutdown", "error", err)
			}
		}
		s.raftLayer.Close()
		if s.raftTransport != nil {
			s.raftTransport.Close()
		}
		s.listener.Close()
		s.connsMu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.connsMu.Unlock()
		s.pool.Close()
		s.wg.Wait()
		if s.raftStore != nil {
			_ = s.raftStore.Close()
		}
	})
	return nil
}

// errShutdown is returned by calls made during shutdown.
var errShutdown = errors.New("server shutting down")
