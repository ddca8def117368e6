package server

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"
	"github.com/shoalproject/shoal/rpcapi"
	"github.com/shoalproject/shoal/sched"
	"github.com/shoalproject/shoal/version"
)

// setupSerf starts this node's Serf LAN member.
func setupSerf(cfg Config, tags map[string]string, eventCh chan serf.Event, kind string) (*serf.Serf, error) {
	sc := serf.DefaultConfig()
	sc.NodeName = cfg.NodeName
	for k, v := range cfg.Tags {
		if _, taken := tags[k]; !taken {
			tags[k] = v
		}
	}
	sc.Tags = tags
	sc.EventCh = eventCh
	sc.EnableNameConflictResolution = false
	sc.UserEventSizeLimit = serfUserEventLimit
	sc.Logger = cfg.Logger.Named("serf").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	sc.LeavePropagateDelay = time.Second
	// Retry failed members every 3 s instead of 30 s, so that a healed
	// partition or a restarted node is back within seconds.
	sc.ReconnectInterval = 3 * time.Second
	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeName
	mc.BindAddr = cfg.BindAddr
	mc.BindPort = cfg.SerfPort
	mc.AdvertiseAddr = cfg.AdvertiseAddr
	mc.AdvertisePort = cfg.SerfPort
	// Probe twice as often as memberlist's LAN defaults (1 s interval, 500
	// ms timeout): a dead node is suspected after about 1 s and declared
	// failed after the suspicion timeout (SuspicionMult × interval, 2 s at
	// least), so the scheduler can re-place its replicas within seconds.
	// Lifeguard's awareness still stretches the timeouts of a slow member.
	mc.ProbeInterval = 500 * time.Millisecond
	mc.ProbeTimeout = 400 * time.Millisecond
	mc.Logger = cfg.Logger.Named("memberlist").StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})
	sc.MemberlistConfig = mc
	if err := setupGossipEncryption(cfg, sc); err != nil {
		return nil, err
	}
	if cfg.DataDir != "" {
		dir := filepath.Join(cfg.DataDir, "serf")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		sc.SnapshotPath = filepath.Join(dir, "local.snapshot")
		// A node restarted with its data dir rejoins the peers it knew.
		sc.RejoinAfterLeave = false
	}
	s, err := serf.Create(sc)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Serf tag values and keys. Members carry Consul's tags (role, build, vsn,
// vsn_min, vsn_max, raft_vsn, segment) so that Consul's tools read them,
// beside Shoal's own (id, port, expect, bootstrap, shoal_vsn).
const (
	// RoleTagServer and RoleTagClient are Consul's values of the role
	// tag; `consul members` types other values as "unknown".
	RoleTagServer = "consul"
	RoleTagClient = "node"
	// roleTagLegacyServer is the value Shoal servers used before; still
	// read, so that a cluster can be upgraded one server at a time.
	roleTagLegacyServer = "server"
)

// baseTags are the tags every member carries: Consul's protocol
// versions (Consul 1.x speaks serf protocol 2, range 2-3, Raft protocol 3),
// its build string (version:commit) and Shoal's own protocol version.
func baseTags(role, dc, id string) map[string]string {
	return map[string]string{
		"role":      role,
		"dc":        dc,
		"segment":   "",
		"id":        id,
		"vsn":       "2",
		"vsn_min":   "2",
		"vsn_max":   "3",
		"raft_vsn":  "3",
		"build":     version.Version + ":" + version.GitCommit,
		"shoal_vsn": strconv.Itoa(version.ProtocolVersion),
	}
}

// RoleServer and RoleClient are what MemberRole reports (the scheduler's
// node roles).
const (
	RoleServer = sched.RoleServer
	RoleClient = sched.RoleClient
)

// MemberRole reports a member's role from its tags: "server"
// (role=consul, or Shoal's earlier role=server) or "client".
func MemberRole(tags map[string]string) string {
	switch tags["role"] {
	case RoleTagServer, roleTagLegacyServer:
		return RoleServer
	}
	return RoleClient
}

// serverInfo is a server as seen through its Serf tags.
type serverInfo struct {
	Name       string
	ID         string
	Datacenter string
	Addr       string // RPC/Raft address, host:port
	Expect     int
	Bootstrap  bool
	Status     serf.MemberStatus
}

// parseServer reports whether m is a Shoal server and its details.
func parseServer(m serf.Member) (serverInfo, bool) {
	if MemberRole(m.Tags) != RoleServer {
		return serverInfo{}, false
	}
	port, err := strconv.Atoi(m.Tags["port"])
	if err != nil {
		return serverInfo{}, false
	}
	expect, _ := strconv.Atoi(m.Tags["expect"])
	return serverInfo{
		Name:       m.Name,
		ID:         m.Tags["id"],
		Datacenter: m.Tags["dc"],
		Addr:       net.JoinHostPort(m.Addr.String(), strconv.Itoa(port)),
		Expect:     expect,
		Bootstrap:  m.Tags["bootstrap"] == "1",
		Status:     m.Status,
	}, true
}

// memberSet tracks the servers Serf knows and when members failed.
type memberSet struct {
	mu       sync.Mutex
	byName   map[string]serverInfo
	failedAt map[string]time.Time
}

func newMemberSet() *memberSet {
	return &memberSet{byName: map[string]serverInfo{}, failedAt: map[string]time.Time{}}
}

// update records a member event and reports the server it concerns, if any.
func (ms *memberSet) update(m serf.Member, now time.Time) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	switch m.Status {
	case serf.StatusFailed:
		if _, ok := ms.failedAt[m.Name]; !ok {
			ms.failedAt[m.Name] = now
		}
	default:
		delete(ms.failedAt, m.Name)
	}
	info, ok := parseServer(m)
	if !ok {
		return
	}
	if m.Status == serf.StatusLeft || m.Status == serf.StatusNone {
		delete(ms.byName, m.Name)
		return
	}
	ms.byName[m.Name] = info
}

func (ms *memberSet) remove(name string) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	delete(ms.byName, name)
	delete(ms.failedAt, name)
}

// servers lists the alive servers of datacenter dc.
func (ms *memberSet) servers(dc string) []serverInfo {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	var out []serverInfo
	for _, s := range ms.byName {
		if s.Datacenter == dc && s.Status == serf.StatusAlive {
			out = append(out, s)
		}
	}
	return out
}

// failedSince reports when member name was seen failing, if it is failed.
func (ms *memberSet) failedSince(name string) (time.Time, bool) {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	t, ok := ms.failedAt[name]
	return t, ok
}

// serfEventLoop tracks members, feeds the leader's reconcile queue and
// bootstraps Raft when enough servers are seen.
func (s *Server) serfEventLoop() {
	for {
		select {
		case e := <-s.eventCh:
			if ue, ok := e.(serf.UserEvent); ok {
				deliverUserEvent(s.cfg, ue)
				continue
			}
			me, ok := e.(serf.MemberEvent)
			if !ok {
				continue
			}
			now := time.Now()
			for _, m := range me.Members {
				if me.Type == serf.EventMemberReap {
					m.Status = serf.StatusNone
					s.members.remove(m.Name)
				} else {
					s.members.update(m, now)
				}
				if s.IsLeader() {
					select {
					case s.reconcileCh <- m:
					default: // the periodic full reconcile catches up
					}
				}
			}
			if me.Type == serf.EventMemberJoin && s.cfg.BootstrapExpect > 0 && !s.bootstrapped.Load() {
				s.maybeBootstrap()
			}
			if touchesOlderServer(me.Members) {
				s.advertiseRoleFor(s.serf.Members())
			}
		case <-s.shutdownCh:
			return
		}
	}
}

// maybeBootstrap bootstraps Raft with every server seen once
// BootstrapExpect of them are alive and none of them already has Raft state.
func (s *Server) maybeBootstrap() {
	if s.raft.LastIndex() > 0 {
		s.logger.Info("raft has existing state: not bootstrapping")
		s.bootstrapped.Store(true)
		return
	}
	servers := s.members.servers(s.cfg.Datacenter)
	for _, srv := range servers {
		if srv.Expect != 0 && srv.Expect != s.cfg.BootstrapExpect {
			s.logger.Error("servers disagree on bootstrap-expect: not bootstrapping",
				"server", srv.Name, "expect", srv.Expect, "mine", s.cfg.BootstrapExpect)
			return
		}
		if srv.Bootstrap {
			s.logger.Error("a server runs with -bootstrap: not bootstrapping", "server", srv.Name)
			return
		}
	}
	if len(servers) < s.cfg.BootstrapExpect {
		s.logger.Debug("waiting for servers to bootstrap", "seen", len(servers), "expect", s.cfg.BootstrapExpect)
		return
	}
	// Ask each peer for its Raft state: a server that already has a log
	// belongs to a formed cluster, which will add us as a voter instead.
	conf := raft.Configuration{}
	for _, srv := range servers {
		if srv.Name != s.cfg.NodeName {
			var stats rpcapi.RaftStats
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			err := s.pool.RPC(ctx, srv.Addr, "Status.RaftStats", &struct{}{}, &stats)
			cancel()
			if err != nil {
				s.logger.Warn("cannot query server before bootstrap; will retry", "server", srv.Name, "error", err)
				s.retryBootstrapLater()
				return
			}
			if stats.LastIndex > 0 {
				s.logger.Info("a server already has raft state: not bootstrapping", "server", srv.Name)
				s.bootstrapped.Store(true)
				return
			}
		}
		conf.Servers = append(conf.Servers, raft.Server{
			ID: raft.ServerID(srv.ID), Address: raft.ServerAddress(srv.Addr), Suffrage: raft.Voter})
	}
	if err := s.raft.BootstrapCluster(conf).Error(); err != nil {
		s.logger.Error("bootstrap failed", "error", err)
		return
	}
	s.logger.Info("bootstrapped raft", "servers", len(conf.Servers))
	s.bootstrapped.Store(true)
}

// retryBootstrapLater re-runs maybeBootstrap after a short delay, since a
// peer that did not answer may not send another join event.
func (s *Server) retryBootstrapLater() {
	go func() {
		select {
		case <-time.After(time.Second):
			select {
			case s.eventCh <- serf.MemberEvent{Type: serf.EventMemberJoin}:
			case <-s.shutdownCh:
			}
		case <-s.shutdownCh:
		}
	}()
}

// roleFor is the role tag a server advertises among members: Consul's
// "consul", or Shoal's earlier "server" while a server of a build before
// 25fbb37 (role=server and no shoal_vsn tag) is alive among them. Such a
// server reads only "server": as the leader of a cluster being upgraded
// one server at a time, it would not add an upgraded server back to Raft
// after its graceful leave, and the upgrade would end without a quorum.
// Current servers read both values (MemberRole).
func roleFor(self string, members []serf.Member) string {
	for _, m := range members {
		if m.Name != self && m.Status == serf.StatusAlive && olderServer(m) {
			return roleTagLegacyServer
		}
	}
	return RoleTagServer
}

// olderServer reports whether m is a server of a build before 25fbb37.
func olderServer(m serf.Member) bool {
	return m.Tags["role"] == roleTagLegacyServer && m.Tags["shoal_vsn"] == ""
}

// touchesOlderServer reports whether a member event concerns an older
// server: only such events can change roleFor, so the serf event loop
// lists the members only for them.
func touchesOlderServer(members []serf.Member) bool {
	for _, m := range members {
		if olderServer(m) {
			return true
		}
	}
	return false
}

// advertiseRoleFor updates this server's role tag to roleFor(members).
func (s *Server) advertiseRoleFor(members []serf.Member) {
	local := s.serf.LocalMember()
	want := roleFor(local.Name, members)
	if local.Tags["role"] == want {
		return
	}
	tags := make(map[string]string, len(local.Tags))
	for k, v := range local.Tags {
		tags[k] = v
	}
	tags["role"] = want
	if err := s.serf.SetTags(tags); err != nil {
		s.logger.Warn("could not update the serf role tag", "role", want, "error", err)
		return
	}
	if want == roleTagLegacyServer {
		s.logger.Info("a server of an older build is in the cluster: advertising role=server, which it reads, until none is left")
	} else {
		s.logger.Info("no server of an older build is left: advertising Consul's role=consul")
	}
}
